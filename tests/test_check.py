"""The one gradient checker (core/gradcheck.py) can pass and can fail, with one tolerance law for
reports and for check_grads; the function views (core/sweep.py) agree with calculus. Everything
here is fast (the 10⁶-entry check is the slowest, well under a second)."""

from __future__ import annotations

import time

import numpy as np
import plotly.graph_objects as go
import pytest

from core.errors import AutodiffError
from core.examples import load_examples
from core.gradcheck import CheckError, check_program
from core.sweep import sweep_1d, sweep_2d
from ui.figures import gradient_check_figure, sweep_1d_figure, sweep_2d_figure
from ui.tools import check_rows, entry_rows

gradient_check = check_program

EXAMPLES = {example.title: example.program for example in load_examples()}
GAUSSIAN = next(program for title, program in EXAMPLES.items() if title.startswith("Gaussian"))
SINE = "x = 0.5\ny = sin(x) * x\n"
QUADRATIC = "x = 1.0\ny = 2.0\nz = x*x + 3*y\n"
LARGE = "W = randn(1000, 1000)\nloss = sum(W * W)\n"
UNHURRIED = 1e6  # a time_budget that a loaded machine cannot reach: which inputs go entrywise is then exact


# ---- gradient check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("title", [
    "The seed: z = x·y + x", "A deep chain", "Division and powers", "Broadcasting a bias", "Logistic regression",
    "Softmax cross-entropy", "Two-layer MLP, mean squared error", "Least squares via solve", "Ridge regression",
])
def test_gallery_examples_pass_entrywise(title):
    report = gradient_check(EXAMPLES[title], 0, time_budget=UNHURRIED)
    assert report.error is None and report.passed, check_rows(report)
    assert all(check.method == "entrywise" for check in report.inputs)
    assert {row["result"] for row in check_rows(report)} == {"✓ pass"}


@pytest.mark.parametrize("symmetric", [False, True])
def test_gaussian_nll_passes_under_both_conventions(symmetric):
    report = gradient_check(GAUSSIAN, 0, symmetric=symmetric, time_budget=UNHURRIED)
    assert report.passed, check_rows(report)
    S = next(check for check in report.inputs if check.name == "S")
    G = S.gradient
    if symmetric:
        # Along E_ij + E_ji the derivative is G_ij + G_ji: compared with G + Gᵀ − diag(G).
        assert S.method == "symmetric" and S.evaluations == 3 * 4
        np.testing.assert_allclose(S.engine, G + G.T - np.diag(np.diag(G)))
        np.testing.assert_allclose(S.numeric, S.numeric.T)
    else:
        assert S.method == "entrywise" and S.evaluations == 2 * 9
        np.testing.assert_allclose(S.engine, G)
    X = next(check for check in report.inputs if check.name == "X")
    assert X.method == "entrywise"  # not square: the option leaves it alone


def test_a_wrong_gradient_fails_entrywise_and_names_the_entry():
    right = gradient_check(SINE, 0).inputs[0].gradient
    report = gradient_check(SINE, 0, grads={"x": right * 1.001})  # 0.1 % off
    assert not report.passed and not report.inputs[0].passed
    check = report.inputs[0]
    assert check.max_rel_error == pytest.approx(0.001, rel=1e-3)
    assert check_rows(report)[0]["result"] == "✗ FAIL"
    assert entry_rows(check)[0]["entry"] == "x" and entry_rows(check)[0]["result"] == "✗"


def test_a_wrong_gradient_entry_of_a_matrix_fails_only_there():
    program = EXAMPLES["Broadcasting a bias"]
    X = next(check for check in gradient_check(program, 0).inputs if check.name == "X")
    wrong = X.gradient.copy()
    wrong[2, 1] += 1e-3
    check = next(check for check in gradient_check(program, 0, grads={"X": wrong}).inputs if check.name == "X")
    assert np.argwhere(~check.ok).tolist() == [[2, 1]]
    assert check.labels[np.ravel_multi_index((2, 1), check.shape)] == "X[2, 1]"


def test_a_wrong_symmetric_gradient_fails_the_symmetric_comparison():
    S = next(check for check in gradient_check(GAUSSIAN, 0).inputs if check.name == "S")
    wrong = S.gradient + np.diag([0.0, 1e-3, 0.0])
    report = gradient_check(GAUSSIAN, 0, symmetric=True, grads={"S": wrong})
    assert not report.passed
    assert not next(check for check in report.inputs if check.name == "S").passed


def test_large_input_uses_random_directions_quickly():
    started = time.perf_counter()
    report = gradient_check(LARGE, 0)
    assert time.perf_counter() - started < 3.0
    (W,) = report.inputs
    assert report.passed and W.method == "directions" and W.engine.shape == (8,)
    assert "1,000,000 entries > max_entries=400" in W.reason and "8 random directions" in W.reason
    assert report.evaluations == 16
    assert entry_rows(W)[0]["entry"] == "direction 1"


def test_directions_catch_a_wrong_gradient_of_a_large_input():
    W = gradient_check(LARGE, 0).inputs[0].gradient
    report = gradient_check(LARGE, 0, grads={"W": W * 1.001})
    assert not report.passed and not report.inputs[0].ok.any()


def test_evaluation_budget_switches_to_directions():
    report = gradient_check(EXAMPLES["Two-layer MLP, mean squared error"], 0, max_evaluations=150,
                            time_budget=UNHURRIED)
    assert report.passed and report.evaluations <= 150 + 2 * len(report.inputs)
    checks = {check.name: check for check in report.inputs}
    assert checks["X"].method == "entrywise" and checks["X"].evaluations == 128  # 64 entries; 22 evaluations left
    assert checks["W1"].method == "directions"
    assert "more than the budget left" in checks["W1"].reason


def test_a_slow_program_gets_one_direction_per_input_within_its_time_budget():
    report = gradient_check(EXAMPLES["Ridge regression"], 0, time_budget=1e-9)
    assert report.passed and report.evaluations == 2 * len(report.inputs)
    assert all(check.method == "directions" and check.engine.shape == (1,) for check in report.inputs)


def test_a_step_outside_the_domain_fails_with_a_message():
    (x,) = gradient_check("x = 0.0\ny = sqrt(x)\n", 0).inputs
    assert not x.passed and "leaves the domain" in x.message


def test_a_kink_is_reported_not_hidden():
    """Central differences at relu's kink see the average slope 0.5; the engine's convention is 0."""
    (x,) = gradient_check(EXAMPLES["Kinks: relu and a tied max"], 0).inputs
    assert np.argwhere(~x.ok).tolist() == [[1]]
    assert x.numeric[1] == pytest.approx(0.5) and x.engine[1] == 0.0


def test_program_problems_are_reported_not_raised():
    non_scalar = gradient_check("x = 0.5\ny = [1.0, 2.0] * x\n", 0)
    assert not non_scalar.passed and non_scalar.inputs == ()
    assert "shape (2,)" in non_scalar.error and "sum(...)" in non_scalar.error
    broken = gradient_check("x = 0.5\ny = sin(x) *\n", 0)
    assert broken.error.startswith("line 2:")
    assert "no inputs" in gradient_check("y = sin(2.0)\n", 0).error
    assert gradient_check("x = 0.5\ny = log(x - 1)\n", 0).error.startswith("line 2:")  # NaN at the input value


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"eps": 0.0}, "eps must be a small positive number"),
    ({"directions": 0}, "directions must be a whole number ≥ 1"),
    ({"max_entries": -1}, "max_entries must be a whole number ≥ 0"),
    ({"time_budget": float("nan")}, "time_budget must be a positive number of seconds"),
    ({"grads": {"q": 1.0}}, "there is no input named 'q'"),
    ({"grads": {"x": np.ones(2)}}, "has shape (2,), but x has shape ()"),
])
def test_bad_check_options_raise_analysis_errors(kwargs, message):
    with pytest.raises(CheckError) as err:
        gradient_check(SINE, 0, **kwargs)
    assert message in err.value.message


# ---- function views ----------------------------------------------------------------------------------


def test_sweep_1d_derivative_matches_calculus_and_finite_differences():
    sweep = sweep_1d(SINE, 0, "x", -3.0, 3.0, n=201)
    xs = sweep.xs
    np.testing.assert_allclose(sweep.values, np.sin(xs) * xs, rtol=1e-12)
    np.testing.assert_allclose(sweep.derivatives, np.cos(xs) * xs + np.sin(xs), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sweep.derivatives, np.gradient(sweep.values, xs, edge_order=2), atol=2e-3)
    np.testing.assert_allclose(sweep.fd_derivatives, np.gradient(sweep.values, xs, edge_order=2))
    assert sweep.x0 == 0.5 and sweep.value0 == pytest.approx(np.sin(0.5) * 0.5)
    assert sweep.slope0 == pytest.approx(np.cos(0.5) * 0.5 + np.sin(0.5), rel=1e-12)
    assert sweep.fd_slope0 == pytest.approx(sweep.slope0, rel=1e-7)
    np.testing.assert_allclose(sweep.tangent, sweep.value0 + sweep.slope0 * (xs - 0.5))
    assert sweep.undefined_points == 0


def test_sweep_1d_of_201_points_takes_under_a_second():
    started = time.perf_counter()
    sweep_1d(EXAMPLES["A deep chain"], 0, "x", -1.0, 1.0, n=201)
    assert time.perf_counter() - started < 1.0


def test_sweep_1d_leaves_gaps_where_the_function_is_undefined():
    sweep = sweep_1d("x = 0.5\ny = log(x)\n", 0, "x", -1.0, 1.0, n=201)
    undefined = sweep.xs <= 0
    assert np.isnan(sweep.values[sweep.xs < 0]).all() and np.isfinite(sweep.values[~undefined]).all()
    assert np.isnan(sweep.derivatives[sweep.xs < 0]).all()  # no slope of an undefined function
    assert sweep.undefined_points == np.count_nonzero(undefined)
    with pytest.raises(CheckError, match="undefined .* everywhere"):
        sweep_1d("x = 0.5\ny = log(x)\n", 0, "x", -3.0, -1.0)


def test_sweep_2d_values_and_gradient_match_calculus():
    sweep = sweep_2d(QUADRATIC, 0, "x", "y", (-2.0, 2.0), (0.0, 4.0), n=41)
    X, Y = np.meshgrid(sweep.xs, sweep.ys)
    assert sweep.values.shape == (41, 41)
    np.testing.assert_allclose(sweep.values, X * X + 3 * Y, rtol=1e-12)
    assert (sweep.x0, sweep.y0, sweep.value0) == (1.0, 2.0, 7.0)
    assert sweep.gradient0 == pytest.approx((2.0, 3.0), rel=1e-12)
    assert sweep.fd_gradient0 == pytest.approx((2.0, 3.0), rel=1e-7)


@pytest.mark.parametrize(("call", "message"), [
    (lambda: sweep_1d(SINE, 0, "x", 3.0, -3.0), "the range's minimum must be less than its maximum"),
    (lambda: sweep_1d(SINE, 0, "x", 1.0, 1.0), "the range's minimum must be less than its maximum"),
    (lambda: sweep_1d("W = randn(3, 2)\ny = sum(W)\n", 0, "W", 0, 1), "choose a scalar input; W has shape (3, 2)"),
    (lambda: sweep_1d(SINE, 0, "q", 0, 1), "there is no input named 'q'; the inputs are x"),
    (lambda: sweep_1d(SINE, 0, "x", 0, float("inf")), "must have finite bounds"),
    (lambda: sweep_1d(SINE, 0, "x", float("nan"), 1), "must have finite bounds"),
    (lambda: sweep_1d(SINE, 0, "x", 0, 1, n=2), "the number of points must be a whole number from 3 to 2001"),
    (lambda: sweep_1d(SINE, 0, "x", 0, 1, n=5000), "from 3 to 2001"),
    (lambda: sweep_1d("x = 0.5\ny = [1.0, 2.0] * x\n", 0, "x", 0, 1), "the output y has shape (2,)"),
    (lambda: sweep_2d(QUADRATIC, 0, "x", "x", (0, 1), (0, 1)), "choose two different inputs; both axes are x"),
    (lambda: sweep_2d(QUADRATIC, 0, "x", "y", (0, 1), (2, 1)), "the range's minimum must be less than its maximum"),
    (lambda: sweep_2d(QUADRATIC, 0, "x", "y", (0, 1), 5), "the range of y must be two numbers"),
    (lambda: sweep_2d(QUADRATIC, 0, "x", "y", (0, 1), (0, 1), n=500), "from 3 to 101"),
    (lambda: sweep_2d("x = 1.0\nb = [1.0, 2.0]\nz = sum(x * b)\n", 0, "x", "b", (0, 1), (0, 1)),
     "choose a scalar input; b has shape (2,)"),
])
def test_bad_sweep_requests_raise_analysis_errors(call, message):
    with pytest.raises(CheckError) as err:
        call()
    assert message in err.value.message


def test_a_program_that_does_not_build_raises_the_languages_error():
    with pytest.raises(AutodiffError, match="syntax"):
        sweep_1d("x = 0.5\ny = sin(x) *\n", 0, "x", 0, 1)


# ---- figures -----------------------------------------------------------------------------------------


def test_gradient_check_figure_marks_pass_and_fail_by_shape_and_text():
    report = gradient_check(EXAMPLES["Kinks: relu and a tied max"], 0)
    fig = gradient_check_figure(report)
    passing, failing = fig.data
    assert passing.marker.symbol == "circle" and failing.marker.symbol == "x"
    assert len(passing.y) == 3 and len(failing.y) == 1 and failing.y[0] > 1 > max(passing.y)
    assert fig.layout.yaxis.type == "log"
    assert any(shape.y0 == 1.0 for shape in fig.layout.shapes)  # the tolerance line
    assert "✗ FAIL" in [a.text for a in fig.layout.annotations]
    empty = gradient_check_figure(gradient_check("y = sin(2.0)\n", 0))
    assert "no inputs" in empty.layout.title.text


def test_sweep_1d_figure_has_curve_tangent_derivatives_and_current_point():
    sweep = sweep_1d(SINE, 0, "x", -3.0, 3.0)
    fig = sweep_1d_figure(sweep)
    assert all(isinstance(trace, go.Scatter) for trace in fig.data)
    names = [trace.name for trace in fig.data]
    tangent = fig.data[names.index("tangent at x = 0.5")]
    np.testing.assert_allclose(tangent.y, sweep.tangent)
    assert {"y", "engine derivative", "finite differences of the curve", "current value"} <= set(names)
    assert f"{sweep.fd_slope0:.8g}" in fig.layout.title.text and f"{sweep.slope0:.8g}" in fig.layout.title.text


def test_sweep_2d_figure_has_contour_point_and_gradient_arrow():
    sweep = sweep_2d(QUADRATIC, 0, "x", "y", (-2.0, 2.0), (0.0, 4.0))
    fig = sweep_2d_figure(sweep)
    assert isinstance(fig.data[0], go.Contour)
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert len(arrows) == 1
    arrow = arrows[0]
    assert (arrow.ax, arrow.ay) == (1.0, 2.0)
    direction = np.array([arrow.x - arrow.ax, arrow.y - arrow.ay])
    np.testing.assert_allclose(direction / np.linalg.norm(direction), np.array([2.0, 3.0]) / np.sqrt(13))
    flat = sweep_2d_figure(sweep_2d("x = 0.0\ny = 0.0\nz = x*x + y*y\n", 0, "x", "y", (-1, 1), (-1, 1)))
    assert not any(a.showarrow for a in flat.layout.annotations)  # ∇ = 0: no arrow, a note instead


def test_the_absolute_tolerance_grows_with_the_output():
    """Rounding in central differences grows with |f| (about 1e-16·|f|/ε): a correct gradient of a
    large output must pass. With a fixed absolute tolerance (the scaling dropped) it would fail."""
    report = gradient_check("x = 0.001\ny = 100000000.0 + x * x\n", 0)
    (x,) = report.inputs
    assert report.passed and x.abs_error.max() > 1e-7  # the rounding error itself is far above atol alone
    assert report.settings.atol_used == pytest.approx(1e-7 * 1e8)


def test_reports_and_check_grads_share_one_tolerance_law():
    import core as ad
    from core.gradcheck import allowed

    assert allowed(2.0, 2.0 + 1e-3, output_value=1e6) == pytest.approx(1e-7 * 1e6 + 1e-5 * (2.0 + 1e-3))
    ad.check_grads(lambda x: 1e8 + x * x, 0.001)  # the same large output passes the raising form too
    with pytest.raises(ad.GradientCheckError, match="allowed"):
        ad.check_grads(lambda x: ad.multiply(x, x) * 1.0 + 0.001 * ad.sin(ad.exp(x) * 0), 0.5,
                       rtol=0.0, atol=0.0)

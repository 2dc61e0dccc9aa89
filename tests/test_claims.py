"""'My gradient' and predict-then-reveal (core/claims.py), and the language's evaluate under them."""

from __future__ import annotations

import dataclasses
import pickle
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import gradcheck
from core.claims import (
    ERROR,
    MAX_LISTED,
    RIGHT,
    SHAPE,
    WRONG,
    Score,
    check_claims,
    check_prediction,
    prediction_prompts,
)
from core.errors import AutodiffError, ExpressionError
from core.examples import load_examples
from core.language import ANSWER_LIMITS, evaluate, run

EXAMPLES = load_examples()
FIND_THE_BUG = {e.title: e for e in EXAMPLES if e.claims}
FIRST_WRONG = {
    "Find the bug: softmax cross-entropy over a batch": "p",
    "Find the bug: a hidden layer's W̄": "Z1",
    "Find the bug: a Gaussian NLL's Σ̄": "S",
}
MLP = FIND_THE_BUG["Find the bug: a hidden layer's W̄"]
MLP_TRACE = run(MLP.program)
SEED_TRACE = run("x = 2.0\ny = 3.0\nz = x * y + x\n")


@pytest.fixture
def mlp():
    return MLP_TRACE


@pytest.fixture
def seed():
    return SEED_TRACE


def col(text: str, line: int, fragment: str) -> int:
    """The 1-based column of ``fragment`` on ``line`` of ``text``."""
    return text.splitlines()[line - 1].index(fragment) + 1


# ---- the gallery's "find the bug" examples ------------------------------------------------------------


def test_three_find_the_bug_examples_each_with_a_solution():
    assert set(FIND_THE_BUG) == set(FIRST_WRONG)
    assert all(e.solution and e.note for e in FIND_THE_BUG.values())
    assert all(e.claims is None and e.solution is None for e in EXAMPLES if e.title not in FIND_THE_BUG)


@pytest.mark.parametrize("title", sorted(FIRST_WRONG))
def test_the_typed_in_derivation_first_goes_wrong_at_the_right_node_and_the_solution_is_all_green(title):
    example = FIND_THE_BUG[title]
    trace = run(example.program)
    wrong, right = check_claims(trace, example.claims), check_claims(trace, example.solution)
    assert wrong.error is None and not wrong.problems
    assert wrong.first_wrong.title == FIRST_WRONG[title]
    assert wrong.verdict.startswith(f"Your derivation first goes wrong at {FIRST_WRONG[title]}: ")
    assert wrong.marks[wrong.first_wrong.node] in (WRONG, SHAPE)
    assert right.all_right and right.first_wrong is None and right.verdict.startswith("All ")
    assert right.summary == f"{len(right.claims)} of {len(right.claims)} right"
    assert [c.title for c in right.claims] == [c.title for c in wrong.claims]  # the same nodes, fixed


def test_the_hidden_layer_bug_orders_claims_by_the_backward_pass_and_finds_the_transposed_product(mlp):
    report = check_claims(mlp, MLP.claims)
    assert [(c.title, c.status) for c in report.claims] == [
        ("P", RIGHT), ("W2", RIGHT), ("H1", RIGHT), ("Z1", WRONG), ("b1", WRONG), ("W1", SHAPE)]
    w1 = report.claims[-1]
    assert w1.message == ("you wrote an 8×4 gradient for W1, a 4×8 node (transposed? a gradient has the shape of "
                          "its node)")
    assert w1.comparison.difference is None and w1.comparison.yours.shape == (8, 4)
    assert report.summary == "3 of 6 right"
    assert "2 later claims are wrong too" in report.verdict
    # Written in another order, the claims are still reported as the pass reaches their nodes.
    lines = MLP.claims.splitlines()
    helpers = [line for line in lines if not line.startswith("grad(")]
    reversed_claims = "\n".join(helpers + [line for line in lines if line.startswith("grad(")][::-1])
    again = check_claims(mlp, reversed_claims)
    assert [c.title for c in again.claims] == [c.title for c in report.claims]
    assert [c.final_at for c in again.claims] == sorted(c.final_at for c in again.claims)


# ---- right, wrong, shape, error --------------------------------------------------------------------------


def test_right_wrong_shape_and_error_claims_each_checked(seed):
    text = ("grad(z, x) = y + 1\n"
            "grad(z, y) = x + 1\n"
            "grad(z, x) = [4.0, 4.0]\n"
            "grad(z, y) = log(-x)\n")
    report = check_claims(seed, text)
    by_line = {c.line: c for c in report.claims}
    assert by_line[1].status == RIGHT and by_line[1].comparison.max_abs_difference == 0
    assert by_line[2].status == WRONG and by_line[2].message == "you wrote 3; the engine's gradient is 2"
    assert by_line[3].status == SHAPE and by_line[3].message == "you wrote a length-2 gradient for x, a scalar node"
    error = by_line[4].error
    assert by_line[4].status == ERROR and "log" in error.message and "NaN" in error.message
    assert (error.line, error.col) == (4, col(text, 4, "log(")) and by_line[4].text == "grad(z, y) = log(-x)"
    assert report.summary == "1 of 4 right, 1 could not be checked"
    assert report.marks == {seed.inputs["x"]: SHAPE, seed.inputs["y"]: WRONG}
    # Both are complete after backward step 2, which sends to x first: x's claims come first.
    assert [c.line for c in report.claims] == [1, 3, 2, 4] and report.first_wrong.line == 3


def test_a_claim_the_whitelist_refuses_leaves_the_others_checked(seed):
    text = "grad(z, x) = x.sum()\ngrad(z, 1) = 3\ngrad(z, y) = x\ndef f(a):\n    return open(a)\nd = f(x)\n"
    report = check_claims(seed, text)
    assert report.error is None and [c.status for c in report.claims] == [ERROR, RIGHT, ERROR]
    method, right, number = report.claims
    assert (method.title, method.error.line, method.error.col) == ("x", 1, col(text, 1, "x.sum"))
    assert "methods" in method.message and right.title == "y"
    assert (number.node, number.error.col) == (None, 9) and "names nodes written out" in number.message
    assert [(p.line, p.col) for p in report.problems] == [(5, 12), (6, 5)]  # open, then the call of f
    assert "'open'" in report.problems[0].message and "f has no value: line 4" in report.problems[1].message


def test_a_wrong_array_gives_its_difference_and_the_entries_that_differ():
    trace = run("v = [1.0, 2.0, 3.0, 4.0]\nloss = sum(v ** 2)\n")
    report = check_claims(trace, "grad(loss, v) = 2 * v + [0.0, 0.5, 0.0, -2.0]")
    claim = report.claims[0]
    c = claim.comparison
    assert claim.status == WRONG and c.differing_count == 2
    np.testing.assert_array_equal(c.difference, [0.0, 0.5, 0.0, -2.0])  # yours − engine
    assert [e.index for e in c.differing] == [(3,), (1,)]  # the worst first
    assert c.differing[0].yours == 6.0 and c.differing[0].engine == 8.0 and c.max_abs_difference == 2.0
    assert claim.message == ("2 of 4 entries differ from the engine's gradient; the largest difference is 2, at [3] "
                             "(yours 6, the engine's 8)")
    many = check_claims(run("W = randn(10, 10)\nloss = sum(W ** 2)\n"), "grad(loss, W) = W").claims[0].comparison
    assert many.differing_count == 100 and len(many.differing) == MAX_LISTED
    sizes = [abs(e.difference) for e in many.differing]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] == many.max_abs_difference


def test_reports_and_results_cross_a_process_boundary(seed):
    """The page runs checks in job workers: what they return must pickle, located errors included."""
    report = pickle.loads(pickle.dumps(check_claims(seed, "grad(z, x) = y + 1\ngrad(z, y) = log(-x)")))
    assert [c.status for c in report.claims] == [RIGHT, ERROR] and report.claims[1].error.col == 14
    result = pickle.loads(pickle.dumps(check_prediction(seed, seed.t_end, 0, "gbar * y")))
    assert result.status == RIGHT and result.comparison.tolerance == report.tolerance


def test_no_claims_and_a_line_that_is_not_a_claim(seed):
    empty = check_claims(seed, "  \n# nothing yet\n")
    assert empty.claims == () and empty.error is None and empty.verdict.startswith("No claims yet")
    report = check_claims(seed, "y + 1\ngrad(z, x) = y + 1\n")
    assert report.claims[0].status == RIGHT and not report.all_right
    assert report.problems[0].line == 1 and "not a claim" in report.problems[0].message


# ---- names --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, where, message", [
    ("grad(loss, H3) = 1", (1, 12), "the program has no node named 'H3' — did you mean 'H1'?"),
    ("grad(los, H1) = 1", (1, 6), "the gradients here are of the program's output, loss: write grad(loss, ...)"),
    ("grad(loss, H1, W1) = 1", (1, 1), "a claim names two nodes"),
    ("d = grad(loss, Z9)\ngrad(loss, H1) = d", (2, 18), "d has no value: line 1, which binds it, failed"),
])
def test_claims_that_name_unknown_nodes_say_so_where_the_name_is(mlp, text, where, message):
    report = check_claims(mlp, text)
    claim = report.claims[0]
    assert claim.status == ERROR and message in claim.error.message
    assert (claim.error.line, claim.error.col) == where
    if "Z9" in text:  # the helper's own error, where the unknown name is
        assert (report.problems[0].line, report.problems[0].col) == (1, 16) and "'Z9'" in report.problems[0].message


def test_names_the_program_bound_that_are_no_node_get_a_reason():
    trace = run("x = 1.0\njunk = x * 2\nT = 3\nh = x\nfor t in range(T):\n    h = h * x\nloss = h\n")
    for name in ("junk", "T", "t"):
        claim = check_claims(trace, f"grad(loss, {name}) = 1").claims[0]
        assert claim.status == ERROR and "names no node of the graph of loss" in claim.message, name


def test_a_name_rebound_in_a_loop_means_its_last_binding():
    rnn = next(e for e in EXAMPLES if e.title.startswith("An RNN"))
    trace = run(rnn.program)
    claim = check_claims(trace, "grad(loss, h) = 2 * h").claims[0]
    assert claim.status == RIGHT and claim.title == "h (t=3)"
    assert claim.node == max(n.id for n in trace.nodes if n.name == "h")


def test_the_output_may_be_another_name_for_a_node():
    newton = run(next(e for e in EXAMPLES if e.title.startswith("Newton")).program)  # ends with root = x
    report = check_claims(newton, "grad(root, root) = 1\ngrad(root, a) = 1 / (2 * root)")
    assert [c.status for c in report.claims] == [RIGHT, RIGHT]


def test_a_claim_may_use_gradients_nearer_the_output_only(mlp):
    assert check_claims(mlp, "grad(loss, Z1) = grad(loss, H1) * (1 - H1 ** 2)").all_right
    text = ("grad(loss, W1) = grad(loss, W1)\n"
            "d = 2 * grad(loss, W1)\n"
            "grad(loss, W1) = d - grad(loss, W1)\n"
            "grad(loss, H1) = grad(loss, Z1) / (1 - H1 ** 2)\n")
    claims = {c.line: c for c in check_claims(mlp, text).claims}
    assert all(c.status == ERROR for c in claims.values())
    assert "the very gradient it claims" in claims[1].message
    assert "(through d)" in claims[3].message and claims[3].error.line == 2  # the caret is where grad(...) is
    assert "final only after H1's" in claims[4].message
    assert claims[4].error.col == col(text, 4, "grad(loss, Z1)")


# ---- the tolerance -------------------------------------------------------------------------------------------


def law(engine: float, yours: float, output: float) -> float:
    """The checker's law, written out here on purpose: the test fails if claims use another."""
    return 1e-7 * max(1.0, abs(output)) + 1e-5 * max(abs(engine), abs(yours))


def test_claims_and_predictions_use_the_checkers_tolerance_law():
    trace = run("x = [3.0, 0.0]\nloss = 10000 * x[0] + 0.5 * sum(x ** 2)\n")
    output, engine = float(trace.nodes[trace.output].value), trace.grads["x"]
    np.testing.assert_array_equal(engine, [10003.0, 0.0])
    report = check_claims(trace, "grad(loss, x) = [10003.0, 0.0]")
    assert report.tolerance.rtol == gradcheck.RTOL and report.tolerance.atol == gradcheck.ATOL
    assert report.tolerance.atol_used == gradcheck.ATOL * abs(output)
    # Just inside and just outside the law, for an entry where |f| dominates and one where |value| does.
    for entry, engine_value in ((0, 10003.0), (1, 0.0)):
        bound = law(engine_value, engine_value, output)
        for factor, status in ((0.9, RIGHT), (1.1, WRONG)):
            yours = [float(v) for v in engine]
            yours[entry] = engine_value + factor * bound
            claim = check_claims(trace, f"grad(loss, x) = [{yours[0]!r}, {yours[1]!r}]").claims[0]
            assert claim.status == status, (entry, factor)
            np.testing.assert_array_equal(claim.comparison.allowed,
                                          gradcheck.allowed(engine, np.array(yours), output))
    t = trace.t_end
    sent = trace.backward_steps[-1].contributions[0]
    bound = law(float(sent.value[1]), float(sent.value[1]), output)
    for factor, status in ((0.9, RIGHT), (1.1, WRONG)):
        answer = f"[{float(sent.value[0])!r}, {float(sent.value[1]) + factor * bound!r}]"
        assert check_prediction(trace, t, sent.position, answer).status == status


# ---- predictions -----------------------------------------------------------------------------------------------


def test_predictions_right_wrong_shape_expression_and_error(seed):
    t = seed.t_forward_end + 2  # backward step 2: x * y sends ḡ·y = 3 to x and ḡ·x = 2 to y
    step = seed.backward_steps[1]
    assert seed.title(step.node) == "× #2" and [c.position for c in step.contributions] == [0, 1]
    assert check_prediction(seed, t, 0, "3").status == RIGHT
    assert check_prediction(seed, t, 0, "gbar * y").status == RIGHT  # the rule itself
    assert check_prediction(seed, t, 1, "g = gbar\ng * x").status == RIGHT  # helper lines, then the answer
    wrong = check_prediction(seed, t, 1, "3")
    assert wrong.status == WRONG and wrong.message == "you wrote 3; the engine's contribution is 2"
    assert float(wrong.revealed) == 2.0 and wrong.parent_title == "y"
    shape = check_prediction(seed, t, 0, "[3.0, 3.0]")
    assert shape.status == SHAPE and shape.message.startswith("you wrote a length-2 contribution for x, a scalar node")
    syntax = check_prediction(seed, t, 0, "3 +")
    assert syntax.status == ERROR and syntax.error.line == 1
    early = check_prediction(seed, t, 0, "grad(z, x)")
    assert early.status == ERROR and (early.error.line, early.error.col) == (1, 9)
    assert "x's gradient is not known yet" in early.message and early.message.endswith("the gradients of z")
    assert check_prediction(seed, t, 0, "grad(z, z) * y").status == RIGHT  # the output's gradient is known
    assert check_prediction(seed, t, 0, "y = 3").status == ERROR  # y is the program's
    assert "ends with an expression" in check_prediction(seed, t, 0, "a = 3").message
    assert check_prediction(seed, t, 0, "").status == ERROR


def test_an_array_answer_typed_as_a_list():
    trace = run("v = [1.0, 2.0]\nw = [3.0, -1.0]\ns = sum(v * w)\n")
    t = trace.t_end  # v * w sends ḡ ⊙ w to v, ḡ ⊙ v to w
    assert check_prediction(trace, t, 0, "[3, -1]").status == RIGHT
    assert check_prediction(trace, t, 1, "gbar * v").status == RIGHT
    marked = check_prediction(trace, t, 1, "[1.0, 2.5]")
    assert marked.status == WRONG and marked.comparison.differing[0].index == (1,)


def test_prompts_list_each_edge_and_what_an_answer_may_use(seed):
    prompts = prediction_prompts(seed, seed.t_forward_end + 2)
    assert [(p.position, p.parent_title) for p in prompts] == [(0, "x"), (1, "y")]
    assert prompts[0].question == "What does x receive from × #2?"
    assert prompts[0].may_use == ("z",) and prompts[0].upstream == "gbar" and prompts[0].shape == ()
    last = prediction_prompts(MLP_TRACE, MLP_TRACE.t_end)  # X @ W1 sends to X and W1
    assert {"loss", "P", "H1", "Z1"} <= set(last[0].may_use) and "W1" not in last[0].may_use


def test_questions_the_trace_does_not_have_raise(seed):
    for t in (0, seed.t_forward_end, seed.t_end + 1, 2.5, True):
        with pytest.raises(AutodiffError):
            check_prediction(seed, t, 0, "1")
    with pytest.raises(AutodiffError):
        check_prediction(seed, seed.t_end, 5, "1")


def test_the_score_counts_marked_answers(seed):
    t = seed.t_forward_end + 2
    score = Score()
    for answer in ("3", "2", "3 +", "gbar * y"):
        score = score.add(check_prediction(seed, t, 0, answer))
    assert (score.right, score.answered, str(score)) == (2, 3, "2 of 3 right")


# ---- limits, hostile text, and the language under it ------------------------------------------------------------


HOSTILE = [
    ("import os", "imports are not allowed"),
    ("__import__('os')", "strings"),
    ("d = H1.__class__", "'_'"),
    ("grad(loss, H1) = eval(H1)", "'eval' is not a function here"),
    ("grad(loss, H1) = open(H1)", "'open' is not a function here"),
    ("grad(loss, H1) = H1.sum()", "methods"),
    ("for i in range(100000):\n    d = H1", "loop iterations in all"),
    ("for i in range(1000):\n    for j in range(1000):\n        d = H1", "loop iterations in all"),
    ("def f(a):\n    return f(a)\ngrad(loss, H1) = f(H1)", "recursion is not allowed"),
    ("d = randn(1000, 1000)\nfor i in range(5):\n    e = solve(d, d)", "1.0e+09 in all"),
    ("d = ones(10**9)", "1,000,000 per array"),
    ("x" * 10_001, "the limit is 10,000"),
    ("d = 1.0\n" * 201, "more than 200 lines"),
    ("d = " + "(" * 60 + "1" + ")" * 60, "nested more than 50"),
    ("H1 = 3.0", "already names a value of the program"),
    ("grad = 3.0", "the name of a function"),
    ("for i in range(2):\n    grad(loss, H1) = 1.0", "at the top level"),
    ("grad(loss, H1[0]) = 1.0", "a claim names nodes written out, like grad(loss, h)"),
    ("grad(loss, f(H1)) = 1.0", "a claim is written grad(name, name) = expression"),
    ("d = 1.0; grad(loss, H1) = d", "a claim is written grad(name, name) = expression"),
    ("grad(loss, H1) += 1.0", "a claim is written grad(name, name) = expression"),
    ("grad(loss, H1) = grad", "is a function; call it"),
    ("grad(loss, H1) = grad(loss, H1 + 1)", "takes names written out"),
    ("grad(loss, H1) = 1.0\x00", "null character"),
]


@pytest.mark.parametrize("text, fragment", HOSTILE, ids=[f"{i:02d}" for i in range(len(HOSTILE))])
def test_hostile_claims_are_refused_located_and_fast(mlp, text, fragment):
    start = time.perf_counter()
    report = check_claims(mlp, text)
    elapsed = time.perf_counter() - start
    errors = ([report.error] if report.error else []) + list(report.problems) + [c.error for c in report.claims]
    error = next(e for e in errors if e is not None)
    assert fragment in error.message
    assert isinstance(error.line, int) and error.line >= 1 and isinstance(error.col, int) and error.col >= 1
    assert elapsed < 1.0, f"{elapsed:.2f} s"


def test_a_non_text_is_refused(seed):
    for thing in (None, 3, b"grad(z, x) = 1"):
        report = check_claims(seed, thing)
        assert report.error is not None and report.claims == ()
        assert check_prediction(seed, seed.t_end, 0, thing).status == ERROR


def test_traces_without_a_backward_pass_or_an_output_name_check_nothing():
    assert "no backward pass" in check_claims(run("x = [1.0, 2.0]\ny = x * 2\n"), "grad(y, x) = 2").verdict
    assert "has no name" in check_claims(run("x = 1.0\nsum(x * 2)\n"), "grad(y, x) = 2").verdict
    assert "computes nothing" in check_claims(run("x = 1.0\n"), "grad(x, x) = 1").verdict


def test_evaluate_keeps_columns_and_goes_on_after_a_failing_statement():
    text = "Σi = inv(Σ)\ngrad(f, Σ) = Σi @ Σi @ ones(2)\nd = Σ @ ones(3)\ne = 2 * d\nΣi + 1"
    statements = evaluate(text, {"Σ": np.eye(2) * 2}, name_functions={"grad": lambda names, error: 1.0},
                          claim_heads=("grad",))
    kinds = [s.kind for s in statements]
    assert kinds == ["binding", "claim", "binding", "binding", "expression"]
    claim = statements[1]
    assert [(a.text, a.col) for a in claim.arguments] == [("f", 6), ("Σ", 9)]
    np.testing.assert_allclose(claim.value, [0.25, 0.25])
    failed = statements[2].error
    assert (failed.line, failed.col) == (3, 5) and "don't fit @" in failed.message  # a column in characters
    assert "d has no value: line 3" in statements[3].error.message
    np.testing.assert_allclose(statements[4].value, np.eye(2) / 2 + 1)
    assert statements[1].reads == {"Σi", "ones"}
    with pytest.raises(AutodiffError):
        evaluate("1", {"sum": 1.0})  # a value may not take a function's name
    with pytest.raises(AutodiffError):
        evaluate("1", {}, seed=-1)


def test_evaluate_charges_the_budget_before_the_work():
    text = "d = randn(600, 600)\ne = d @ d\n"
    tight = dataclasses.replace(ANSWER_LIMITS, max_operations=1e7)
    statements = evaluate(text, {}, limits=tight)
    assert statements[0].error is None and "operations" in statements[1].error.message
    assert evaluate(text, {})[1].error is None


CLAIMISH = "grad(loss,H1W2)=+-*/@[]:.#\n  \tfor i in range(2)ifdef123 eT\x00'é;"
FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.text(alphabet=CLAIMISH, max_size=80))
def test_fuzz_only_located_errors_leave(text):
    report = check_claims(MLP_TRACE, text)
    for error in ([report.error] if report.error else []) + list(report.problems) + [c.error for c in report.claims]:
        if error is not None:
            assert isinstance(error, ExpressionError) and error.line >= 1 and error.col >= 1

"""The engine's promises: the seed API, fan-out, linear algebra, errors, deep graphs, threads."""

from __future__ import annotations

import sys
import threading
import warnings

import numpy as np
import pytest

import core as ad
from core.backward import Recording

# ---- the seed project's API ------------------------------------------------------------------------


def test_seed_quick_start():
    """mini-autodiff's README: z = x*y + x at (2, 3) has gradients (y + 1, x) = (4, 2)."""

    def my_func(x, y):
        return x * y + x

    grads = ad.grad(my_func)(2.0, 3.0)
    assert grads[0] == 4.0
    assert grads[1] == 2.0
    assert f"Gradient dx: {grads[0]}" == "Gradient dx: 4.0"


def test_argnums_value_and_grad():
    f = lambda x, y: x * y + x  # noqa: E731
    assert ad.grad(f, argnums=1)(2.0, 3.0) == 2.0
    assert ad.grad(f, argnums=(1, 0))(2.0, 3.0) == (2.0, 4.0)
    value, grads = ad.value_and_grad(f)(2.0, 3.0)
    assert value == 8.0 and grads == (4.0, 2.0)
    assert ad.grad(ad.sin)(0.0) == 1.0  # one argument: the gradient itself, not a 1-tuple
    with pytest.raises(ad.AutodiffError, match="argnums"):
        ad.grad(f, argnums=2)(2.0, 3.0)


def test_gradients_have_their_argument_shape_and_type():
    W = np.ones((2, 3))
    gW, gx = ad.grad(lambda W, x: ad.sum(W @ x))(W, [1, 2, 3])
    assert isinstance(gW, np.ndarray) and gW.shape == (2, 3) and gW.dtype == np.float64
    np.testing.assert_array_equal(gW, [[1, 2, 3], [1, 2, 3]])
    np.testing.assert_array_equal(gx, [2, 2, 2])
    assert isinstance(ad.grad(ad.exp)(0.0), np.floating)


def test_var_api():
    x = ad.Var(2, name="x")
    assert isinstance(x.value, np.ndarray) and x.value.shape == () and x.value.dtype == np.float64
    y = 2 * x - 1 / x + x ** 2 + 2 ** x - (-x)
    assert y.op.name == "subtract" and len(y.parents) == 2
    assert float(y.value) == pytest.approx(4 - 0.5 + 4 + 4 + 2)
    M = ad.Var([[1, 2], [3, 4]])
    assert M.T.shape == (2, 2) and M[0].shape == (2,) and M[:, 1].shape == (2,) and M[0:1].shape == (1, 2)
    assert (np.ones(2) @ M).shape == (2,) and (np.ones(2) * M).op.name == "multiply"
    assert x.parents == () and x.op is None


def test_inputs_are_converted_and_complex_is_refused():
    assert ad.Var([1, 2]).value.dtype == np.float64
    assert ad.Var(np.array([1, 2], dtype=np.int32)).value.dtype == np.float64
    assert ad.Var(True).value == 1.0
    with pytest.raises(ad.AutodiffError, match="complex"):
        ad.Var(1 + 2j)
    with pytest.raises(ad.AutodiffError, match="complex"):
        ad.grad(ad.sin)(np.array([1j]))
    with pytest.raises(ad.AutodiffError):
        ad.Var("3")
    with pytest.raises(ad.AutodiffError):
        ad.Var([[1, 2], [3]])


# ---- fan-out ------------------------------------------------------------------------------------------


def test_fan_out_adds_contributions():
    a = ad.Var(3.0)
    z = a + a
    assert z.parents == (a, a)
    assert ad.grad(lambda a: a + a)(3.0) == 2.0
    assert ad.grad(lambda x: x * x)(3.0) == 6.0
    assert ad.grad(lambda x: x * x * x)(2.0) == 12.0


def test_recorded_backward_shows_the_seed_figure():
    """x receives 3 through * and 1 through +, accumulating to 4 (the seed README's Figure 1)."""
    x, y = ad.Var(2.0, "x"), ad.Var(3.0, "y")
    z = x * y + x
    record = Recording()
    grads = ad.backward(z, [x, y], record=record)
    to_x = [(record.nodes[k].op.name, record.values[i]) for k in range(len(record.nodes))
            for i in record.contributions(k) if record.parents[i] is x]
    assert sorted(to_x) == [("add", 1.0), ("multiply", 3.0)]
    assert grads[x] == 4.0 and grads[y] == 2.0


def test_graph_can_be_replayed():
    """Gradients live outside the nodes: the same graph gives the same answer twice."""
    x = ad.Var(np.arange(3.0))
    out = ad.sum(ad.sin(x) * x)
    first = ad.backward(out, [x])[x]
    second = ad.backward(out, [x])[x]
    np.testing.assert_array_equal(first, second)
    f = ad.grad(lambda v: ad.sum(v * v))
    np.testing.assert_array_equal(f(np.ones(3)), f(np.ones(3)))


def test_gradient_arrays_never_alias_each_other():
    gx, gy = ad.grad(lambda x, y: ad.sum(x + y))(np.ones(3), np.ones(3))
    gx *= 10
    np.testing.assert_array_equal(gy, np.ones(3))


def test_unused_input_and_constant_function_give_zero():
    assert ad.grad(lambda x, y: x * 2.0)(1.0, 5.0) == (2.0, 0.0)
    np.testing.assert_array_equal(ad.grad(lambda x: 3.0)(np.ones(2)), np.zeros(2))


# ---- higher order ----------------------------------------------------------------------------------


def test_nested_grad_of_sin_is_minus_sin():
    for x in np.linspace(-3, 3, 7):
        assert ad.grad(ad.grad(ad.sin))(x) == pytest.approx(-np.sin(x), abs=1e-12)
    assert ad.grad(ad.grad(ad.grad(ad.sin)))(0.3) == pytest.approx(-np.cos(0.3))


def test_nested_grad_does_not_confuse_variables():
    """d/dx [ d/dy (x*y) at y=x ] = d/dx x = 1, not 2 (the classic 'perturbation confusion')."""
    inner = lambda x: ad.grad(lambda y: x * y)(x)  # noqa: E731
    assert ad.grad(inner)(3.0) == 1.0


def test_hessian_of_quadratic_form_is_its_symmetric_matrix():
    rng = np.random.default_rng(0)
    S = rng.standard_normal((4, 4))
    S = S + S.T
    H = ad.hessian(lambda x: 0.5 * (x @ (S @ x)))(rng.standard_normal(4))
    np.testing.assert_allclose(H, S, atol=1e-12)


def test_jacobian():
    x = np.array([0.1, 0.2, 0.3])
    np.testing.assert_allclose(ad.jacobian(ad.tanh)(x), np.diag(1 - np.tanh(x) ** 2))
    A = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(ad.jacobian(lambda v: A @ v)(x), A)
    assert ad.jacobian(lambda M: M * 2.0)(np.ones((2, 2))).shape == (2, 2, 2, 2)


def test_numerical_grad_matches_grad():
    f = lambda W, x: ad.sum(ad.tanh(W @ x))  # noqa: E731
    W, x = np.random.default_rng(1).standard_normal((2, 3)), np.array([0.5, -1.0, 2.0])
    for analytic, numeric in zip(ad.grad(f)(W, x), ad.numerical_grad(f, W, x)):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# ---- linear algebra ----------------------------------------------------------------------------------


def _gaussian_data(n=4, N=30, seed=0):
    rng = np.random.default_rng(seed)
    Q = rng.standard_normal((n, n))
    return Q @ Q.T / n + np.eye(n), rng.standard_normal((N, n))


def test_gaussian_nll_gradient_matches_closed_form():
    """L(Σ) = N/2 log|Σ| + 1/2 Σ_i x_iᵀ Σ⁻¹ x_i;  ∂L/∂Σ = N/2 Σ⁻¹ − 1/2 Σ⁻¹ XᵀX Σ⁻¹."""
    S, X = _gaussian_data()
    N = X.shape[0]
    nll = lambda S: 0.5 * N * ad.logdet(S) + 0.5 * ad.sum(X.T * ad.solve(S, X.T))  # noqa: E731
    Si = np.linalg.inv(S)
    np.testing.assert_allclose(ad.grad(nll)(S), N / 2 * Si - 0.5 * Si @ X.T @ X @ Si, rtol=1e-10, atol=1e-12)
    ad.check_grads(nll, S)


def test_slogdet_returns_a_constant_sign():
    A = -np.eye(3) * 2.0
    sign, logabs = ad.slogdet(ad.Var(A))
    assert sign == -1.0 and float(logabs.value) == pytest.approx(3 * np.log(2.0))
    assert ad.slogdet(A)[0] == -1.0
    np.testing.assert_allclose(ad.grad(lambda A: ad.slogdet(A)[1])(A), np.linalg.inv(A).T)


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix():
    A = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(ad.grad(ad.det)(A), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)


@pytest.mark.parametrize("fn", [lambda A: ad.solve(A, np.ones(2)), ad.inv, ad.logdet, ad.slogdet, ad.logabsdet])
def test_singular_matrix_is_a_named_error_not_a_warning(fn):
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for A in (singular, ad.Var(singular)):
            with pytest.raises(ad.LinAlgError, match="singular") as err:
                fn(A)
            assert err.value.op in ("solve", "inv", "logdet", "logabsdet")


def test_nearly_singular_solve_is_refused():
    with pytest.raises(ad.LinAlgError, match="working precision"):
        ad.solve(ad.Var([[1.0, 1.0], [1.0, np.nextafter(1.0, 2.0)]]), np.ones(2))
    nearly = np.array([[1.0, 1.0], [1.0, 1.0 + 4.4e-16]])  # symmetric, positive definite, useless
    with pytest.raises(ad.LinAlgError, match="working precision"):
        ad.solve(ad.Var(nearly), np.ones(2))


def test_logdet_of_negative_determinant_and_cholesky_of_indefinite_matrix():
    with pytest.raises(ad.LinAlgError, match="negative") as err:
        ad.logdet(ad.Var(np.diag([1.0, -2.0])))
    assert err.value.op == "logdet" and "slogdet" in str(err.value)
    with pytest.raises(ad.LinAlgError, match="positive definite"):
        ad.cholesky(ad.Var(np.diag([1.0, -2.0])))


def test_cholesky_gradient_is_symmetric():
    S, _ = _gaussian_data(3)
    g = ad.grad(lambda A: ad.sum(ad.cholesky(A) * np.arange(9.0).reshape(3, 3)))(S)
    np.testing.assert_allclose(g, g.T, atol=1e-12)


def test_solve_backward_reuses_the_forward_lu(monkeypatch):
    """The VJP of solve must not factorize again or form an inverse."""
    import scipy.linalg

    A, b = np.array([[3.0, 1.0], [1.0, 2.0]]), np.array([1.0, 1.0])
    A_var = ad.Var(A)
    out = ad.sum(ad.solve(A_var, b))
    calls = []
    import core.linalg

    monkeypatch.setattr(scipy.linalg, "lu_factor", lambda *a, **k: calls.append("lu_factor"))
    monkeypatch.setattr(core.linalg, "_getrf", lambda *a, **k: calls.append("getrf"))
    monkeypatch.setattr(np.linalg, "inv", lambda *a, **k: calls.append("inv"))
    g = ad.backward(out, [A_var])[A_var]
    assert calls == []
    x = np.linalg.solve(A, b)
    np.testing.assert_allclose(g, -np.outer(np.linalg.solve(A.T, np.ones(2)), x))


# ---- errors ------------------------------------------------------------------------------------------


def test_shape_error_names_the_op_and_both_shapes():
    with pytest.raises(ad.ShapeError) as err:
        ad.Var(np.ones((2, 3))) + np.ones((3, 2))
    assert err.value.op == "add" and "(2, 3)" in str(err.value) and "(3, 2)" in str(err.value)
    with pytest.raises(ad.ShapeError, match="matmul"):
        ad.Var(np.ones((2, 3))) @ np.ones((2, 3))
    with pytest.raises(ad.ShapeError, match="solve"):
        ad.solve(ad.Var(np.eye(2)), np.ones(3))
    with pytest.raises(ad.ShapeError, match="square"):
        ad.inv(ad.Var(np.ones((2, 3))))
    with pytest.raises(ad.ShapeError):
        ad.sum(ad.Var(np.ones(3)), axis=2)
    with pytest.raises(ad.ShapeError):
        ad.add(np.ones(2), np.ones(3))  # plain arrays get the same error


def test_non_scalar_output_suggests_sum_or_jacobian():
    with pytest.raises(ad.ShapeError) as err:
        ad.grad(lambda x: x * 2)(np.ones(3))
    message = str(err.value)
    assert "(3,)" in message and "sum(" in message and "jacobian" in message


# ---- non-differentiable points -------------------------------------------------------------------


def test_documented_conventions_at_kinks():
    assert ad.grad(ad.relu)(0.0) == 0.0
    assert ad.grad(ad.abs)(0.0) == 0.0
    np.testing.assert_array_equal(ad.grad(ad.max)(np.array([1.0, 3.0, 3.0])), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(ad.grad(ad.min)(np.array([1.0, 1.0, 3.0])), [0.5, 0.5, 0.0])
    assert ad.grad(ad.maximum)(2.0, 2.0) == (0.5, 0.5)
    assert ad.grad(ad.minimum)(1.0, 2.0) == (1.0, 0.0)
    assert ad.grad(ad.sign)(0.0) == 0.0 and ad.grad(ad.sign)(-2.0) == 0.0
    clipped = ad.grad(lambda x: ad.sum(ad.clip(x, -1.0, 1.0)))(np.array([-2.0, -1.0, 0.5, 1.0, 3.0]))
    np.testing.assert_array_equal(clipped, [0.0, 1.0, 1.0, 1.0, 0.0])  # the bounds pass the gradient
    assert ad.grad(ad.hypot)(0.0, 0.0) == (0.0, 0.0) and ad.grad(ad.arctan2)(0.0, 0.0) == (0.0, 0.0)
    assert ad.grad(ad.mod)(4.0, 2.0) == (1.0, -2.0)  # at a jump: the piece whose value is returned (0)
    condition = np.array([True, False])
    gc, gx, gy = ad.grad(lambda c, x, y: ad.sum(ad.where(c, x, y)))(condition * 1.0, np.ones(2), np.ones(2))
    np.testing.assert_array_equal(gc, [0.0, 0.0])
    np.testing.assert_array_equal(gx, [1.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 1.0])
    assert ad.grad(lambda x: ad.std(x))(np.full(3, 2.0)).tolist() == [0.0, 0.0, 0.0]
    np.testing.assert_array_equal(ad.grad(ad.norm)(np.zeros(3)), np.zeros(3))
    np.testing.assert_array_equal(ad.grad(lambda x: ad.norm(x, np.inf))(np.array([-3.0, 3.0, 1.0])), [-0.5, 0.5, 0])
    np.testing.assert_array_equal(ad.grad(ad.prod)(np.array([0.0, 2.0, 3.0])), [6.0, 0.0, 0.0])  # exact at 0
    np.testing.assert_array_equal(ad.hessian(ad.prod)(np.array([0.0, 2.0, 3.0]))[0], [0.0, 3.0, 2.0])


def test_repeated_eigenvalues_and_singular_values_take_the_documented_convention():
    """At equal eigenvalues the eigenvector terms between the pair are 0: right for anything that
    does not depend on the basis chosen within the eigenspace (here the projector's trace)."""
    A = np.diag([1.0, 1.0, 3.0])
    g = ad.grad(lambda A: ad.sum(ad.eigh_vectors(A)[:, :2] ** 2))(A)
    assert np.all(np.isfinite(g)) and np.allclose(g, 0.0)
    np.testing.assert_allclose(ad.grad(lambda A: ad.sum(ad.svdvals(A)))(np.eye(2)), np.eye(2))
    with pytest.raises(ad.AutodiffError, match="full_matrices=False"):
        ad.svd(ad.Var(np.ones((3, 2))))


def test_var_methods_and_dtype():
    x = ad.Var(np.arange(6.0).reshape(2, 3))
    assert x.dtype == np.float64 and x.astype(np.float32) is x
    with pytest.raises(ad.AutodiffError, match="gradient"):
        x.astype(int)
    assert x.flatten().shape == (6,) and x.ravel().op.name == "ravel" and x.squeeze().shape == (2, 3)
    assert x.sum(axis=0).shape == (3,) and x.max(1).shape == (2,) and float(x.prod().value) == 0.0
    assert x.var(ddof=1).op.name == "var" and x.std().op.name == "std" and x.cumsum(1).shape == (2, 3)
    assert x.transpose().shape == (3, 2) and x.transpose(1, 0).shape == (3, 2) and x.swapaxes(0, 1).shape == (3, 2)
    assert x.reshape(3, 2).trace().op.name == "trace" and x.diagonal().shape == (2,) and x.repeat(2, 0).shape == (4, 3)
    assert x.clip(1, 3).op.name == "clip" and x.dot(np.ones(3)).shape == (2,)
    assert abs(-x).op.name == "abs" and (x % 2.0).op.name == "mod" and float((7.0 % ad.Var(3.0)).value) == 1.0


def test_integer_arguments_are_promoted_and_float32_keeps_its_type():
    assert type(ad.grad(lambda x: x * x)(3)) is np.float64 and ad.grad(lambda x: x * x)(3) == 6.0
    g = ad.grad(lambda x: ad.sum(x * x))(np.array([1, 2], dtype=np.int32))
    assert g.dtype == np.float64 and g.tolist() == [2.0, 4.0]
    g32 = ad.grad(lambda x: ad.sum(ad.sin(x)))(np.array([0.0, 1.0], dtype=np.float32))
    assert g32.dtype == np.float32 and np.allclose(g32, np.cos([0.0, 1.0]))
    assert type(ad.grad(ad.sin)(np.float32(0.5))) is np.float32


def test_a_size_one_output_is_a_scalar_for_grad():
    g = ad.grad(lambda x: ad.sum(x ** 2, keepdims=True))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [2.0, 4.0])
    assert ad.grad(lambda x: ad.reshape(x * 3.0, (1, 1)))(2.0) == 3.0
    with pytest.raises(ad.ShapeError, match="sum"):
        ad.grad(lambda x: x * 2.0)(np.ones(2))


# ---- scale and concurrency ---------------------------------------------------------------------------


@pytest.mark.slow
def test_million_node_chain_at_the_default_recursion_limit():
    """A recursive graph walk would need a million frames: at a limit of 1000 it must not."""
    c = 1.0 - 1e-7

    def chain(x):
        for _ in range(1_000_000):
            x = x * c
        return x

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        assert ad.grad(chain)(1.0) == pytest.approx(c ** 1_000_000, rel=1e-9)
    finally:
        sys.setrecursionlimit(limit)


def test_two_threads_differentiate_at_once():
    rng = np.random.default_rng(0)
    W, x = rng.standard_normal((8, 8)), rng.standard_normal(8)
    mlp = lambda W, x: ad.sum(ad.tanh(W @ ad.tanh(W @ x)))  # noqa: E731

    def chain(x):
        for _ in range(300):
            x = ad.sin(x) * 0.5 + x * 0.5
        return x

    expected = {"mlp": ad.grad(mlp)(W, x), "chain": ad.grad(chain)(0.3)}
    results = {"mlp": [], "chain": []}
    barrier = threading.Barrier(2)

    def work(kind):
        barrier.wait()
        for _ in range(60):
            results[kind].append(ad.grad(mlp)(W, x) if kind == "mlp" else ad.grad(chain)(0.3))

    threads = [threading.Thread(target=work, args=(k,)) for k in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results["mlp"]) == len(results["chain"]) == 60
    for got in results["mlp"]:
        for g, e in zip(got, expected["mlp"]):
            np.testing.assert_array_equal(g, e)
    assert all(got == expected["chain"] for got in results["chain"])


# ---- wrong before issue 10 (each of these failed) ---------------------------------------------------


def test_power_with_exponent_zero_or_one_at_zero_is_not_nan():
    """The VJP computed 0 · 0⁻¹ = nan; the derivative of x⁰ is 0 and of x¹ is 1 everywhere."""
    assert ad.grad(lambda x: ad.power(x, 0.0))(0.0) == 0.0
    assert ad.grad(lambda x: x ** 1.0)(0.0) == 1.0
    assert ad.grad(ad.grad(lambda x: x ** 1.0))(0.0) == 0.0
    assert ad.grad(ad.grad(lambda x: x ** 2.0))(0.0) == 2.0
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(x ** 0.0))(np.array([0.0, 2.0])), [0.0, 0.0])


def test_mixed_partials_are_plain_numbers():
    """The inner grad's input is not an enclosing grad's: a top-level grad never returns a Var."""
    f = lambda x, y: ad.sin(ad.sin(x) + ad.sin(y))  # noqa: E731
    d2 = ad.grad(ad.grad(f, argnums=1), argnums=0)(0.3, 0.5)
    assert type(d2) is np.float64
    u = np.sin(0.3) + np.sin(0.5)
    assert d2 == pytest.approx(-np.sin(u) * np.cos(0.3) * np.cos(0.5), rel=1e-14)
    x, y = np.array([0.3, 0.4]), np.array([0.5, 0.6])
    g = ad.grad(lambda x, y: ad.sum(ad.grad(lambda y: ad.sum(f(x, y)))(y) * x), argnums=0)(x, y)
    assert type(g) is np.ndarray
    inner = ad.grad(lambda x, y: ad.sum(f(x, y)), argnums=1)
    h = ad.grad(lambda x, y: ad.sum(inner(x, y)), argnums=0)(x, y)
    assert type(h) is np.ndarray
    np.testing.assert_allclose(h, -np.sin(np.sin(x) + np.sin(y)) * np.cos(x) * np.cos(y), rtol=1e-14)


def test_comparisons_give_plain_boolean_arrays():
    x = ad.Var(2.0)
    assert (x == 2.0) is np.True_ and (x != 2.0) is np.False_
    v = ad.Var([1.0, 2.0, 3.0])
    for result, expected in ((v == 2.0, [False, True, False]), (v != 2.0, [True, False, True]),
                             (v < 2.0, [True, False, False]), (v <= 2.0, [True, True, False]),
                             (v > 2.0, [False, False, True]), (v >= 2.0, [False, True, True]),
                             (2.0 < v, [False, False, True]),  # noqa: SIM300 (the reflected form)
                             (np.ones(3) == v, [True, False, False]), (v == v, [True, True, True])):
        assert type(result) is np.ndarray and result.dtype == bool
        np.testing.assert_array_equal(result, expected)
    assert np.sum(v == 2.0) == 1 and ad.sum(v > 1.0) == 2.0
    assert ad.grad(lambda x: x * 3.0 if x > 0 else -x)(2.0) == 3.0  # control flow on a comparison


def test_bool_of_a_var_is_numpy_s():
    assert bool(ad.Var(2.0)) and not bool(ad.Var(0.0)) and bool(ad.Var([3.0]))
    with pytest.raises(ad.AutodiffError, match="ambiguous"):
        bool(ad.Var([1.0, 2.0]))


def test_numpy_functions_on_a_var_use_the_engine():
    v = ad.Var([1.0, 2.0, 3.0])
    total = np.sum(v)
    assert type(total) is ad.Var and total.op.name == "sum" and float(total.value) == 6.0
    assert np.sin(v).op.name == "sin" and (np.ones(3) * v).op.name == "multiply"
    np.testing.assert_allclose(ad.grad(lambda x: np.sum(np.exp(x) * x))(np.zeros(2)), [1.0, 1.0])
    with pytest.raises(ad.AutodiffError, match="core"):
        np.fft.fft(v)


def test_the_fast_order_agrees_with_the_full_toposort_on_random_graphs():
    """backward's own pass (constants skipped, activity fused) against the general one (order=),
    on random graphs with shared nodes, constants, and inputs that are interior nodes."""
    rng = np.random.default_rng(7)
    for trial in range(60):
        leaves = [ad.Var(rng.standard_normal()) for _ in range(3)]
        nodes = list(leaves)
        for _ in range(25):
            a, b = nodes[rng.integers(len(nodes))], nodes[rng.integers(len(nodes))]
            kind = rng.integers(4)
            nodes.append(a * b if kind == 0 else a + 0.5 if kind == 1 else ad.sin(a) if kind == 2 else a - b)
        out = nodes[-1] + nodes[-2] * 0.3
        wrt = [leaves[0], nodes[5 + trial % 10], leaves[2]]
        fast = ad.backward(out, wrt)
        full = ad.backward(out, wrt, order=ad.toposort(out))
        for w in wrt:
            assert (fast[w] is None) == (full[w] is None)
            if fast[w] is not None:
                assert fast[w] == pytest.approx(full[w], rel=1e-12, abs=1e-12)


def test_a_nested_grad_leaves_the_outer_graphs_constants_as_values():
    """Looking for an enclosing grad's input among a nested grad's ancestors reads the slots: no leaf
    is made for a constant kept as a value (the objects the slots exist to save)."""
    outer = []

    def f(x):
        y = x * np.arange(3.0)
        outer.append(y)
        return ad.grad(lambda z: ad.sum(ad.sin(z)))(y)

    jac = ad.jacobian(f)(np.ones(3))
    np.testing.assert_allclose(jac, np.diag(-np.sin(np.arange(3.0)) * np.arange(3.0)), atol=1e-15)
    assert type(outer[0]._second) is np.ndarray

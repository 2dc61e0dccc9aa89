"""Differential test against HIPS autograd: every op (and composition), every broadcasting pattern,
the value, the gradient and the second derivative (a Hessian-vector product) must agree.

Each case is written once, as a function of a NumPy-like namespace, and run twice: on the engine
(``OURS``) and on autograd (``THEIRS``: ``autograd.numpy`` with the engine's extra names spelled in
autograd's terms, e.g. ``relu(x) = maximum(x, 0)``, ``logdet(A) = slogdet(A)[1]``). Where autograd
has no derivative of its own (``flip``, ``diagonal`` with an offset, norms of order ≤ 1, einsum with
a repeated index), THEIRS uses an expression that is mathematically the same and that autograd
can differentiate (indexing, ``sum(abs(x))``...), so the comparison still covers the op. The
finite-difference checks of every op are in ``test_ops.py``.

autograd is a development dependency (``requirements-dev.txt``; CI installs it). Without it the
whole module is skipped, with that reason.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

autograd = pytest.importorskip("autograd", reason="autograd is not installed: pip install -r requirements-dev.txt")
anp = pytest.importorskip("autograd.numpy")
autograd_logsumexp = pytest.importorskip("autograd.scipy.special").logsumexp

import core as ad  # noqa: E402

# ---- the two namespaces ----------------------------------------------------------------------------

OURS = SimpleNamespace(**{name: public.function for name, public in ad.FUNCTIONS.items()})
OURS.linalg = SimpleNamespace(**{name: getattr(ad, name) for name in (
    "solve", "inv", "det", "slogdet", "cholesky", "pinv", "norm", "svd", "eigh")})
OURS.inf = np.inf


def _their_softmax(x, axis=-1):
    return anp.exp(x - autograd_logsumexp(x, axis=axis, keepdims=True))


def _their_flip(x, axis=None):
    axes = range(np.ndim(x)) if axis is None else [axis] if isinstance(axis, int) else axis
    index = [slice(None)] * np.ndim(x)
    for a in axes:
        index[a] = slice(None, None, -1)
    return x[tuple(index)]


def _their_diagonal(x, offset=0, axis1=0, axis2=1):
    """np.diagonal by indexing (autograd's own takes offset 0 on the last two axes only)."""
    moved = anp.moveaxis(x, (axis1, axis2), (-2, -1))
    n1, n2 = moved.shape[-2:]
    k = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    rows = np.arange(k) + max(-offset, 0)
    return moved[..., rows, rows + offset]


def _their_norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm, the orders autograd has no derivative for written out."""
    if ord in (None, 2, "fro", "nuc") and not (ord == 2 and (axis is None and np.ndim(x) == 2
                                                               or isinstance(axis, tuple))):
        return anp.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims)
    if np.ndim(x) == 1 or isinstance(axis, int):
        a = 0 if axis is None else axis
        if ord == 1:
            return anp.sum(anp.abs(x), axis=a, keepdims=keepdims)
        if ord == np.inf:
            return anp.max(anp.abs(x), axis=a, keepdims=keepdims)
        if ord == -np.inf:
            return anp.min(anp.abs(x), axis=a, keepdims=keepdims)
        return anp.sum(anp.abs(x) ** ord, axis=a, keepdims=keepdims) ** (1.0 / ord)
    rows, cols = (0, 1) if axis is None else axis
    if ord in (1, -1, np.inf, -np.inf):
        summed, across = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = anp.sum(anp.abs(x), axis=summed, keepdims=True)
        extreme = anp.max if ord > 0 else anp.min
        out = extreme(sums, axis=across, keepdims=True)
        return out if keepdims else anp.squeeze(out, axis=(rows, cols))
    s = anp.linalg.svd(anp.moveaxis(x, (rows, cols), (-2, -1)), compute_uv=False)
    out = anp.max(s, axis=-1) if ord == 2 else anp.min(s, axis=-1)
    return anp.expand_dims(anp.expand_dims(out, min(rows, cols)), max(rows, cols)) if keepdims else out


def _their_einsum(subscripts, *operands):
    """einsum, with a repeated index within one operand first read off as a diagonal (autograd's
    VJP would need the repeated index in an output)."""
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    fixed, ops = [], []
    for term, x in zip(terms, operands):
        while len(set(term.replace(".", ""))) != len(term.replace(".", "")):
            c = next(c for c in term if c != "." and term.count(c) > 1)
            i, j = term.index(c), term.index(c, term.index(c) + 1)
            x = _their_diagonal(x, 0, i, j)
            term = term[:i] + term[i + 1:j] + term[j + 1:] + c
        fixed.append(term)
        ops.append(x)
    if not arrow:
        joined = "".join(terms)
        output = "".join(sorted(c for c in set(joined) if joined.count(c) == 1 and c != "."))
    return anp.einsum(",".join(fixed) + "->" + output, *ops)


THEIRS = SimpleNamespace(**{name: getattr(anp, name) for name in dir(anp) if not name.startswith("_")})
THEIRS.linalg = anp.linalg
THEIRS.inf = np.inf
THEIRS.relu = lambda x: anp.maximum(x, 0.0)
THEIRS.sigmoid = lambda x: 1.0 / (1.0 + anp.exp(-x))
THEIRS.softplus = lambda x: anp.logaddexp(0.0, x)
THEIRS.softmax = _their_softmax
THEIRS.logsumexp = lambda x, axis=None, b=None, keepdims=False: autograd_logsumexp(
    x, axis=axis, keepdims=keepdims, **({} if b is None else {"b": b}))
# autograd's where does not sum its gradient over broadcast axes, its broadcast_to takes no new
# leading axes, its clip needs both bounds: the same functions, written with what it gets right.
THEIRS.where = lambda c, x, y: c * x + (1 - c) * y
THEIRS.broadcast_to = lambda x, shape: x + anp.zeros(shape)
THEIRS.clip = lambda x, a_min=None, a_max=None: anp.clip(x, -np.inf if a_min is None else a_min,
                                                         np.inf if a_max is None else a_max)
THEIRS.identity = lambda x: x
THEIRS.flip = _their_flip
THEIRS.diagonal = _their_diagonal
THEIRS.trace = lambda x, offset=0, axis1=0, axis2=1: anp.sum(_their_diagonal(x, offset, axis1, axis2), axis=-1)
THEIRS.diag = lambda x, k=0: anp.diag(x, k) if np.ndim(x) == 1 else _their_diagonal(x, k)
THEIRS.norm = _their_norm
THEIRS.einsum = _their_einsum
THEIRS.logdet = THEIRS.logabsdet = lambda A: anp.linalg.slogdet(A)[1]
THEIRS.inv, THEIRS.det, THEIRS.solve, THEIRS.pinv = anp.linalg.inv, anp.linalg.det, anp.linalg.solve, anp.linalg.pinv
THEIRS.cholesky = anp.linalg.cholesky
THEIRS.svdvals = lambda A: anp.linalg.svd(A, compute_uv=False)
THEIRS.svd_u = lambda A: anp.linalg.svd(A, full_matrices=False)[0]
THEIRS.svd_vh = lambda A: anp.linalg.svd(A, full_matrices=False)[2]
THEIRS.eigvalsh = lambda A: anp.linalg.eigh(A)[0]
THEIRS.eigh_vectors = lambda A: anp.linalg.eigh(A)[1]

# ---- the cases ---------------------------------------------------------------------------------------

UNARY_SHAPES = [(), (3,), (2, 3), (2, 2, 3)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1), (1, 3)),
                 ((), (2, 3)), ((2, 3), ()), ((2, 2, 3), (2, 3))]
R = np.random.default_rng(20)


def _x(shape, low=None):
    return R.standard_normal(shape) if low is None else low + 1.5 * R.random(shape)


def _square(n, batch=()):
    return R.standard_normal(batch + (n, n)) + 3.0 * np.eye(n)


def _spd(n, batch=()):
    q = R.standard_normal(batch + (n, n))
    return q @ np.swapaxes(q, -1, -2) / n + np.eye(n)


def unary(name, low=None):
    return [(lambda ns, x, name=name: getattr(ns, name)(x), (_x(s, low),)) for s in UNARY_SHAPES]


def binary(name, low_a=None, low_b=None):
    return [(lambda ns, a, b, name=name: getattr(ns, name)(a, b), (_x(sa, low_a), _x(sb, low_b)))
            for sa, sb in BINARY_SHAPES]


def reduction(name, axes=(None, 0, -1, (0, 1)), **extra):
    cases = [(lambda ns, x, name=name: getattr(ns, name)(x, **extra), (_x(4),))]
    for axis in axes:
        for keepdims in (False, True):
            cases.append((lambda ns, x, a=axis, k=keepdims, name=name:
                          getattr(ns, name)(x, axis=a, keepdims=k, **extra), (_x((2, 3)),)))
    return cases


def symmetric(fn):
    """fn of the symmetric part: both engines then agree whatever triangle they read."""
    return lambda ns, A: fn(ns, 0.5 * (A + ns.swapaxes(A, -1, -2)))


def call(fn, *args):
    return [(fn, args)]


CONDITION = R.random((2, 3)) > 0.5
CASES = {
    **{name: unary(name) for name in ("negative", "exp", "exp2", "expm1", "sin", "cos", "tanh", "arctan", "sinh",
                                      "cosh", "arcsinh", "sigmoid", "relu", "softplus", "abs", "square", "sign",
                                      "identity")},
    **{name: unary(name, low=0.5) for name in ("log", "log2", "log10", "log1p", "sqrt", "reciprocal")},
    "tan": unary("tan", low=-0.7), "arcsin": unary("arcsin", low=-0.7), "arccos": unary("arccos", low=-0.7),
    "arctanh": unary("arctanh", low=-0.7), "arccosh": unary("arccosh", low=1.2),
    **{name: binary(name) for name in ("add", "subtract", "multiply", "maximum", "minimum", "hypot", "arctan2")},
    "divide": binary("divide", low_b=0.5), "power": binary("power", low_a=0.5), "mod": binary("mod", low_b=0.5),
    "where": [(lambda ns, x, y: ns.where(CONDITION * 1.0, x, y), (_x(sx), _x(sy)))
              for sx, sy in (((3,), (2, 3)), ((2, 3), ()))],
    "clip": call(lambda ns, x: ns.clip(x, -0.5, 0.5), _x((2, 3))) + call(lambda ns, x: ns.clip(x, a_min=-0.2), _x(4)),
    **{name: reduction(name) for name in ("sum", "mean", "max", "min", "prod", "logsumexp")},
    "var": reduction("var", ddof=1), "std": reduction("std"),
    "softmax": call(lambda ns, x: ns.softmax(x), _x(4)) + call(lambda ns, x: ns.softmax(x, axis=0), _x((2, 3))),
    "cumsum": call(lambda ns, x: ns.cumsum(x), _x((2, 3))) + call(lambda ns, x: ns.cumsum(x, axis=1), _x((2, 3))),
    "transpose": call(lambda ns, x: ns.transpose(x, (2, 0, 1)), _x((2, 3, 4))),
    "reshape": call(lambda ns, x: ns.reshape(x, (3, 2)), _x((2, 3))),
    "broadcast_to": call(lambda ns, x: ns.broadcast_to(x, (2, 3)), _x(3)),
    "ravel": call(lambda ns, x: ns.ravel(x), _x((2, 3))), "flatten": call(lambda ns, x: ns.ravel(x), _x((2, 3))),
    "squeeze": call(lambda ns, x: ns.squeeze(x), _x((2, 1, 3))),
    "expand_dims": call(lambda ns, x: ns.expand_dims(x, 1), _x((2, 3))),
    "swapaxes": call(lambda ns, x: ns.swapaxes(x, 0, 2), _x((2, 3, 4))),
    "moveaxis": call(lambda ns, x: ns.moveaxis(x, 0, -1), _x((2, 3, 4))),
    "flip": call(lambda ns, x: ns.flip(x, 1), _x((2, 3))),
    "roll": call(lambda ns, x: ns.roll(x, 2, axis=1), _x((2, 3))),
    "repeat": call(lambda ns, x: ns.repeat(x, 2, axis=0), _x((2, 3))),
    "tile": call(lambda ns, x: ns.tile(x, (2, 1)), _x((2, 3))),
    "getitem": call(lambda ns, x: x[1:, [0, 2]], _x((3, 3))) + call(lambda ns, x: x[::-1, 0], _x((3, 2))),
    "tril": call(lambda ns, x: ns.tril(x, 1), _x((3, 4))), "triu": call(lambda ns, x: ns.triu(x, -1), _x((3, 3))),
    "diagonal": call(lambda ns, x: ns.diagonal(x, 1), _x((3, 4))) + call(lambda ns, x: ns.diagonal(x, -1, 1, 2),
                                                                           _x((2, 3, 4))),
    "trace": call(lambda ns, x: ns.trace(x, 1), _x((4, 3))) + call(lambda ns, x: ns.trace(x), _x((3, 3, 2))),
    "diag": call(lambda ns, x: ns.diag(x, 1), _x(3)) + call(lambda ns, x: ns.diag(x), _x((3, 3))),
    "stack": call(lambda ns, a, b: ns.stack([a, b], axis=1), _x((2, 3)), _x((2, 3))),
    "concatenate": call(lambda ns, a, b: ns.concatenate([a, b], axis=1), _x((2, 3)), _x((2, 1))),
    "hstack": call(lambda ns, a, b: ns.hstack([a, b]), _x(3), _x(2)),
    "vstack": call(lambda ns, a, b: ns.vstack([a, b]), _x(3), _x((2, 3))),
    "array": call(lambda ns, x: ns.array([x, x * 2.0, x + 1.0]), _x(())),
    "atleast_1d": call(lambda ns, x: ns.atleast_1d(x), _x(())),
    "atleast_2d": call(lambda ns, x: ns.atleast_2d(x), _x(3)),
    "atleast_3d": call(lambda ns, x: ns.atleast_3d(x), _x((2, 3))),
    "split": call(lambda ns, x: ns.split(x, 2)[1], _x(4)),
    "array_split": call(lambda ns, x: ns.array_split(x, 2, axis=1)[0], _x((2, 5))),
    "matmul": [(lambda ns, a, b: ns.matmul(a, b), (_x(sa), _x(sb))) for sa, sb in (
        ((2, 3), (3, 4)), ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 2, 3), (3, 4)), ((2, 3), (2, 3, 4)))],
    "dot": [(lambda ns, a, b: ns.dot(a, b), (_x(sa), _x(sb))) for sa, sb in (
        ((), (3,)), ((3,), (3,)), ((2, 3), (3, 4)), ((2, 3, 4), (2, 4, 3)), ((2, 3, 4), (4,)))],
    "inner": call(lambda ns, a, b: ns.inner(a, b), _x((2, 3)), _x((4, 3))),
    "outer": call(lambda ns, a, b: ns.outer(a, b), _x(3), _x(2)),
    "kron": call(lambda ns, a, b: ns.kron(a, b), _x((2, 3)), _x((3, 2))),
    "tensordot": call(lambda ns, a, b: ns.tensordot(a, b, axes=([1, 0], [2, 1])), _x((2, 3)), _x((2, 2, 3, 4))),
    "einsum": [(lambda ns, a, b, s=s: ns.einsum(s, a, b), args) for s, args in (
        ("ij,jk->ik", (_x((2, 3)), _x((3, 4)))), ("ijk,lji->lki", (_x((3, 4, 4)), _x((4, 4, 3)))),
        ("...jk,...lj->...lk", (_x((3, 4, 4)), _x((3, 4, 4)))), ("ij,j", (_x((2, 3)), _x(3))),
        ("ii,i->i", (_x((3, 3)), _x(3))))],
    "solve": call(lambda ns, A, b: ns.solve(A, b), _square(3), _x(3)) + call(
        lambda ns, A, b: ns.solve(A, b), _square(3, (2,)), _x((2, 3, 2))),
    "inv": call(lambda ns, A: ns.inv(A), _square(3)) + call(lambda ns, A: ns.inv(A), _square(3, (2,))),
    "det": call(lambda ns, A: ns.det(A), _square(3)) + call(lambda ns, A: ns.det(A), _square(2, (3,))),
    "logdet": call(lambda ns, A: ns.logdet(A), _spd(3)) + call(lambda ns, A: ns.logdet(A), _spd(3, (2,))),
    "logabsdet": call(lambda ns, A: ns.logabsdet(A), -_square(3)),
    "slogdet": call(lambda ns, A: ns.linalg.slogdet(A)[1], _square(3, (2,))),
    "cholesky": call(symmetric(lambda ns, A: ns.cholesky(A)), _spd(3)) + call(
        symmetric(lambda ns, A: ns.cholesky(A)), _spd(3, (2,))),
    "pinv": call(lambda ns, A: ns.pinv(A), _x((3, 2))) + call(lambda ns, A: ns.pinv(A), _x((2, 2, 3))),
    "svdvals": call(lambda ns, A: ns.svdvals(A), _x((3, 2))),
    "svd_u": call(lambda ns, A: ns.svd_u(A), _x((3, 2))) + call(lambda ns, A: ns.svd_u(A), _x((2, 3))),
    "svd_vh": call(lambda ns, A: ns.svd_vh(A), _x((2, 3))) + call(lambda ns, A: ns.svd_vh(A), _x((2, 3, 3))),
    "svd": call(lambda ns, A: ns.linalg.svd(A, full_matrices=False)[1], _x((3, 2))),
    "eigvalsh": call(symmetric(lambda ns, A: ns.eigvalsh(A)), _x((3, 3))),
    "eigh_vectors": call(symmetric(lambda ns, A: ns.eigh_vectors(A)), _x((3, 3))),
    "eigh": call(symmetric(lambda ns, A: ns.linalg.eigh(A)[0]), _x((2, 3, 3))),
    "norm": [(lambda ns, x, o=o, a=a, k=k: ns.norm(x, o, a, k), (x,)) for o, a, k, x in (
        (None, None, False, _x(4)), (1, None, False, _x(4)), (np.inf, None, False, _x(4)), (3, -1, True, _x((2, 3))),
        ("fro", None, False, _x((2, 3))), ("nuc", None, False, _x((3, 2))), (2, None, False, _x((2, 3))),
        (-2, (1, 0), True, _x((3, 3))), (1, None, False, _x((2, 3))), (-np.inf, (0, 2), False, _x((2, 3, 4))))],
}
# Internals of indexing's VJP, not a function anyone calls.
NOT_COMPARED = {"scatter": "indexing's VJP: compared through getitem's second derivative"}


def test_every_op_and_composition_is_compared():
    names = set(ad.FUNCTIONS) - set(NOT_COMPARED)
    assert not names - set(CASES), f"no differential case for {sorted(names - set(CASES))}"
    assert not set(CASES) - set(ad.FUNCTIONS), f"cases for unknown functions {sorted(set(CASES) - set(ad.FUNCTIONS))}"


# ---- the comparison ----------------------------------------------------------------------------------


def _scalar(ns, out, weights):
    """A scalar that depends on every entry of the op's output, nonlinearly (for the second order)."""
    return ns.sum(out * weights[0]) + 0.25 * ns.sum(out * out * weights[1])


def _assert_close(ours, theirs, what):
    ours, theirs = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert ours.shape == theirs.shape, f"{what}: shapes {ours.shape} and {theirs.shape}"
    scale = max(1.0, float(np.max(np.abs(theirs), initial=0.0)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12 * scale, err_msg=what)


ALL = [(name, i, fn, args) for name, cases in CASES.items() for i, (fn, args) in enumerate(cases)]


@pytest.mark.filterwarnings("ignore:Output seems independent of input")  # autograd, on sign's zero derivative
@pytest.mark.parametrize("name,i,fn,args", ALL, ids=[f"{n}-{i}" for n, i, _, _ in ALL])
def test_value_gradient_and_second_derivative_agree_with_autograd(name, i, fn, args):
    out_shape = np.shape(fn(OURS, *args).value if isinstance(fn(OURS, *args), ad.Var) else fn(OURS, *args))
    rng = np.random.default_rng(30 + i)
    weights = (rng.standard_normal(out_shape), rng.standard_normal(out_shape))
    directions = [rng.standard_normal(np.shape(a)) for a in args]
    ours = lambda *a: _scalar(OURS, fn(OURS, *a), weights)  # noqa: E731
    theirs = lambda *a: _scalar(THEIRS, fn(THEIRS, *a), weights)  # noqa: E731
    _assert_close(ours(*args).value if isinstance(ours(*args), ad.Var) else ours(*args), theirs(*args), "value")
    for k, direction in enumerate(directions):
        g_ours = ad.grad(ours, argnums=k)(*args)
        g_theirs = autograd.grad(theirs, k)(*args)
        _assert_close(g_ours, g_theirs, f"gradient w.r.t. argument {k}")
        # Second order: the Hessian times a direction, d/dt ∇f(x + t·v), by reverse over reverse.
        hv_ours = ad.grad(lambda *a: ad.sum(ad.grad(ours, argnums=k)(*a) * direction), argnums=k)(*args)
        hv_theirs = autograd.grad(lambda *a: anp.sum(autograd.grad(theirs, k)(*a) * direction), k)(*args)
        _assert_close(hv_ours, hv_theirs, f"Hessian-vector product w.r.t. argument {k}")


def test_the_four_cases_that_were_wrong_agree_with_autograd():
    """The regression cases of issue 10, against autograd itself."""
    assert ad.grad(lambda x: ad.power(x, 0.0))(0.0) == autograd.grad(lambda x: anp.power(x, 0.0))(0.0) == 0.0
    assert ad.grad(ad.grad(lambda x: x ** 1.0))(0.0) == 0.0
    f_ours = lambda x, y: ad.sin(ad.sin(x) + ad.sin(y))  # noqa: E731
    f_theirs = lambda x, y: anp.sin(anp.sin(x) + anp.sin(y))  # noqa: E731
    mixed = ad.grad(ad.grad(f_ours, argnums=1), argnums=0)(0.3, 0.5)
    assert type(mixed) is np.float64
    assert math.isclose(mixed, autograd.grad(autograd.grad(f_theirs, 1), 0)(0.3, 0.5), rel_tol=1e-14)
    x = ad.Var([1.0, 2.0, 2.0])
    np.testing.assert_array_equal(x == 2.0, anp.array([1.0, 2.0, 2.0]) == 2.0)
    assert np.sum(x == 2.0) == 2 and np.sum(x).op.name == "sum"

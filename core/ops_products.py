r"""Products and contractions: ``matmul``, ``outer``, ``dot``.

``matmul`` follows NumPy: 1-D operands are promoted to a row (left) or a column (right) and the
added axis dropped again; leading axes are batch axes and broadcast. The VJPs are the classic
matrix-calculus results (M. B. Giles, *An extended collection of matrix derivative results for
forward and reverse mode algorithmic differentiation*, 2008): Ā = z̄ Bᵀ and B̄ = Aᵀ z̄.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .ops_shape import reshape, transpose, unbroadcast
from .optable import composite, primitive, size_of
from .var import raw


def _mT(x):
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    if x.ndim == 2:
        return transpose(x)
    return transpose(x, axes=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


# ---- matmul ---------------------------------------------------------------------------------------


def _matmul_forward(a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul does not take scalars; use * to scale")
    return np.matmul(a, b)


def _as_matrices(g, a, b):
    """View 1-D operands (and ``g``) as matrices, as np.matmul does, so one formula serves all."""
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    out = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])
    g2 = reshape(g, out) if g.shape != out else g
    return g2, a2, b2


def _matmul_vjp_a(g, z, a, b):
    if type(g) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return g @ b.T  # the common case, on plain arrays: nothing to promote or unbroadcast
    g2, a2, b2 = _as_matrices(g, a, b)
    ga = unbroadcast(matmul(g2, _mT(b2)), a2.shape)
    return reshape(ga, a.shape) if ga.shape != a.shape else ga


def _matmul_vjp_b(g, z, a, b):
    if type(g) is np.ndarray and type(a) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    g2, a2, b2 = _as_matrices(g, a, b)
    gb = unbroadcast(matmul(_mT(a2), g2), b2.shape)
    return reshape(gb, b.shape) if gb.shape != b.shape else gb


def _matmul_dims(a: tuple, b: tuple) -> tuple:
    """(batch shape, m, k, n) of ``a @ b`` under NumPy's rules, or ValueError."""
    if not a or not b:
        raise ValueError("matmul does not take scalars; use * to scale")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"the inner sizes {a2[-1]} and {b2[-2]} differ")
    return np.broadcast_shapes(a2[:-2], b2[:-2]), a2[-2], a2[-1], b2[-1]


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    batch, m, _, n = _matmul_dims(a, b)
    return batch + ((m,) if len(a) > 1 else ()) + ((n,) if len(b) > 1 else ())


def _matmul_cost(a: tuple, b: tuple) -> int:
    batch, m, k, n = _matmul_dims(a, b)
    return size_of(batch) * m * k * n


matmul = primitive("matmul", _matmul_forward, symbol="@", shape=_matmul_shape, cost=_matmul_cost, grads=[
    ("A", _matmul_vjp_a, r"\bar{A} \mathrel{+}= \bar{z}\, B^\top"),
    ("B", _matmul_vjp_b, r"\bar{B} \mathrel{+}= A^\top \bar{z}"),
])


@composite("dot", operands=("a", "b"))
def dot(a, b):
    """NumPy's ``dot`` for scalars, vectors and matrices: a product, an inner product or a matmul."""
    if np.ndim(raw(a)) == 0 or np.ndim(raw(b)) == 0:
        return a * b
    if np.ndim(raw(a)) > 2 or np.ndim(raw(b)) > 2:
        raise ShapeError("dot takes at most 2-D operands; use matmul for batches", op="dot")
    return matmul(a, b)


def _outer_forward(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("outer takes two vectors")
    return np.outer(a, b)


def _outer_shape(a: tuple, b: tuple) -> tuple:
    if len(a) != 1 or len(b) != 1:
        raise ValueError("outer takes two vectors")
    return a + b


outer = primitive("outer", _outer_forward, symbol="⊗", shape=_outer_shape, grads=[
    ("a", lambda g, z, a, b: matmul(g, b), r"\bar{a} \mathrel{+}= \bar{z}\, b"),
    ("b", lambda g, z, a, b: matmul(a, g), r"\bar{b} \mathrel{+}= \bar{z}^\top a"),
])

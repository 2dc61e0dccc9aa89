r"""Spectral linear algebra: ``svd`` (``svdvals``, ``svd_u``, ``svd_vh``), ``eigh`` (``eigvalsh``,
``eigh_vectors``), ``pinv`` and ``norm``; matrices or stacks of them (leading axes).

A node holds one array, so each output of a factorization is its own primitive: ``svdvals(A)``
(NumPy's name), ``svd_u(A)`` and ``svd_vh(A)``; ``eigvalsh(A)`` (NumPy's name) and
``eigh_vectors(A)``. The compositions ``svd(A)`` and ``eigh(A)`` return them as NumPy does, made
from one factorization (``optable.record``). Since a VJP is linear in z̄, the three VJPs of the
SVD add up to the VJP of the whole SVD (J. Townsend, *Differentiating the singular value
decomposition*, 2016); the eigendecomposition's are the classic ones (Giles 2008, 3.1).

Conventions (documented, tested):

* ``svd`` is the reduced SVD (``full_matrices=False``); a full SVD of a non-square matrix has extra
  columns that are not unique, so on Vars it is refused, as in autograd.
* ``eigh``/``eigvalsh`` read the lower triangle, as NumPy's do, and use the symmetric convention
  of ``cholesky``: the gradient is symmetric (for perturbations that keep A symmetric).
* Where two singular values (eigenvalues) are equal, the vectors are not unique and their
  derivative does not exist; the terms between such a pair are taken as 0, which is exact for
  functions that do not depend on the choice of basis within the shared subspace.
* ``norm``: NumPy's orders. Where a norm is not differentiable its gradient follows the
  elementwise conventions: 0 at the zero vector (2-norm, Frobenius, p-norms), ``sign(x)`` with 0
  at 0 (1-norm), the tied maxima sharing equally (∞-norms, matrix 1- and ∞-norms), 0 for the
  "0-norm" (a count).
* ``pinv``'s derivative exists where the rank is constant (full rank, say); the formula is the
  one for that case (Golub & Pereyra 1973).
"""

from __future__ import annotations

import numpy as np

from .errors import AutodiffError, ShapeError
from .ops_elementwise import _nonzero, abs, sign, zeros_like
from .ops_products import _mT, matmul
from .ops_reduce import _shares
from .ops_shape import moveaxis, reshape, unreduce
from .optable import OPS, composite, kept_shape, normalize_axis, primitive, record, reduced, size_of
from .var import Var, raw


def _matrices_shape(op: str, A: tuple) -> tuple:
    if len(A) < 2:
        raise ShapeError(f"{op} needs a matrix (or a stack of them), got shape {A}", op=op, shapes=(A,))
    return A[:-2], A[-2], A[-1]


def _svd_cost(A: tuple) -> float:
    """A reduced SVD with its vectors, per matrix: about 4mnk + 8k³ flops (k = min(m, n))."""
    batch, m, n = _matrices_shape("svd", A)
    k = min(m, n)
    return size_of(batch) * (4 * m * n * k + 8 * k ** 3)


def _eigh_cost(A: tuple) -> float:
    """A symmetric eigendecomposition with its vectors: about 9n³ flops per matrix."""
    return size_of(A[:-2]) * 9 * A[-1] ** 3


def _gap_reciprocals(values, squared: bool):
    """F with F[i, j] = 1 / (v_j − v_i) (of squares for the SVD) off the diagonal, and 0 on it and
    between equal values (the convention at degenerate points), for arrays and Vars alike."""
    v = values * values if squared else values
    gaps = reshape(v, np.shape(raw(v))[:-1] + (1, -1)) - reshape(v, np.shape(raw(v)) + (1,))
    keep = raw(gaps) != 0
    return keep / (gaps + ~keep)


# ---- the SVD --------------------------------------------------------------------------------------


def _svd_forward(A):
    _matrices_shape("svd", A.shape)
    u, s, vh = np.linalg.svd(A, full_matrices=False)
    return {"u": u, "s": s, "vh": vh}


def _svd_factors(A, saved: dict):
    """(U, s, Vᵀ) for a VJP: the saved arrays on the first-order path, the engine's nodes (so that
    the VJP can be differentiated again) on the graph path."""
    if type(A) is Var:
        return svd(A, full_matrices=False)
    return saved["u"], saved["s"], saved["vh"]


def _svdvals_vjp(g, z, A, u=None, s=None, vh=None):
    """Ā = U diag(s̄) Vᵀ."""
    U, _, Vh = _svd_factors(A, {"u": u, "s": s, "vh": vh})
    return matmul(U * reshape(g, np.shape(raw(g))[:-1] + (1, -1)), Vh)


def _svd_u_vjp(g, z, A, u=None, s=None, vh=None):
    """Ā = U (F ∘ (UᵀŪ − ŪᵀU)) S Vᵀ + (I − UUᵀ) Ū S⁻¹ Vᵀ (the last term when m > n)."""
    U, s, Vh = _svd_factors(A, {"u": u, "s": s, "vh": vh})
    row = reshape(s, np.shape(raw(s))[:-1] + (1, -1))
    UtG = matmul(_mT(U), g)
    inner = _gap_reciprocals(s, squared=True) * (UtG - _mT(UtG)) * row
    out = matmul(matmul(U, inner), Vh)
    if np.shape(raw(U))[-2] > np.shape(raw(U))[-1]:
        out = out + matmul((g - matmul(U, UtG)) / row, Vh)
    return out


def _svd_vh_vjp(g, z, A, u=None, s=None, vh=None):
    """With V̄ = (V̄ᵀ)ᵀ: Ā = U S (F ∘ (VᵀV̄ − V̄ᵀV)) Vᵀ + U S⁻¹ V̄ᵀ (I − VVᵀ) (the last when n > m)."""
    U, s, Vh = _svd_factors(A, {"u": u, "s": s, "vh": vh})
    column = reshape(s, np.shape(raw(s)) + (1,))
    VtV = matmul(Vh, _mT(g))  # Vᵀ V̄
    inner = column * (_gap_reciprocals(s, squared=True) * (VtV - _mT(VtV)))
    out = matmul(matmul(U, inner), Vh)
    if np.shape(raw(Vh))[-1] > np.shape(raw(Vh))[-2]:
        out = out + matmul(U, (g - matmul(_mT(VtV), Vh)) / column)
    return out


def _svd_shapes(A: tuple):
    batch, m, n = _matrices_shape("svd", A)
    return batch, m, n, min(m, n)


svdvals = primitive("svdvals", lambda A: _saving(_svd_forward(A), "s"), saves=True, symbol="σ(A)",
                    shape=lambda A: (lambda b, m, n, k: b + (k,))(*_svd_shapes(A)), cost=_svd_cost, grads=[
    ("A", _svdvals_vjp, r"\bar{A} \mathrel{+}= U \operatorname{diag}(\bar{z}) V^\top"),
], doc="The singular values of A (or of each matrix of a stack), largest first.")
svd_u = primitive("svd_u", lambda A: _saving(_svd_forward(A), "u"), saves=True, symbol="U",
                  shape=lambda A: (lambda b, m, n, k: b + (m, k))(*_svd_shapes(A)), cost=_svd_cost, grads=[
    ("A", _svd_u_vjp, r"\bar{A} \mathrel{+}= U (F \circ (U^\top \bar{U} - \bar{U}^\top U)) S V^\top"
                      r" + (I - U U^\top) \bar{U} S^{-1} V^\top"),
], doc="The left singular vectors (columns) of A's reduced SVD.")
svd_vh = primitive("svd_vh", lambda A: _saving(_svd_forward(A), "vh"), saves=True, symbol="Vᵀ",
                   shape=lambda A: (lambda b, m, n, k: b + (k, n))(*_svd_shapes(A)), cost=_svd_cost, grads=[
    ("A", _svd_vh_vjp, r"\bar{A} \mathrel{+}= U S (F \circ (V^\top \bar{V} - \bar{V}^\top V)) V^\top"
                       r" + U S^{-1} \bar{V}^\top (I - V V^\top)"),
], doc="The right singular vectors (rows) of A's reduced SVD: Vᵀ.")


def _saving(factors: dict, which: str):
    """A forward that keeps the whole factorization for its VJP: (value, saved attrs)."""
    return factors[which], factors


@composite("svd", operands=("A",), attrs=("full_matrices", "compute_uv"), returns_tuple=True)
def svd(A, full_matrices=True, compute_uv=True):
    """NumPy's ``svd``: ``(U, s, Vᵀ)``, or the singular values alone with ``compute_uv=False``; on
    Vars the reduced SVD (a full one of a non-square matrix has no unique extra columns)."""
    if not compute_uv:
        return svdvals(A)
    if type(A) is not Var:
        return tuple(np.linalg.svd(raw(A), full_matrices=full_matrices))
    shape = A.shape
    if full_matrices and len(shape) >= 2 and shape[-1] != shape[-2]:
        raise AutodiffError("svd: a full SVD of a non-square matrix has extra columns that are not unique, so "
                            "they have no gradient; pass full_matrices=False", op="svd")
    factors = _svd_forward(A._value)
    return tuple(record(OPS[name], (A,), factors[key], factors)
                 for name, key in (("svd_u", "u"), ("svdvals", "s"), ("svd_vh", "vh")))


# ---- the symmetric eigendecomposition ------------------------------------------------------------


def _eigh_forward(A):
    batch, m, n = _matrices_shape("eigh", A.shape)
    if m != n:
        raise ShapeError(f"eigh needs a square matrix (or a stack of them), got shape {A.shape}", op="eigh")
    w, v = np.linalg.eigh(A)
    return {"w": w, "v": v}


def _square_rule(op: str, out):
    def rule(A: tuple) -> tuple:
        _matrices_shape(op, A)
        if A[-1] != A[-2]:
            raise ShapeError(f"{op} needs a square matrix (or a stack of them), got shape {A}", op=op, shapes=(A,))
        return out(A)

    return rule


def _eigh_factors(A, saved: dict):
    if type(A) is Var:
        return eigh(A)
    return saved["w"], saved["v"]


def _eigvalsh_vjp(g, z, A, w=None, v=None):
    """Ā = V diag(w̄) Vᵀ."""
    _, V = _eigh_factors(A, {"w": w, "v": v})
    return matmul(V * reshape(g, np.shape(raw(g))[:-1] + (1, -1)), _mT(V))


def _eigh_vectors_vjp(g, z, A, w=None, v=None):
    """Ā = sym(V (F ∘ (Vᵀ V̄)) Vᵀ) with F[i, j] = 1 / (w_j − w_i): the symmetric convention."""
    w, V = _eigh_factors(A, {"w": w, "v": v})
    out = matmul(matmul(V, _gap_reciprocals(w, squared=False) * matmul(_mT(V), g)), _mT(V))
    return 0.5 * (out + _mT(out))


eigvalsh = primitive("eigvalsh", lambda A: _saving(_eigh_forward(A), "w"), saves=True, symbol="λ(A)",
                     shape=_square_rule("eigvalsh", lambda A: A[:-1]), cost=_eigh_cost, grads=[
    ("A", _eigvalsh_vjp, r"\bar{A} \mathrel{+}= V \operatorname{diag}(\bar{z}) V^\top"),
], doc="The eigenvalues of a symmetric matrix (its lower triangle), ascending.")
eigh_vectors = primitive("eigh_vectors", lambda A: _saving(_eigh_forward(A), "v"), saves=True, symbol="V",
                         shape=_square_rule("eigh_vectors", lambda A: A), cost=_eigh_cost, grads=[
    ("A", _eigh_vectors_vjp, r"\bar{A} \mathrel{+}= \operatorname{sym}\!\big(V (F \circ V^\top \bar{V}) V^\top\big)"),
], doc="The eigenvectors (columns) of a symmetric matrix, in the order of eigvalsh.")


@composite("eigh", operands=("A",), returns_tuple=True)
def eigh(A):
    """NumPy's ``eigh``: ``(eigenvalues, eigenvectors)`` of a symmetric matrix, from one
    factorization."""
    if type(A) is not Var:
        return tuple(np.linalg.eigh(raw(A)))
    factors = _eigh_forward(A._value)
    return (record(OPS["eigvalsh"], (A,), factors["w"], factors),
            record(OPS["eigh_vectors"], (A,), factors["v"], factors))


# ---- pinv -----------------------------------------------------------------------------------------


def _pinv_vjp(g, z, A):
    """Ā for constant rank (Golub & Pereyra 1973), with P = A⁺:
    Ā = (−P ḡᵀ P + P Pᵀ ḡ (I − A P) + (I − P A) ḡ Pᵀ P)ᵀ."""
    m, n = np.shape(raw(A))[-2:]
    gt = _mT(g)
    first = -matmul(matmul(z, gt), z)
    second = matmul(matmul(matmul(z, _mT(z)), g), np.eye(m) - matmul(A, z))
    third = matmul(matmul(matmul(np.eye(n) - matmul(z, A), g), _mT(z)), z)
    return _mT(first + second + third)


pinv = primitive("pinv", np.linalg.pinv, symbol="A⁺",
                 shape=lambda A: (lambda b, m, n: b + (n, m))(*_matrices_shape("pinv", A)), cost=_svd_cost, grads=[
    ("A", _pinv_vjp,
     r"\bar{A} \mathrel{+}= \big(-P\bar{z}^\top P + P P^\top \bar{z}(I - AP) + (I - PA)\bar{z} P^\top P\big)^\top"),
], doc="The Moore-Penrose pseudo-inverse (through the SVD); differentiable where the rank is constant.")

# ---- norm -----------------------------------------------------------------------------------------

_MATRIX_ORDERS = (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)


def _norm_kind(shape: tuple, ord=None, axis=None) -> tuple:
    """(the axes the norm reduces, "vector" or "matrix"), by NumPy's rules, or ShapeError."""
    ndim = len(shape)
    if axis is None:
        if ord is None:
            return tuple(range(ndim)), "vector"  # the 2-norm of all entries, whatever the shape
        if ndim == 1:
            axes = (0,)
        elif ndim == 2:
            axes = (0, 1)
        else:
            raise ShapeError(f"norm with ord={ord!r} takes a vector or a matrix, or axis=, not shape {shape}")
    else:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        axes = tuple(normalize_axis(a, ndim) for a in axes)
        if len(axes) not in (1, 2) or len(set(axes)) != len(axes):
            raise ShapeError(f"norm takes one axis (a vector norm) or two (a matrix norm), not {axis!r}")
    if len(axes) == 1:
        if isinstance(ord, str):
            raise ShapeError(f"the order {ord!r} is a matrix norm's; a vector norm takes a number")
        return axes, "vector"
    if not (ord in ("fro", "nuc") if isinstance(ord, str) else ord in _MATRIX_ORDERS):
        raise ShapeError(f"the order {ord!r} is no matrix norm; they are {', '.join(map(repr, _MATRIX_ORDERS))}")
    return axes, "matrix"


def _norm_shape(x: tuple, ord=None, axis=None, keepdims=False) -> tuple:
    axes, _ = _norm_kind(x, ord, axis)
    return reduced(x, axes, keepdims)


def _norm_forward(x, ord=None, axis=None, keepdims=False):
    _norm_kind(np.shape(x), ord, axis)
    return np.linalg.norm(x, ord, axis, keepdims)


def _norm_vjp(g, z, x, ord=None, axis=None, keepdims=False):
    axes, kind = _norm_kind(np.shape(raw(x)), ord, axis)
    shape = np.shape(raw(x))
    spread = unreduce(g, shape, axes, keepdims)  # z̄ on every entry of its vector or matrix
    z_kept = unreduce(z, shape, axes, keepdims)
    xv, zv = raw(x), raw(z_kept)
    if ord is None or ord == "fro" or (kind == "vector" and ord == 2):
        return spread * x / _nonzero(z_kept)
    if kind == "vector":
        if ord == 0:
            return zeros_like(x)
        if ord == 1:
            return spread * np.sign(xv)
        if ord in (np.inf, -np.inf):
            return spread * np.sign(xv) * _shares(np.abs(xv), zv, axes)
        magnitude = _nonzero(abs(x)) ** (ord - 1) * (xv != 0)  # |x|^(p-1), 0 where x = 0
        return spread * sign(x) * magnitude / _nonzero(z_kept) ** (ord - 1)
    if ord in (1, -1, np.inf, -np.inf):  # the largest (smallest) column or row sum of |x|
        summed, across = (axes[0], axes[1]) if ord in (1, -1) else (axes[1], axes[0])
        sums = np.sum(np.abs(xv), axis=summed, keepdims=True)
        return spread * np.sign(xv) * _shares(sums, np.reshape(raw(z), kept_shape(shape, axes)), across)
    moved = moveaxis(x, axes, (-2, -1))
    U, s, Vh = svd(moved, full_matrices=False)
    if ord == "nuc":
        direction = matmul(U, Vh)
    else:  # ±2: the outer product of the largest (smallest) singular pair
        pick = slice(0, 1) if ord == 2 else slice(-1, None)
        direction = matmul(U[..., :, pick], Vh[..., pick, :])
    return spread * moveaxis(direction, (-2, -1), axes)


def _norm_cost(x: tuple, ord=None, axis=None, keepdims=False) -> float:
    """Two passes over the entries; an SVD of each matrix for the nuclear and spectral norms."""
    axes, kind = _norm_kind(x, ord, axis)
    if kind == "matrix" and ord in ("nuc", 2, -2):
        return _svd_cost(tuple(n for i, n in enumerate(x) if i not in axes) + tuple(x[a] for a in axes))
    return 2 * size_of(x)


norm = primitive("norm", _norm_forward, symbol="‖·‖", attrs=("ord", "axis", "keepdims"), shape=_norm_shape,
                 cost=_norm_cost, grads=[
    ("x", _norm_vjp, r"\bar{x} \mathrel{+}= \bar{z}\, x / z \quad (\text{2-norm; other orders: see the docs})"),
], doc="NumPy's linalg.norm: vector norms (ord a number or ±inf) and matrix norms (fro, nuc, ±1, ±2, ±inf).")

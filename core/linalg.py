r"""Linear algebra, declared through the same op table as everything else.

The VJPs here are the classic matrix-calculus results; the reference for all of them is
M. B. Giles, *An extended collection of matrix derivative results for forward and reverse mode
algorithmic differentiation* (2008), and for ``cholesky`` I. Murray, *Differentiation of the
Cholesky decomposition* (2016).

Factorizations, not inverses: ``solve`` keeps the LU factors of its forward pass and its VJP solves
the transposed system with them (``lu_solve(trans=1)``), the same O(n²) per right-hand side that
the forward paid, with no extra factorization and no explicit inverse. ``slogdet`` works from an
LU factorization too, ``logdet`` from a Cholesky factorization when its matrix is symmetric
positive definite (a covariance; half the work) and from LU otherwise. A singular matrix, a matrix
that is not positive definite, or a negative determinant under ``logdet`` raises ``LinAlgError``
naming the op, never a silent NaN.

Every op here takes one square 2-D matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dgemm
from scipy.linalg.lapack import dgecon, dgetrf, dpotrf

from .errors import LinAlgError, ShapeError
from .ops_products import matmul, outer
from .ops_shape import transpose
from .optable import composite, primitive, size_of
from .var import Var, raw

_EPS = np.finfo(np.float64).eps


# ---- helpers --------------------------------------------------------------------------------------


def _square(op: str, A) -> None:
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ShapeError(f"{op} needs a square matrix, got shape {A.shape}", op=op, shapes=(A.shape,))
    if not np.all(np.isfinite(A)):
        raise LinAlgError(f"{op}: the matrix contains NaN or infinity", op=op)


def _square_shape(op: str, A: tuple) -> int:
    """The shape rule's version of ``_square``: the order n of a square matrix, else ShapeError."""
    if len(A) != 2 or A[0] != A[1]:
        raise ShapeError(f"{op} needs a square matrix, got shape {A}", op=op, shapes=(A,))
    return A[0]


def _number_of_square(op: str):
    """The shape rule of det, logdet, trace ...: a square matrix in, a number out."""

    def rule(A: tuple) -> tuple:
        _square_shape(op, A)
        return ()

    return rule


def _same_square(op: str):
    """The shape rule of inv, cholesky: a square matrix in, one of the same shape out."""

    def rule(A: tuple) -> tuple:
        _square_shape(op, A)
        return A

    return rule


def _lu_cost(A: tuple) -> float:
    """An LU factorization: 2n³/3 flops."""
    return 2 * A[0] ** 3 / 3


def _getrf(A):
    """LU with partial pivoting, as ``scipy.linalg.lu_factor`` but without its warning on a zero
    pivot (callers raise a clear error instead; silencing warnings would touch global state)."""
    lu, piv, _info = dgetrf(A)
    return lu, piv


def _lu(op: str, A):
    """LU factors of A, refusing a matrix that is singular to working precision.

    The check uses LAPACK's condition estimate (O(n²) given the factors): an exact zero pivot and
    a reciprocal condition number below machine epsilon both mean the solution would be noise.
    """
    lu, piv = _getrf(A)
    if np.any(np.diagonal(lu) == 0.0):
        raise LinAlgError(f"{op}: the matrix is singular (a zero pivot in its LU factorization)", op=op)
    rcond, _ = dgecon(lu, np.linalg.norm(A, 1), norm="1")
    if rcond < _EPS:
        raise LinAlgError(f"{op}: the matrix is singular to working precision (rcond = {rcond:.1e})", op=op)
    return lu, piv


def _is_graph(*xs) -> bool:
    return any(type(x) is Var for x in xs)


# ---- solve, inv, det, logdet ----------------------------------------------------------------------


def _solve_forward(A, b):
    _square("solve", A)
    if b.ndim not in (1, 2) or b.shape[0] != A.shape[0]:
        raise ShapeError(
            f"solve: A is {A.shape} but b is {b.shape}; b needs {A.shape[0]} rows",
            op="solve", shapes=(A.shape, b.shape),
        )
    lu = _lu("solve", A)
    return scipy.linalg.lu_solve(lu, b, check_finite=False), {"lu": lu}


def _solve_vjp_b(g, z, A, b, lu=None):
    """b̄ = A⁻ᵀ z̄: one solve with the transposed system, reusing the forward's LU factors."""
    if lu is not None and not _is_graph(g, A):
        return scipy.linalg.lu_solve(lu, g, trans=1, check_finite=False)
    return solve(transpose(A), g)


def _solve_vjp_A(g, z, A, b, lu=None):
    """Ā = −b̄ xᵀ with b̄ = A⁻ᵀ z̄ and x = A⁻¹ b (Giles 2008, 2.3.1)."""
    gb = _solve_vjp_b(g, z, A, b, lu)
    if b.ndim == 1:
        return -outer(gb, z)
    if not _is_graph(gb, z):
        # SciPy's BLAS, as the LU solves before it: NumPy and SciPy each ship an OpenBLAS, and
        # switching between the two leaves one's threads spinning while the other's work.
        return dgemm(-1.0, gb, z, trans_b=True)
    return -matmul(gb, transpose(z))


def _solve_shape(A: tuple, b: tuple) -> tuple:
    n = _square_shape("solve", A)
    if len(b) not in (1, 2) or b[0] != n:
        raise ShapeError(f"solve: A is {A} but b is {b}; b needs {n} rows", op="solve", shapes=(A, b))
    return b


# LU (2n³/3) and two triangular solves per right-hand side (2n² each).
solve = primitive("solve", _solve_forward, saves=True, shape=_solve_shape,
                  cost=lambda A, b: 2 * A[0] ** 3 / 3 + 2 * A[0] ** 2 * size_of(b[1:]), grads=[
    ("A", _solve_vjp_A, r"\bar{A} \mathrel{+}= -A^{-\top}\bar{z}\, z^\top"),
    ("b", _solve_vjp_b, r"\bar{b} \mathrel{+}= A^{-\top}\bar{z}"),
], doc="solve(A, b): x with A x = b, through an LU factorization kept for the backward pass.")


def _inv_forward(A):
    _square("inv", A)
    lu = _lu("inv", A)
    return scipy.linalg.lu_solve(lu, np.eye(A.shape[0]), check_finite=False)


inv = primitive("inv", _inv_forward, symbol="⁻¹", shape=_same_square("inv"),
                cost=lambda A: 2 * A[0] ** 3, grads=[
    ("A", lambda g, z, A: -matmul(transpose(z), matmul(g, transpose(z))),
     r"\bar{A} \mathrel{+}= -A^{-\top}\bar{z}\,A^{-\top}"),
])


def _cofactor(A):
    """det(A)·A⁻ᵀ computed through the SVD, so it is right for singular A too."""
    U, s, Vt = np.linalg.svd(A)
    others = np.array([np.prod(np.delete(s, i)) for i in range(len(s))])
    return np.linalg.det(U) * np.linalg.det(Vt) * (U * others) @ Vt


def _det_vjp(g, z, A):
    if _is_graph(g, A):
        return g * z * transpose(inv(A))
    return g * _cofactor(A)


def _det_forward(A):
    _square("det", A)
    return np.linalg.det(A)


det = primitive("det", _det_forward, shape=_number_of_square("det"), cost=_lu_cost, grads=[
    ("A", _det_vjp, r"\bar{A} \mathrel{+}= \bar{z}\,\det(A)\,A^{-\top}"),
])


def _lu_logdet(op: str, A):
    """(sign, log|det A|, LU factors) from one LU factorization."""
    _square(op, A)
    lu, piv = _getrf(A)
    diag = np.diagonal(lu)
    if np.any(diag == 0.0):
        raise LinAlgError(f"{op}: the matrix is singular (determinant 0, log det = −∞)", op=op)
    swaps = np.count_nonzero(piv != np.arange(len(piv)))
    sign = (-1.0) ** swaps * np.prod(np.sign(diag))
    return sign, np.sum(np.log(np.abs(diag))), (lu, piv)


def _logdet_vjp(g, z, A, lu=None, sign=None, chol=None):
    """∂ log|det A| / ∂A = A⁻ᵀ, from the forward's factors (Giles 2008, 2.2.2)."""
    if _is_graph(g, A):
        return g * transpose(inv(A))
    if chol is not None:  # A symmetric positive definite: A⁻ᵀ = A⁻¹ from its Cholesky factor
        return g * scipy.linalg.cho_solve((chol, True), np.eye(A.shape[0]), check_finite=False)
    return g * scipy.linalg.lu_solve(lu, np.eye(A.shape[0]), trans=1, check_finite=False)


def _logabsdet_forward(A):
    sign, value, lu = _lu_logdet("logabsdet", A)
    return value, {"lu": lu, "sign": sign}


def _logdet_forward(A):
    """Through Cholesky when A is exactly symmetric and positive definite (covariances: half the
    work of LU, and log det A = 2 Σ log Lᵢᵢ), else through LU."""
    _square("logdet", A)
    if np.array_equal(A, A.T):
        chol, info = dpotrf(A, lower=1, clean=0)
        if info == 0:
            return 2.0 * np.sum(np.log(np.diagonal(chol))), {"chol": chol}
    sign, value, lu = _lu_logdet("logdet", A)
    if sign < 0:
        raise LinAlgError(
            "logdet: the determinant is negative, so its log is undefined; "
            "use slogdet for (sign, log|det|)", op="logdet",
        )
    return value, {"lu": lu}


logabsdet = primitive("logabsdet", _logabsdet_forward, symbol="log|det|", saves=True,
                      shape=_number_of_square("logabsdet"), cost=_lu_cost, grads=[
    ("A", _logdet_vjp, r"\bar{A} \mathrel{+}= \bar{z}\,A^{-\top}"),
])
logdet = primitive("logdet", _logdet_forward, symbol="log det", saves=True,
                   shape=_number_of_square("logdet"), cost=_lu_cost, grads=[
    ("A", _logdet_vjp, r"\bar{A} \mathrel{+}= \bar{z}\,A^{-\top}"),
], doc="log det A for det A > 0 (covariances); a LinAlgError otherwise. Through Cholesky or LU.")


@composite("slogdet", operands=("A",), returns_tuple=True)
def slogdet(A):
    """``(sign, log|det A|)`` as NumPy returns them; ``sign`` is a constant (its gradient is 0)."""
    out = logabsdet(A)
    if type(out) is Var:
        return out.attrs["sign"], out
    return np.linalg.slogdet(raw(A))[0], out


# ---- cholesky -------------------------------------------------------------------------------------


def _cholesky_forward(A):
    _square("cholesky", A)
    try:
        return np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        raise LinAlgError("cholesky: the matrix is not positive definite", op="cholesky") from None


def _phi(X):
    """Lower triangle with the diagonal halved (Murray 2016, eq. 10), for arrays and Vars alike."""
    n = X.shape[0]
    return X * (np.tril(np.ones((n, n))) - 0.5 * np.eye(n))


def _cholesky_vjp(g, L, A):
    """Ā = Φ-symmetrized L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Murray 2016, eq. 10).

    Convention: A is taken to be symmetric and the gradient returned is symmetric, i.e. it is the
    gradient for perturbations that keep A symmetric (the only ones for which L is defined). NumPy
    reads only the lower triangle, so the entrywise derivative would differ above the diagonal;
    test it by symmetrizing the input first, as the test suite does.
    """
    P = _phi(matmul(transpose(L), g))
    if _is_graph(g, L):
        left = solve(transpose(L), P)  # L⁻ᵀ P
        S = transpose(solve(transpose(L), transpose(left)))  # (L⁻ᵀ (L⁻ᵀ P)ᵀ)ᵀ = L⁻ᵀ P L⁻¹
    else:
        left = scipy.linalg.solve_triangular(L, P, lower=True, trans="T", check_finite=False)
        S = scipy.linalg.solve_triangular(L, left.T, lower=True, trans="T", check_finite=False).T
    return 0.5 * (S + transpose(S))


cholesky = primitive("cholesky", _cholesky_forward, symbol="chol",
                     shape=_same_square("cholesky"), cost=lambda A: A[0] ** 3 / 3, grads=[
    ("A", _cholesky_vjp, r"\bar{A} \mathrel{+}= \operatorname{sym}\!\big(L^{-\top}\Phi(L^\top \bar{L})L^{-1}\big)"),
], doc="Lower Cholesky factor of a symmetric positive-definite matrix (symmetric-gradient convention).")

r"""Linear algebra, declared through the same op table as everything else: ``solve``, ``inv``,
``det``, ``logdet``, ``logabsdet`` (``slogdet``), ``cholesky``.

The VJPs here are the classic matrix-calculus results; the reference for all of them is
M. B. Giles, *An extended collection of matrix derivative results for forward and reverse mode
algorithmic differentiation* (2008), and for ``cholesky`` I. Murray, *Differentiation of the
Cholesky decomposition* (2016).

Factorizations, not inverses: ``solve`` keeps the factors of its forward pass (Cholesky when A is
exactly symmetric and positive definite, as a covariance is; LU otherwise) and its VJP solves the
transposed system with them (``lu_solve(trans=1)``), the same O(n²) per right-hand side that the
forward paid, with no extra factorization and no explicit inverse. ``slogdet`` works from an
LU factorization too, ``logdet`` from a Cholesky factorization when its matrix is symmetric
positive definite (a covariance; half the work) and from LU otherwise. A singular matrix, a matrix
that is not positive definite, or a negative determinant under ``logdet`` raises ``LinAlgError``
naming the op (and, in a stack, which matrix), never a silent NaN.

Every op takes a square matrix, or a stack of them (leading axes, as in NumPy): the forward
factorizes each matrix of the stack with the same checks, and the VJPs are the same formulas on
stacks (``swapaxes(-1, -2)`` for the transpose, batched ``matmul``). ``solve(A, b)`` follows
NumPy 2: a 1-D ``b`` is one vector for every matrix; otherwise ``b`` is a stack of (n, k)
right-hand sides, its leading axes broadcast against A's.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from scipy.linalg.blas import dgemm
from scipy.linalg.lapack import dgecon, dgetrf, dpocon, dpotrf

from .errors import LinAlgError, ShapeError
from .ops_products import _mT, matmul, outer
from .ops_reduce import _others_product_plain
from .ops_shape import reshape, unbroadcast
from .optable import composite, primitive, size_of
from .var import Var, raw

_EPS = np.finfo(np.float64).eps


# ---- helpers --------------------------------------------------------------------------------------


def _square(op: str, A) -> None:
    _square_shape(op, A.shape)
    if not np.all(np.isfinite(A)):
        raise LinAlgError(f"{op}: the matrix contains NaN or infinity", op=op)


def _square_shape(op: str, A: tuple) -> int:
    """The order n of a square matrix, or of each matrix of a stack (..., n, n); else ShapeError."""
    if len(A) < 2 or A[-1] != A[-2]:
        raise ShapeError(f"{op} needs a square matrix (or a stack of them), got shape {A}", op=op, shapes=(A,))
    return A[-1]


def _number_of_square(op: str):
    """The shape rule of det, logdet ...: a square matrix in, a number out (one per matrix)."""

    def rule(A: tuple) -> tuple:
        _square_shape(op, A)
        return A[:-2]

    return rule


def _same_square(op: str):
    """The shape rule of inv, cholesky: square matrices in, the same shape out."""

    def rule(A: tuple) -> tuple:
        _square_shape(op, A)
        return A

    return rule


def _per_matrix(flops):
    """A cost rule: ``flops(n)`` for each matrix of the stack."""
    return lambda A, *rest: size_of(A[:-2]) * flops(A[-1])


def _each_matrix(op: str, A, work):
    """``work`` on every matrix of a stack (leading axes), the results as a list in order; a
    LinAlgError says which matrix of the stack it is about."""
    results = []
    for index in np.ndindex(A.shape[:-2]):
        try:
            results.append(work(A[index]))
        except LinAlgError as exc:
            raise LinAlgError(f"{exc.message} (matrix {index} of the stack)", op=op) from None
    return results


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


def _spd_cholesky(A):
    """The lower Cholesky factor of A if A is exactly symmetric and positive definite (half the
    work of LU, and no pivoting), else None."""
    if not np.array_equal(A, A.T):
        return None
    chol, info = dpotrf(A, lower=1, clean=0)
    return chol if info == 0 else None


def _cholesky_if_spd(op: str, A):
    """``_spd_cholesky``, refusing, like ``_lu``, a matrix that is singular to working precision
    (LAPACK's condition estimate from the factor)."""
    chol = _spd_cholesky(A)
    if chol is None:
        return None
    rcond, _ = dpocon(chol, np.linalg.norm(A, 1), uplo="L")
    if rcond < _EPS:
        raise LinAlgError(f"{op}: the matrix is singular to working precision (rcond = {rcond:.1e})", op=op)
    return chol


def _is_graph(*xs) -> bool:
    return any(type(x) is Var for x in xs)


def _per_matrix_scale(g, A):
    """``g`` (one number per matrix of the stack) shaped to multiply A's matrices."""
    return g if np.ndim(raw(A)) == 2 else reshape(g, np.shape(raw(g)) + (1, 1))


# ---- solve ----------------------------------------------------------------------------------------


def _solve_shape(A: tuple, b: tuple) -> tuple:
    n = _square_shape("solve", A)
    if len(b) == 1 and b[0] == n:
        return A[:-1]
    if len(b) >= 2 and b[-2] == n:
        return np.broadcast_shapes(A[:-2], b[:-2]) + b[-2:]
    raise ShapeError(f"solve: A is {A} but b is {b}; b needs {n} rows", op="solve", shapes=(A, b))


def _solve_forward(A, b):
    _square("solve", A)
    _solve_shape(A.shape, b.shape)
    if A.ndim == 2 and b.ndim <= 2:  # one system: keep its factors for the backward pass
        chol = _cholesky_if_spd("solve", A)
        if chol is not None:  # a covariance, say: Cholesky, and A⁻ᵀ = A⁻¹ in the backward pass
            return scipy.linalg.cho_solve((chol, True), b, check_finite=False), {"chol": chol}
        lu = _lu("solve", A)
        return scipy.linalg.lu_solve(lu, b, check_finite=False), {"lu": lu}
    rhs = b[:, None] if b.ndim == 1 else b
    batch = np.broadcast_shapes(A.shape[:-2], rhs.shape[:-2])
    A_all = np.broadcast_to(A, batch + A.shape[-2:])
    rhs_all = np.broadcast_to(rhs, batch + rhs.shape[-2:])
    solutions = _each_matrix("solve", A_all, lambda M: _lu("solve", M))
    x = np.stack([scipy.linalg.lu_solve(lu, rhs_all[index], check_finite=False)
                  for lu, index in zip(solutions, np.ndindex(batch))]).reshape(batch + rhs.shape[-2:])
    return (x[..., 0] if b.ndim == 1 else x), {}


def _transposed_solve(factors: dict, rhs):
    """A⁻ᵀ rhs from the forward's factors (Cholesky: A symmetric, so A⁻ᵀ = A⁻¹; or LU)."""
    if factors.get("chol") is not None:
        return scipy.linalg.cho_solve((factors["chol"], True), rhs, check_finite=False)
    return scipy.linalg.lu_solve(factors["lu"], rhs, trans=1, check_finite=False)


def _solve_vjp_b(g, z, A, b, lu=None, chol=None):
    """b̄ = A⁻ᵀ z̄: one solve with the transposed system, reusing the forward's factors."""
    if (lu is not None or chol is not None) and not _is_graph(g, A):
        return _transposed_solve({"lu": lu, "chol": chol}, g)
    if np.ndim(raw(b)) == 1 and np.ndim(raw(A)) > 2:  # one vector for a stack: solve, then sum
        columns = solve(_mT(A), reshape(g, np.shape(raw(g)) + (1,)))
        return unbroadcast(reshape(columns, np.shape(raw(g))), np.shape(raw(b)))
    return unbroadcast(solve(_mT(A), g), np.shape(raw(b)))


def _solve_vjp_A(g, z, A, b, lu=None, chol=None):
    """Ā = −b̄ xᵀ with b̄ = A⁻ᵀ z̄ and x = A⁻¹ b (Giles 2008, 2.3.1)."""
    if np.ndim(raw(b)) == 1:
        if np.ndim(raw(A)) == 2:
            return -outer(_solve_vjp_b(g, z, A, b, lu, chol), z)
        gb = solve(_mT(A), reshape(g, np.shape(raw(g)) + (1,)))  # per matrix, before summing over b
        return unbroadcast(-matmul(gb, reshape(z, np.shape(raw(z))[:-1] + (1, -1))), np.shape(raw(A)))
    if np.ndim(raw(A)) == 2 and np.ndim(raw(b)) == 2:
        if (lu is not None or chol is not None) and not _is_graph(g, A) and b.shape[1] > b.shape[0]:
            # More right-hand sides k than rows n: −A⁻ᵀ(z̄ xᵀ) costs 2n²k + 2n³ flops where
            # −(A⁻ᵀz̄)xᵀ costs 4n²k (the same product, associated the other way). dgemm is SciPy's
            # BLAS, as the solves: NumPy and SciPy each ship an OpenBLAS, and switching between
            # the two leaves one's threads spinning while the other's work.
            return -_transposed_solve({"lu": lu, "chol": chol}, _times_transposed(g, z))
        gb = _solve_vjp_b(g, z, A, b, lu, chol)
        if not _is_graph(gb, z):
            return _times_transposed(gb, z, -1.0)
        return -matmul(gb, _mT(z))
    return unbroadcast(-matmul(solve(_mT(A), g), _mT(z)), np.shape(raw(A)))


def _times_transposed(a, b, scale: float = 1.0):
    """scale · a bᵀ with SciPy's dgemm, which wants Fortran-ordered operands: each is passed as
    itself or as its transpose, whichever is a Fortran-ordered view, so neither is copied."""
    a_f, a_t = (a, 0) if a.flags.f_contiguous else (a.T, 1)
    b_f, b_t = (b, 1) if b.flags.f_contiguous else (b.T, 0)
    return dgemm(scale, a_f, b_f, trans_a=a_t, trans_b=b_t)


def _solve_cost(A: tuple, b: tuple) -> float:
    """LU (2n³/3) and two triangular solves per right-hand side (2n² each), for each matrix."""
    n, columns = A[-1], (b[-1] if len(b) > 1 else 1)
    batch = np.broadcast_shapes(A[:-2], b[:-2]) if len(b) > 1 else A[:-2]
    return size_of(batch) * (2 * n ** 3 / 3 + 2 * n ** 2 * columns)


solve = primitive("solve", _solve_forward, saves=True, shape=_solve_shape, cost=_solve_cost, grads=[
    ("A", _solve_vjp_A, r"\bar{A} \mathrel{+}= -A^{-\top}\bar{z}\, z^\top"),
    ("b", _solve_vjp_b, r"\bar{b} \mathrel{+}= A^{-\top}\bar{z}"),
], doc="solve(A, b): x with A x = b, through a factorization kept for the backward pass (Cholesky for an "
       "exactly symmetric positive-definite A, LU otherwise).")

# ---- inv, det, logdet -----------------------------------------------------------------------------


def _inv_forward(A):
    _square("inv", A)
    eye = np.eye(A.shape[-1])
    inverses = _each_matrix("inv", A, lambda M: scipy.linalg.lu_solve(_lu("inv", M), eye, check_finite=False))
    return inverses[0] if A.ndim == 2 else np.stack(inverses).reshape(A.shape)


inv = primitive("inv", _inv_forward, symbol="⁻¹", shape=_same_square("inv"), cost=_per_matrix(lambda n: 2 * n ** 3),
                grads=[
    ("A", lambda g, z, A: -matmul(_mT(z), matmul(g, _mT(z))), r"\bar{A} \mathrel{+}= -A^{-\top}\bar{z}\,A^{-\top}"),
])


def _cofactor(A):
    """det(A)·A⁻ᵀ computed through the SVD, so it is right for singular A too (stacks too)."""
    U, s, Vt = np.linalg.svd(A)
    others = _others_product_plain(s, (-1,))  # each singular value's product of the others
    sign = np.linalg.det(U) * np.linalg.det(Vt)
    return sign[..., None, None] * (U * others[..., None, :]) @ Vt


def _det_vjp(g, z, A):
    if _is_graph(g, A):
        return _per_matrix_scale(g * z, A) * _mT(inv(A))
    return _per_matrix_scale(g, A) * _cofactor(A)


def _det_forward(A):
    _square("det", A)
    return np.linalg.det(A)


det = primitive("det", _det_forward, shape=_number_of_square("det"), cost=_per_matrix(lambda n: 2 * n ** 3 / 3),
                grads=[
    ("A", _det_vjp, r"\bar{A} \mathrel{+}= \bar{z}\,\det(A)\,A^{-\top}"),
])


def _lu_logdet(op: str, A):
    """(sign, log|det A|, LU factors) of one matrix from one LU factorization."""
    lu, piv = _getrf(A)
    diag = np.diagonal(lu)
    if np.any(diag == 0.0):
        raise LinAlgError(f"{op}: the matrix is singular (determinant 0, log det = −∞)", op=op)
    swaps = np.count_nonzero(piv != np.arange(len(piv)))
    sign = (-1.0) ** swaps * np.prod(np.sign(diag))
    return sign, np.sum(np.log(np.abs(diag))), (lu, piv)


def _logdet_vjp(g, z, A, lu=None, sign=None, chol=None):
    """∂ log|det A| / ∂A = A⁻ᵀ, from the forward's factors (Giles 2008, 2.2.2)."""
    if chol is not None and not _is_graph(g, A):  # A symmetric positive definite: A⁻ᵀ = A⁻¹
        return g * scipy.linalg.cho_solve((chol, True), np.eye(A.shape[0]), check_finite=False)
    if lu is not None and not _is_graph(g, A):
        return g * scipy.linalg.lu_solve(lu, np.eye(A.shape[0]), trans=1, check_finite=False)
    return _per_matrix_scale(g, A) * _mT(inv(A))


def _logabsdet_forward(A):
    _square("logabsdet", A)
    if A.ndim == 2:
        sign, value, lu = _lu_logdet("logabsdet", A)
        return value, {"lu": lu, "sign": sign}
    signs, values, _ = zip(*_each_matrix("logabsdet", A, lambda M: _lu_logdet("logabsdet", M)))
    return np.reshape(values, A.shape[:-2]), {"sign": np.reshape(signs, A.shape[:-2])}


def _logdet_one(A):
    """(log det A, the factors kept), through Cholesky when A is exactly symmetric and positive
    definite (covariances: half the work of LU, and log det A = 2 Σ log Lᵢᵢ), else through LU."""
    chol = _spd_cholesky(A)
    if chol is not None:
        return 2.0 * np.sum(np.log(np.diagonal(chol))), {"chol": chol}
    sign, value, lu = _lu_logdet("logdet", A)
    if sign < 0:
        raise LinAlgError(
            "logdet: the determinant is negative, so its log is undefined; "
            "use slogdet for (sign, log|det|)", op="logdet",
        )
    return value, {"lu": lu}


def _logdet_forward(A):
    _square("logdet", A)
    if A.ndim == 2:
        return _logdet_one(A)
    values = [value for value, _ in _each_matrix("logdet", A, _logdet_one)]
    return np.reshape(values, A.shape[:-2]), {}


logabsdet = primitive("logabsdet", _logabsdet_forward, symbol="log|det|", saves=True,
                      shape=_number_of_square("logabsdet"), cost=_per_matrix(lambda n: 2 * n ** 3 / 3), grads=[
    ("A", _logdet_vjp, r"\bar{A} \mathrel{+}= \bar{z}\,A^{-\top}"),
])
logdet = primitive("logdet", _logdet_forward, symbol="log det", saves=True,
                   shape=_number_of_square("logdet"), cost=_per_matrix(lambda n: 2 * n ** 3 / 3), grads=[
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
        which = "a matrix of the stack is" if A.ndim > 2 else "the matrix is"
        raise LinAlgError(f"cholesky: {which} not positive definite", op="cholesky") from None


def _phi(X):
    """Lower triangle with the diagonal halved (Murray 2016, eq. 10), for arrays and Vars alike."""
    n = X.shape[-1]
    return X * (np.tril(np.ones((n, n))) - 0.5 * np.eye(n))


def _cholesky_vjp(g, L, A):
    """Ā = Φ-symmetrized L⁻ᵀ Φ(Lᵀ L̄) L⁻¹ (Murray 2016, eq. 10).

    Convention: A is taken to be symmetric and the gradient returned is symmetric, i.e. it is the
    gradient for perturbations that keep A symmetric (the only ones for which L is defined). NumPy
    reads only the lower triangle, so the entrywise derivative would differ above the diagonal;
    test it by symmetrizing the input first, as the test suite does.
    """
    P = _phi(matmul(_mT(L), g))
    if _is_graph(g, L) or np.ndim(raw(L)) > 2:
        left = solve(_mT(L), P)  # L⁻ᵀ P
        S = _mT(solve(_mT(L), _mT(left)))  # (L⁻ᵀ (L⁻ᵀ P)ᵀ)ᵀ = L⁻ᵀ P L⁻¹
    else:
        left = scipy.linalg.solve_triangular(L, P, lower=True, trans="T", check_finite=False)
        S = scipy.linalg.solve_triangular(L, left.T, lower=True, trans="T", check_finite=False).T
    return 0.5 * (S + _mT(S))


cholesky = primitive("cholesky", _cholesky_forward, symbol="chol",
                     shape=_same_square("cholesky"), cost=_per_matrix(lambda n: n ** 3 / 3), grads=[
    ("A", _cholesky_vjp, r"\bar{A} \mathrel{+}= \operatorname{sym}\!\big(L^{-\top}\Phi(L^\top \bar{L})L^{-1}\big)"),
], doc="Lower Cholesky factor of a symmetric positive-definite matrix (symmetric-gradient convention).")


# NumPy's linalg namespace in one place: ad.linalg.norm, ad.linalg.svd ... as numpy.linalg.norm.
from .linalg_spectral import eigh, eigvalsh, norm, pinv, svd, svdvals  # noqa: E402, F401

r"""THE op table: every primitive declared once, its forward, its VJPs and its abstract rules side
by side, gathered here from the themed modules that declare them.

    ops_elementwise  unary functions, binary ones with broadcasting, piecewise ones
    ops_reduce       reductions (axis, keepdims), scans, softmax
    ops_shape        reshaping, permuting, indexing, broadcasting, repeating
    ops_matrix       triangles and diagonals: tril, triu, diagonal, trace, diag
    ops_join         arrays from several Vars (stack, concatenate, array) and split into several
    ops_products     matmul, outer, dot and the other contractions
    linalg           factorizations: solve, inv, det, logdet, cholesky (matrices or stacks)
    linalg_spectral  svd, eigh, pinv, norm

A primitive is a NumPy forward plus, for each argument, a vector-Jacobian product (VJP) and the
rule it implements in LaTeX (``optable.primitive`` declares one). In the rules ``z`` is the op's
output and :math:`\bar v` the gradient of the final output with respect to ``v``;
``\mathrel{+}=`` says that a parent *adds* what it receives, because a node used twice (fan-out)
receives one contribution per use.

Why VJPs and not Jacobians: reverse mode needs only :math:`\bar x = J^\top \bar z`, which for
elementwise ops is a product and for ``A @ B`` is another matmul, never the (huge) Jacobian itself
(Baydin et al., *Automatic differentiation in machine learning: a survey*, JMLR 2018, section 3.2).

VJPs are written with the engine's own functions. On plain arrays those functions run NumPy
directly (the fast path of a first-order ``grad``); given ``Var`` arguments, which the backward pass
passes when asked to ``create_graph``, they build graph, so gradients can be differentiated again.

Each declaration also owns the op's *abstract* rules, for an interpreter that checks shapes and
budgets before anything is allocated (one rule table per interpretation, as in JAX's autodidax):

    OPS["matmul"].shape((2, 3), (3, 4))             # (2, 4); ShapeError naming the op otherwise
    OPS["sum"].shape((2, 3), axis=0)                 # (3,): attrs as the op takes them
    OPS["solve"].cost((200, 200), (200, 1000))       # ~8.5e7 flops: LU plus the triangular solves
    OPS["matmul"].abstract_eval((2, 3), (3, 4))      # ((2, 4), 24): both in one call

``shape`` refuses exactly the operand shapes the forward refuses (the op sweep checks it), with the
same ``ShapeError`` message. ``cost`` estimates the forward's floating-point work: entries read or
written for elementwise and data-movement ops (the default), multiply-adds for contractions,
textbook flop counts for factorizations. Most declarations name one of the shared shape rules
(``same_shape``, ``broadcast``, ``reduced``) and keep the default cost.

``FUNCTIONS`` lists every public function, primitives and compositions of them (``dot``,
``slogdet``), with how each is called; the program language and NumPy's dispatch follow it.
"""

from __future__ import annotations

from .linalg import cholesky, det, inv, logabsdet, logdet, slogdet, solve
from .linalg_spectral import eigh, eigh_vectors, eigvalsh, norm, pinv, svd, svd_u, svd_vh, svdvals
from .ops_elementwise import (
    abs,
    add,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    clip,
    cos,
    cosh,
    divide,
    exp,
    exp2,
    expm1,
    hypot,
    log,
    log1p,
    log2,
    log10,
    maximum,
    minimum,
    mod,
    multiply,
    negative,
    power,
    reciprocal,
    relu,
    sigmoid,
    sign,
    sin,
    sinh,
    softplus,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    where,
    zeros_like,
)
from .ops_join import array, array_split, atleast_1d, atleast_2d, atleast_3d, concatenate, hstack, split, stack, vstack
from .ops_matrix import diag, diagonal, trace, tril, triu
from .ops_products import dot, einsum, inner, kron, matmul, outer, tensordot
from .ops_reduce import cumsum, logsumexp, max, mean, min, prod, softmax, std, sum, var
from .ops_shape import (
    broadcast_to,
    expand_dims,
    flatten,
    flip,
    getitem,
    identity,
    moveaxis,
    ravel,
    repeat,
    reshape,
    roll,
    scatter,
    squeeze,
    swapaxes,
    tile,
    transpose,
    unbroadcast,
    unreduce,
)
from .optable import (
    FUNCTIONS,
    OPS,
    Op,
    Public,
    apply,
    broadcast,
    composite,
    kept_shape,
    normalize_axes,
    primitive,
    reduced,
    same_shape,
    size_of,
)

# Every public function by name (primitives and compositions), then the table's own helpers.
__all__ = sorted(FUNCTIONS) + [
    "OPS", "FUNCTIONS", "Op", "Public", "apply", "primitive", "composite", "broadcast", "reduced", "same_shape",
    "size_of", "kept_shape", "normalize_axes", "unbroadcast", "unreduce", "zeros_like",
]

r"""Shape, indexing and broadcasting primitives: the ops that move entries without arithmetic.

Their VJPs move the gradient back the same way (``transpose`` transposes it back, ``getitem``
scatters it into zeros), so each is linear and its second derivative is zero; ``unbroadcast``
and ``unreduce``, the helpers every broadcasting or reducing VJP uses, live here too.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ShapeError
from .optable import kept_shape, normalize_axes, primitive, same_shape, size_of

# ---- helpers the VJPs share ---------------------------------------------------------------------


def unbroadcast(g, shape: tuple):
    """Sum ``g`` over the axes that broadcasting added or stretched, so it has ``shape`` again.

    If ``a`` (shape (3,)) was added to ``M`` (shape (2, 3)), each entry of ``a`` was used twice, so
    its gradient is the sum of the two rows of :math:`\\bar z`: fan-out again, along an axis.
    """
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1
    )
    return reshape(sum(g, axis=axes), shape)


def unreduce(g, shape: tuple, axis, keepdims: bool):
    """Undo a reduction's shape: put back the reduced axes and broadcast (the VJP of ``sum``)."""
    if g.shape == shape:
        return g
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    return broadcast_to(g, shape)


# ---- shape rules -------------------------------------------------------------------------------


def _transpose_shape(x: tuple, axes=None) -> tuple:
    if axes is None:
        return x[::-1]
    if len(axes) != len(x) or sorted(normalize_axes(a, len(x))[0] for a in axes) != list(range(len(x))):
        raise ShapeError(f"axes {tuple(axes)} are not a permutation of the {len(x)} axes")
    return tuple(x[a] for a in axes)


def _reshape_shape(x: tuple, shape) -> tuple:
    """NumPy's reshape: one entry may be -1 (inferred); the sizes must agree."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d < -1 for d in dims) or list(dims).count(-1) > 1:
        raise ShapeError(f"cannot reshape to {dims}: sizes are ≥ 0, with at most one -1")
    known = math.prod(d for d in dims if d != -1)
    if -1 in dims:
        if known == 0 or size_of(x) % known:
            raise ShapeError(f"cannot reshape {size_of(x)} entries into {dims}")
        dims = tuple(size_of(x) // known if d == -1 else d for d in dims)
    if size_of(dims) != size_of(x):
        raise ShapeError(f"cannot reshape {size_of(x)} entries into shape {dims}")
    return dims


def _broadcast_to_shape(x: tuple, shape) -> tuple:
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(d < 0 for d in dims) or len(dims) < len(x) or np.broadcast_shapes(x, dims) != dims:
        raise ShapeError(f"shape {x} cannot be broadcast to {dims}")
    return dims


def _indexed_shape(shape: tuple, index) -> tuple:
    """The shape of ``x[index]`` for ``x`` of this shape, from a stride-0 view: nothing allocated
    but the result of an integer-array index (whose size the index itself bounds)."""
    return np.broadcast_to(np.zeros((), dtype=np.bool_), shape)[index].shape


def _scatter_shape(g: tuple, index, shape) -> tuple:
    target = _indexed_shape(tuple(shape), index)
    if np.broadcast_shapes(g, target) != target:
        raise ShapeError(f"values of shape {g} do not fit the indexed shape {target}")
    return tuple(shape)


# ---- shape and indexing -------------------------------------------------------------------------


def _inverse_axes(axes, ndim: int):
    """The permutation that undoes ``axes`` (negative axes counted from the end)."""
    return None if axes is None else tuple(int(i) for i in np.argsort([a % ndim for a in axes]))


transpose = primitive("transpose", lambda x, axes=None: np.transpose(x, axes), symbol="ᵀ", attrs=("axes",),
                      shape=_transpose_shape, grads=[
    ("x", lambda g, z, x, axes=None: transpose(g, axes=_inverse_axes(axes, len(x.shape))),
     r"\bar{x} \mathrel{+}= \bar{z}^\top"),
])
reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape), attrs=("shape",), shape=_reshape_shape, grads=[
    ("x", lambda g, z, x, shape: reshape(g, x.shape), r"\bar{x} \mathrel{+}= \operatorname{reshape}(\bar{z})"),
])
# A real copy, not NumPy's read-only stride-0 view: BLAS would take a slow path on such a view.
broadcast_to = primitive(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape).copy(), symbol="bcast", attrs=("shape",),
    shape=_broadcast_to_shape, grads=[
        ("x", lambda g, z, x, shape: unbroadcast(g, x.shape),
         r"\bar{x} \mathrel{+}= \textstyle\sum_{\text{copies}} \bar{z}"),
    ])
identity = primitive("identity", lambda x: x, symbol="id", shape=same_shape, grads=[
    ("x", lambda g, z, x: g, r"\bar{x} \mathrel{+}= \bar{z}"),
])


def _scatter_forward(g, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


getitem = primitive("getitem", lambda x, index: x[index], symbol="[ ]", attrs=("index",), shape=_indexed_shape, grads=[
    ("x", lambda g, z, x, index: scatter(g, index=index, shape=x.shape),
     r"\bar{x}[\text{idx}] \mathrel{+}= \bar{z}"),
])
# The VJP of indexing: a zero array with `g` added at `index` (np.add.at, so repeated indices add).
scatter = primitive("scatter", _scatter_forward, symbol="scatter", attrs=("index", "shape"), shape=_scatter_shape,
                    grads=[
    ("g", lambda g, z, x, index, shape: getitem(g, index=index), r"\bar{g} \mathrel{+}= \bar{z}[\text{idx}]"),
])



# ---- diagonals ------------------------------------------------------------------------------------


def _square_shape(op: str, A: tuple) -> int:
    if len(A) != 2 or A[0] != A[1]:
        raise ShapeError(f"{op} needs a square matrix, got shape {A}", op=op, shapes=(A,))
    return A[0]


def _trace_forward(A):
    _square_shape("trace", A.shape)
    return np.trace(A)


trace = primitive("trace", _trace_forward, symbol="tr", shape=lambda A: (_square_shape("trace", A), ())[1], grads=[
    ("A", lambda g, z, A: g * np.eye(A.shape[0]), r"\bar{A} \mathrel{+}= \bar{z}\, I"),
])


def _diag_forward(x):
    if x.ndim not in (1, 2):
        raise ValueError("diag takes a vector (to make a diagonal matrix) or a matrix (to read its diagonal)")
    return np.diag(x).copy()


def _diag_shape(x: tuple) -> tuple:
    if len(x) == 1:
        return (x[0], x[0])
    if len(x) == 2:
        return (min(x),)
    raise ValueError("diag takes a vector (to make a diagonal matrix) or a matrix (to read its diagonal)")


# diag is its own VJP: reading a diagonal and building a diagonal matrix are adjoint to each other.
diag = primitive("diag", _diag_forward, shape=_diag_shape, grads=[
    ("x", lambda g, z, x: diag(g), r"\bar{x} \mathrel{+}= \operatorname{diag}(\bar{z})"),
])


# sum is broadcast_to's adjoint and lives with the reductions, which need this module first.
from .ops_reduce import sum  # noqa: E402

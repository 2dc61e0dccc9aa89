r"""Shape, indexing and broadcasting primitives: the ops that move entries without arithmetic.

Their VJPs move the gradient back the same way (``transpose`` transposes it back, ``flip`` flips
it back, ``getitem`` scatters it into zeros), so each is linear and its second derivative is
zero. ``unbroadcast`` and ``unreduce``, the helpers every broadcasting or reducing VJP uses, live
here too. NumPy's semantics throughout, with one exception: ``tril``/``triu`` need at least two
dimensions (NumPy turns a vector into a matrix there).
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ShapeError
from .optable import as_shape, composite, kept_shape, normalize_axes, normalize_axis, primitive, same_shape, size_of

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
    """Undo a reduction's shape: put back the reduced axes and broadcast (the VJP of ``sum``).

    On plain arrays the result is NumPy's read-only stride-0 view: nothing allocated, and the
    elementwise VJPs it usually meets read it as fast as a number (a fresh array the size of x
    costs page faults, which on a big gradient cost as much as a product). ``matmul``'s VJP
    makes it contiguous first; ``grad`` copies a gradient that is still such a view."""
    if g.shape == shape:
        return g
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    if type(g) is np.ndarray or type(g) is np.float64:
        return np.broadcast_to(g, shape)
    return broadcast_to(g, shape)


def along(axis: int, index, ndim: int) -> tuple:
    """The index that picks ``index`` (an int, a slice, an array) along ``axis`` only."""
    return (slice(None),) * (axis % ndim) + (index,)


# ---- shape rules -------------------------------------------------------------------------------


def _transpose_shape(x: tuple, axes=None) -> tuple:
    if axes is None:
        return x[::-1]
    if len(axes) != len(x) or sorted(normalize_axis(a, len(x)) for a in axes) != list(range(len(x))):
        raise ShapeError(f"axes {tuple(axes)} are not a permutation of the {len(x)} axes")
    return tuple(x[a] for a in axes)


def _reshape_shape(x: tuple, shape) -> tuple:
    """NumPy's reshape: one entry may be -1 (inferred); the sizes must agree."""
    dims = as_shape(shape)
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
    dims = as_shape(shape)
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


def _squeeze_shape(x: tuple, axis=None) -> tuple:
    if axis is None:
        return tuple(n for n in x if n != 1)
    axes = normalize_axes(axis, len(x))
    if any(x[a] != 1 for a in axes):
        raise ShapeError(f"only axes of size 1 can be squeezed out; {axis!r} of {x} is not")
    return tuple(n for i, n in enumerate(x) if i not in axes)


def _expand_dims_shape(x: tuple, axis) -> tuple:
    axes = normalize_axes(axis, len(x) + (1 if isinstance(axis, (int, np.integer)) else len(axis)))
    rest = iter(x)
    return tuple(1 if i in axes else next(rest) for i in range(len(x) + len(axes)))


def _swapaxes_shape(x: tuple, axis1, axis2) -> tuple:
    a, b = normalize_axis(axis1, len(x)), normalize_axis(axis2, len(x))
    out = list(x)
    out[a], out[b] = out[b], out[a]
    return tuple(out)


def _moveaxis_order(ndim: int, source, destination) -> list:
    """NumPy's moveaxis as a permutation of the axes."""
    src = [normalize_axis(a, ndim) for a in ((source,) if isinstance(source, (int, np.integer)) else source)]
    dst = [normalize_axis(a, ndim) for a in ((destination,) if isinstance(destination, (int, np.integer))
                                              else destination)]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ShapeError("moveaxis needs as many distinct destinations as distinct sources")
    order = [n for n in range(ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return order


def _roll_shape(x: tuple, shift, axis=None) -> tuple:
    if axis is not None:
        axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
        shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
        np.broadcast_shapes((len(axes),), (len(shifts),))
        for a in axes:
            normalize_axis(a, len(x))
    elif not isinstance(shift, (int, np.integer)):
        raise ShapeError("roll without an axis takes one shift")
    return x


def _repeat_counts(n: int, repeats) -> np.ndarray:
    """How often each of ``n`` entries is repeated: ``repeats`` broadcast to ``n``, all ≥ 0."""
    counts = np.broadcast_to(np.asarray(repeats), (n,)) if np.ndim(repeats) else np.full(n, repeats)
    if counts.dtype.kind not in "iu" or np.any(counts < 0):
        raise ShapeError(f"repeats must be whole numbers ≥ 0, not {repeats!r}")
    return counts


def _repeat_shape(x: tuple, repeats, axis=None) -> tuple:
    if axis is None:
        return (int(np.sum(_repeat_counts(size_of(x), repeats))),)
    a = normalize_axis(axis, len(x))
    return x[:a] + (int(np.sum(_repeat_counts(x[a], repeats))),) + x[a + 1:]


def _tile_dims(x: tuple, reps) -> tuple:
    """(x's shape, the repetitions), both padded with leading 1s to the same length."""
    reps = as_shape(reps)
    if any(r < 0 for r in reps):
        raise ShapeError(f"tile's repetitions must be ≥ 0, not {reps}")
    d = len(x) if len(x) > len(reps) else len(reps)
    return (1,) * (d - len(x)) + x, (1,) * (d - len(reps)) + reps


# ---- reshaping and permuting axes -----------------------------------------------------------------


def _inverse_axes(axes, ndim: int):
    """The permutation that undoes ``axes`` (negative axes counted from the end)."""
    return None if axes is None else tuple(int(i) for i in np.argsort([a % ndim for a in axes]))


transpose = primitive("transpose", lambda x, axes=None: np.transpose(x, axes), symbol="ᵀ", attrs=("axes",),
                      shape=_transpose_shape, grads=[
    ("x", lambda g, z, x, axes=None: transpose(g, axes=_inverse_axes(axes, len(x.shape))),
     r"\bar{x} \mathrel{+}= \bar{z}^\top"),
])
swapaxes = primitive("swapaxes", np.swapaxes, attrs=("axis1", "axis2"), shape=_swapaxes_shape, grads=[
    ("x", lambda g, z, x, axis1, axis2: swapaxes(g, axis1, axis2),
     r"\bar{x} \mathrel{+}= \operatorname{swapaxes}(\bar{z})"),
])
moveaxis = primitive("moveaxis", np.moveaxis, attrs=("source", "destination"),
                     shape=lambda x, source, destination: tuple(x[a] for a in _moveaxis_order(len(x), source,
                                                                                               destination)),
                     grads=[
    ("x", lambda g, z, x, source, destination: moveaxis(g, destination, source),
     r"\bar{x} \mathrel{+}= \operatorname{moveaxis}(\bar{z}, \text{back})"),
])
reshape = primitive("reshape", lambda x, shape: np.reshape(x, shape), attrs=("shape",), shape=_reshape_shape, grads=[
    ("x", lambda g, z, x, shape: reshape(g, x.shape), r"\bar{x} \mathrel{+}= \operatorname{reshape}(\bar{z})"),
])
ravel = primitive("ravel", np.ravel, shape=lambda x: (size_of(x),), grads=[
    ("x", lambda g, z, x: reshape(g, x.shape), r"\bar{x} \mathrel{+}= \operatorname{reshape}(\bar{z})"),
])
squeeze = primitive("squeeze", lambda x, axis=None: np.squeeze(x, axis), attrs=("axis",), shape=_squeeze_shape, grads=[
    ("x", lambda g, z, x, axis=None: reshape(g, x.shape), r"\bar{x} \mathrel{+}= \operatorname{reshape}(\bar{z})"),
])
expand_dims = primitive("expand_dims", np.expand_dims, attrs=("axis",), shape=_expand_dims_shape, grads=[
    ("x", lambda g, z, x, axis: reshape(g, x.shape), r"\bar{x} \mathrel{+}= \operatorname{reshape}(\bar{z})"),
])


@composite("flatten", operands=("x",), shape=lambda x: (size_of(x),))
def flatten(x):
    """The entries in one row (NumPy's ``ndarray.flatten``): the same as ``ravel``."""
    return ravel(x)


# ---- broadcasting, repeating, reordering ----------------------------------------------------------

def _broadcast_to_forward(x, shape):
    """A real array, not NumPy's read-only stride-0 view (BLAS would take a slow path on such a
    view); one number (sum's VJP) is a fill, which is faster than copying a stride-0 view."""
    if np.size(x) == 1:
        return np.full(_broadcast_to_shape(np.shape(x), shape), np.reshape(x, ()))
    return np.broadcast_to(x, shape).copy()


broadcast_to = primitive(
    "broadcast_to", _broadcast_to_forward, symbol="bcast", attrs=("shape",),
    shape=_broadcast_to_shape, grads=[
        ("x", lambda g, z, x, shape: unbroadcast(g, x.shape),
         r"\bar{x} \mathrel{+}= \textstyle\sum_{\text{copies}} \bar{z}"),
    ])
identity = primitive("identity", lambda x: x, symbol="id", shape=same_shape, grads=[
    ("x", lambda g, z, x: g, r"\bar{x} \mathrel{+}= \bar{z}"),
])
flip = primitive("flip", lambda x, axis=None: np.flip(x, axis).copy(), attrs=("axis",),
                 shape=lambda x, axis=None: (normalize_axes(axis, len(x)), x)[1], grads=[
    ("x", lambda g, z, x, axis=None: flip(g, axis), r"\bar{x} \mathrel{+}= \operatorname{flip}(\bar{z})"),
])


def _negated(shift):
    return -shift if isinstance(shift, (int, np.integer)) else tuple(-s for s in shift)


roll = primitive("roll", np.roll, attrs=("shift", "axis"), shape=_roll_shape, grads=[
    ("x", lambda g, z, x, shift, axis=None: roll(g, _negated(shift), axis),
     r"\bar{x} \mathrel{+}= \operatorname{roll}(\bar{z}, -\text{shift})"),
])


def _repeat_vjp(g, z, x, repeats, axis=None):
    """Each entry's copies send their gradients back to it: a scatter-add onto x's positions."""
    if axis is None:
        index = np.repeat(np.arange(x.size), _repeat_counts(x.size, repeats))
        return reshape(scatter(g, index=index, shape=(x.size,)), x.shape)
    a = normalize_axis(axis, x.ndim)
    index = np.repeat(np.arange(x.shape[a]), _repeat_counts(x.shape[a], repeats))
    return scatter(g, index=along(a, index, x.ndim), shape=x.shape)


def _repeat_forward(x, repeats, axis=None):
    if axis is not None:
        normalize_axis(axis, np.ndim(x))  # NumPy would take axis=0 on a scalar
    return np.repeat(x, repeats, axis)


repeat = primitive("repeat", _repeat_forward, attrs=("repeats", "axis"),
                   shape=_repeat_shape, grads=[
    ("x", _repeat_vjp, r"\bar{x}_i \mathrel{+}= \textstyle\sum_{\text{copies of } x_i} \bar{z}"),
])


def _tile_vjp(g, z, x, reps):
    """Each copy is a block of z: view z as (copies, block) pairs of axes and sum the copies."""
    dims, counts = _tile_dims(x.shape, reps)
    paired = reshape(g, tuple(n for pair in zip(counts, dims) for n in pair))
    return reshape(sum(paired, axis=tuple(range(0, 2 * len(dims), 2))), x.shape)


tile = primitive("tile", np.tile, attrs=("reps",),
                 shape=lambda x, reps: tuple(a * b for a, b in zip(*_tile_dims(x, reps))), grads=[
    ("x", _tile_vjp, r"\bar{x} \mathrel{+}= \textstyle\sum_{\text{tiles}} \bar{z}"),
])

# ---- indexing -------------------------------------------------------------------------------------


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


# sum is broadcast_to's adjoint and lives with the reductions, which need this module first.
from .ops_reduce import sum  # noqa: E402

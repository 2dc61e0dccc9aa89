r"""Arrays built from several Vars, and arrays split into several: ``stack``, ``concatenate``,
``hstack``, ``vstack``, ``array([...])``, ``split``, ``array_split``, ``atleast_1d/2d/3d``.

``stack`` and ``concatenate`` are the variadic primitives (their operands are a sequence, any
number of them); each operand's VJP reads its own block of the gradient back out of the result.
The others are compositions of those and of ``reshape``/``getitem``: ``array([[x, y], [z, w]])``
stacks rows of stacked entries, ``split`` is a list of slices (each a ``getitem`` node), so
their gradients need nothing of their own.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .ops_shape import along, getitem, reshape
from .optable import composite, normalize_axis, primitive, size_of
from .var import Var, as_value, raw

# ---- the variadic primitives ----------------------------------------------------------------------


def _stack_shape(*shapes: tuple, axis=0) -> tuple:
    if not shapes:
        raise ShapeError("stack needs at least one array")
    first = shapes[0]
    if any(s != first for s in shapes):
        raise ShapeError(f"stack needs arrays of one shape, got {', '.join(map(str, shapes))}")
    a = normalize_axis(axis, len(first) + 1)
    return first[:a] + (len(shapes),) + first[a:]


def _stack_vjp(position, g, z, *arrays, axis=0):
    """Operand i is the slice i of the result along the new axis."""
    return getitem(g, index=along(axis, position, g.ndim))


stack = primitive("stack", lambda *arrays, axis=0: np.stack(arrays, axis), attrs=("axis",), call="sequence",
                  shape=_stack_shape, grads=[
    ("arrays", _stack_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}[i]"),  # (x_i: the i-th array)
])


def _concatenate_shape(*shapes: tuple, axis=0) -> tuple:
    if not shapes:
        raise ShapeError("concatenate needs at least one array")
    if axis is None:
        return (sum(size_of(s) for s in shapes),)
    first = shapes[0]
    if not first or any(len(s) != len(first) for s in shapes):
        raise ShapeError(f"concatenate needs arrays with the same number of axes (≥ 1), got "
                         f"{', '.join(map(str, shapes))}")
    a = normalize_axis(axis, len(first))
    if any(s[:a] + s[a + 1:] != first[:a] + first[a + 1:] for s in shapes):
        raise ShapeError(f"concatenate along axis {axis} needs the other axes to agree, got "
                         f"{', '.join(map(str, shapes))}")
    return first[:a] + (sum(s[a] for s in shapes),) + first[a + 1:]


def _concatenate_vjp(position, g, z, *arrays, axis=0):
    """Operand i is the block of the result between the sizes of the operands before it."""
    if axis is None:
        start = sum(np.size(raw(a)) for a in arrays[:position])
        block = getitem(g, index=slice(start, start + np.size(raw(arrays[position]))))
        return reshape(block, np.shape(raw(arrays[position])))
    a = normalize_axis(axis, g.ndim)
    start = sum(np.shape(raw(x))[a] for x in arrays[:position])
    return getitem(g, index=along(a, slice(start, start + np.shape(raw(arrays[position]))[a]), g.ndim))


concatenate = primitive("concatenate", lambda *arrays, axis=0: np.concatenate(arrays, axis), attrs=("axis",),
                        call="sequence", shape=_concatenate_shape, grads=[
    ("arrays", _concatenate_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}[\text{block } i]"),
])

# ---- compositions ---------------------------------------------------------------------------------


def _ndim(x) -> int:
    return np.ndim(raw(x))


def _atleast(ndim: int, x: tuple) -> tuple:
    """The shape atleast_1d/2d/3d give: NumPy's padding ((n,) -> (1, n, 1) for three axes)."""
    if len(x) >= ndim:
        return x
    if ndim == 3:
        return {0: (1, 1, 1), 1: (1,) + x + (1,), 2: x + (1,)}[len(x)]
    return (1,) * (ndim - len(x)) + x


@composite("atleast_1d", operands=("x",), shape=lambda x: _atleast(1, x))
def atleast_1d(x):
    """``x`` with at least one axis: a scalar becomes shape (1,)."""
    return reshape(x, (1,)) if _ndim(x) == 0 else x


@composite("atleast_2d", operands=("x",), shape=lambda x: _atleast(2, x))
def atleast_2d(x):
    """``x`` with at least two axes: a vector becomes one row, a scalar shape (1, 1)."""
    return reshape(x, (1,) * (2 - _ndim(x)) + np.shape(raw(x))) if _ndim(x) < 2 else x


@composite("atleast_3d", operands=("x",), shape=lambda x: _atleast(3, x))
def atleast_3d(x):
    """``x`` with at least three axes, as NumPy adds them: (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    shape = np.shape(raw(x))
    return x if len(shape) >= 3 else reshape(x, _atleast(3, shape))


def _hstack_shape(*shapes: tuple) -> tuple:
    shapes = [_atleast(1, s) for s in shapes]
    return _concatenate_shape(*shapes, axis=0 if shapes and len(shapes[0]) == 1 else 1)


@composite("hstack", operands=("arrays",), call="sequence", shape=_hstack_shape)
def hstack(arrays):
    """Side by side: vectors end to end, matrices column blocks (``concatenate`` along axis 1)."""
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if arrays and _ndim(arrays[0]) == 1 else 1)


@composite("vstack", operands=("arrays",), call="sequence",
           shape=lambda *shapes: _concatenate_shape(*[_atleast(2, s) for s in shapes], axis=0))
def vstack(arrays):
    """On top of each other: vectors become rows (``concatenate`` of ``atleast_2d`` along axis 0)."""
    return concatenate([atleast_2d(a) for a in arrays], axis=0)


@composite("array", operands=("values",), call="sequence", shape=lambda *shapes: _stack_shape(*shapes, axis=0))
def array(values):
    """An array from a (nested) list of numbers, arrays and Vars, like ``numpy.array``.

    Without a Var it is a plain float64 array; with Vars it is a graph: each list of entries is
    stacked (``stack``), so every entry's gradient is its own slot of the result's gradient.
    """
    if type(values) is Var:
        return values
    if not _holds_var(values):
        return as_value(values, "array's argument")
    return stack([array(item) for item in values])


def _holds_var(values) -> bool:
    """Whether a (nested) list or tuple holds a Var anywhere, looked through without recursion."""
    pending = [values]
    while pending:
        item = pending.pop()
        if type(item) is Var:
            return True
        if type(item) in (list, tuple):
            pending.extend(item)
    return False


def _split_points(n: int, sections, even: bool, name: str) -> list:
    """Where ``split``/``array_split`` cut an axis of length n: NumPy's rules."""
    if isinstance(sections, (int, np.integer)):
        if sections <= 0:
            raise ShapeError(f"{name} needs a number of sections ≥ 1, not {sections}")
        if even and n % sections:
            raise ShapeError(f"{name}: {n} entries do not divide into {sections} equal sections; "
                             "use array_split for unequal ones")
        size, extra = divmod(n, sections)
        bounds = [0]
        for i in range(sections):
            bounds.append(bounds[-1] + size + (1 if i < extra else 0))
        return bounds
    return [0] + [int(i) for i in sections] + [n]


def _split(x, sections, axis, even: bool, name: str) -> list:
    shape = np.shape(raw(x))
    if not shape:
        raise ShapeError(f"{name} needs an array with at least one axis")
    a = normalize_axis(axis, len(shape))
    bounds = _split_points(shape[a], sections, even, name)
    return [getitem(x, index=along(a, slice(start, end), len(shape))) for start, end in zip(bounds, bounds[1:])]


@composite("split", operands=("x",), attrs=("indices_or_sections", "axis"), returns_tuple=True)
def split(x, indices_or_sections, axis=0):
    """A list of equal pieces (or pieces cut at the given indices) along ``axis``; each a slice."""
    return _split(x, indices_or_sections, axis, True, "split")


@composite("array_split", operands=("x",), attrs=("indices_or_sections", "axis"), returns_tuple=True)
def array_split(x, indices_or_sections, axis=0):
    """As ``split``, but the pieces may differ in length by one (the first ones are longer)."""
    return _split(x, indices_or_sections, axis, False, "array_split")

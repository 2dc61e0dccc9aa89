"""``Var``: one node of the computation graph, and the conversion of user values into node values.

A ``Var`` is plain data: its value, its ordered parents, the op that made it and that op's
attributes (axis, keepdims, ...). It never holds a gradient: the backward pass returns gradients
in a dict keyed by node, so one graph can be differentiated any number of times, with different
seeds, from several threads (see ``backward.py``).

Values are float64. Internally a scalar is kept as ``numpy.float64`` rather than a 0-d array,
because NumPy arithmetic on its scalar type is about ten times faster than on 0-d arrays (scalar
graphs are what a lecture draws, and what the micrograd-style benchmark measures); the public
``.value`` still hands out a 0-d ``ndarray``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from .errors import AutodiffError, ShapeError

_FLOAT64 = np.float64
_FLOAT64_DTYPE = np.dtype(np.float64)


def as_value(x, what: str = "value"):
    """Convert user input (number, nested list, integer or float array) to an engine value.

    Returns ``numpy.float64`` for scalars and a float64 ``ndarray`` otherwise. Complex numbers,
    strings and objects are refused with an ``AutodiffError`` that says what was given, because a
    silently dropped imaginary part is a wrong gradient nobody notices. Arrays are not copied when
    they already are float64 (as in NumPy and autograd): don't mutate an input after using it.
    """
    kind = type(x)
    if kind is _FLOAT64:
        return x
    if kind is float or kind is int:
        return _FLOAT64(x)
    if kind is np.ndarray and x.dtype == _FLOAT64 and x.ndim:
        return x
    if isinstance(x, Var):
        raise AutodiffError(f"{what} is already a Var; pass it directly")
    if isinstance(x, numbers.Real) and not isinstance(x, np.ndarray):
        return _FLOAT64(x)
    if isinstance(x, numbers.Complex) and not isinstance(x, np.ndarray):
        raise AutodiffError(f"{what} is complex ({x!r}); Backprop Studio works on real numbers only")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists, odd objects
        raise AutodiffError(f"{what} cannot be made into an array: {exc}") from None
    kind = arr.dtype.kind
    if kind == "c":
        raise AutodiffError(f"{what} is a complex array; Backprop Studio works on real numbers only")
    if kind not in "fiub":
        raise AutodiffError(f"{what} must be numbers, got an array of {arr.dtype} ({type(x).__name__})")
    if arr.ndim == 0:
        return _FLOAT64(arr)
    return arr.astype(np.float64, copy=False)


def raw(x):
    """The value inside a Var, or ``x`` itself: what VJPs use to build masks and constants."""
    return x._value if type(x) is Var else x


class Var:
    """A node: ``value`` (float64), ``parents`` (ordered), ``op``, ``attrs`` and an optional ``name``.

    ``Var(3.0, name="x")`` makes a leaf (an input or a constant). Nodes with an op are made by the
    engine's functions and operators (``x * y``, ``ad.sin(x)``). ``parents`` is a tuple in argument
    order, so ``a + a`` has two parents, both ``a``: the backward pass then sends two contributions
    to ``a`` and adds them, which is exactly the fan-out rule being taught.

    The parents are kept in slots, not in a tuple of their own: ``_first`` and ``_second`` (None
    when absent), and ``_more``, the whole tuple, only for an op with more than two operands. A
    constant operand (the 0.99 of ``x * 0.99``, the W of ``X @ W``) is kept there as its value:
    its leaf node is made the first time someone asks for ``parents`` (a Trace, a program), which
    a gradient never does. A graph of a million nodes then has a million fewer objects, and fewer
    still, for Python's cyclic garbage collector to walk, again and again, while the graph grows
    (that was most of the time of a long chain). The backward pass reads the slots.
    """

    __slots__ = ("_value", "_first", "_second", "_more", "op", "attrs", "name", "loc", "scope")

    # Nodes are dict and set keys by identity; == compares values (below), as in NumPy.
    __hash__ = object.__hash__

    # NumPy's dispatch protocols: numpy.sin(v), ndarray * v, numpy.sum(v) run the engine's ops
    # (numpy_dispatch.py); numpy.asarray(v) is refused, since it would cut the graph.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _dispatch.array_function(func, args, kwargs)

    def __array__(self, dtype=None, copy=None):
        _dispatch.array_conversion()

    def __init__(self, value, name: str | None = None, parents: tuple | None = None, op=None,
                 attrs=None, first=None, second=None):
        # Users write Var(value) or Var(value, "x"); the engine passes parents (a tuple, () for a
        # constant leaf) or, on its hot path, first and second, with a value it computed itself,
        # which needs no checking.
        more = None
        if parents is not None:
            count = len(parents)
            if count:
                first = parents[0]
                if count > 1:
                    second = parents[1]
                    if count > 2:
                        more = parents
        elif first is None:
            value = as_value(value, f"the value of {name!r}" if name else "a Var's value")
        self._value = value
        self._first = first
        self._second = second
        self._more = more
        self.op = op
        self.attrs = _NO_ATTRS if attrs is None else attrs
        self.name = name
        self.loc = None  # (line, col) in a program, set by the expression language
        self.scope = ()  # the calls and loop iterations that made it (core.trace.Frame), outermost first

    @property
    def parents(self) -> tuple:
        """The operands, in argument order: a tuple built from the slots, with a constant operand's
        leaf made (once, then kept in its slot) if it has none yet."""
        if self._more is not None:
            return self._more
        first = self._first
        if first is None:
            return ()
        if type(first) is not Var:
            first = self._first = Var(first, None, ())
        second = self._second
        if second is None:
            return (first,)
        if type(second) is not Var:
            second = self._second = Var(second, None, ())
        return (first, second)

    # ---- reading --------------------------------------------------------------------------
    @property
    def value(self) -> np.ndarray:
        """The value as a float64 ``ndarray`` (0-d for a scalar)."""
        return np.asarray(self._value)

    @property
    def shape(self) -> tuple:
        return self._value.shape

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def size(self) -> int:
        return self._value.size

    def __len__(self) -> int:
        if not self._value.shape:
            raise TypeError("len() of a scalar Var")
        return self._value.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        """As NumPy's: the truth of the one entry; ambiguous (an error) for more entries."""
        if self._value.size != 1:
            raise ShapeError(f"the truth value of a Var with {self._value.size} entries is ambiguous; "
                             "use any(...) or all(...) on a comparison such as (x > 0)", shapes=(self.shape,))
        return bool(self._value)

    # ---- comparisons: plain boolean arrays, no node (they have no derivative), as in autograd --
    def __eq__(self, other):
        return self._value == raw(other)

    def __ne__(self, other):
        return self._value != raw(other)

    def __lt__(self, other):
        return self._value < raw(other)

    def __le__(self, other):
        return self._value <= raw(other)

    def __gt__(self, other):
        return self._value > raw(other)

    def __ge__(self, other):
        return self._value >= raw(other)

    def __repr__(self) -> str:
        what = f"op={self.op.name}" if self.op is not None else "leaf"
        name = f"{self.name!r}, " if self.name else ""
        text = np.array2string(np.asarray(self._value), precision=4, threshold=8)
        return f"Var({name}{text}, {what})"

    # ---- arithmetic: every operator is an op of the table (ops.py) --------------------------
    # x + y, x * y ... are the op functions themselves, set at the end of this module (one call
    # less per operation than a method that calls them); the reflected forms swap the operands.
    def __radd__(self, other):
        return _ops.add(other, self)

    def __rsub__(self, other):
        return _ops.subtract(other, self)

    def __rmul__(self, other):
        return _ops.multiply(other, self)

    def __rtruediv__(self, other):
        return _ops.divide(other, self)

    def __rpow__(self, other):
        return _ops.power(other, self)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __pos__(self):
        return self

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    @property
    def T(self) -> Var:
        return _ops.transpose(self)

    def __rmod__(self, other):
        return _ops.mod(other, self)

    # ---- NumPy-style methods, for notebook users who write x.sum(axis=0) ----------------------
    @property
    def dtype(self) -> np.dtype:
        """Always float64: the engine computes in float64 (see core.api for float32 arguments)."""
        return _FLOAT64_DTYPE

    def astype(self, dtype, copy=True):
        """A float type keeps the Var (the engine's values stay float64); an integer or boolean
        type would cut the gradient, so it is refused: use ``x.value.astype(...)`` for a constant."""
        if np.dtype(dtype).kind == "f":
            return self
        raise AutodiffError(f"astype({np.dtype(dtype).name}) of a Var would drop its gradient; "
                            f"use x.value.astype({np.dtype(dtype).name}) for a constant")

    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis=axis, keepdims=keepdims)

    def prod(self, axis=None, keepdims=False):
        return _ops.prod(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False):
        return _ops.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, ddof=0, keepdims=False):
        return _ops.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def cumsum(self, axis=None):
        return _ops.cumsum(self, axis=axis)

    def dot(self, other):
        return _ops.dot(self, other)

    def clip(self, a_min=None, a_max=None):
        return _ops.clip(self, a_min, a_max)

    def trace(self, offset=0, axis1=0, axis2=1):
        return _ops.trace(self, offset=offset, axis1=axis1, axis2=axis2)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return _ops.diagonal(self, offset=offset, axis1=axis1, axis2=axis2)

    def repeat(self, repeats, axis=None):
        return _ops.repeat(self, repeats, axis=axis)

    def reshape(self, *shape):
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return _ops.transpose(self, axes=(axes[0] if len(axes) == 1 else axes) or None)

    def swapaxes(self, axis1, axis2):
        return _ops.swapaxes(self, axis1, axis2)

    def flatten(self):
        return _ops.flatten(self)

    def ravel(self):
        return _ops.ravel(self)

    def squeeze(self, axis=None):
        return _ops.squeeze(self, axis=axis)


# Shared, read-only attrs for ops that have none (most of them): no dict per node.
_NO_ATTRS = MappingProxyType({})


class GradScope(Mapping):
    """The (empty) attrs of the leaves one ``grad``/``jacobian``/``trace`` call makes for its
    differentiated arguments, and whether that call is still running.

    The backward pass builds differentiable gradients exactly when its graph holds a leaf of a
    scope that is still ``active``: it then runs inside an enclosing ``grad``. A finished call's
    leaves (the inner ``grad`` of ``grad(grad(f, argnums=1), argnums=0)``) no longer count, so a
    top-level ``grad`` always returns plain arrays. One object per call: no global state.
    """

    __slots__ = ("active",)

    def __init__(self):
        self.active = True

    def __enter__(self) -> GradScope:
        return self

    def __exit__(self, *exc) -> None:
        self.active = False  # from now on, its leaves are no enclosing grad's

    def __getitem__(self, key):
        raise KeyError(key)

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


def is_grad_input(var: Var) -> bool:
    """Whether ``var`` is a leaf that a grad/jacobian/trace call made for an argument."""
    return type(var.attrs) is GradScope


def input_leaf(value, scope: GradScope, name: str | None = None) -> Var:
    """A fresh leaf of ``scope`` for a differentiated argument; a Var argument (nested grad) gets
    an identity node on top, so the inner and the outer derivative never confuse their variables."""
    if type(value) is Var:
        return _ops.identity(value)
    leaf = Var(value, name)
    leaf.attrs = scope
    return leaf

# The operators above need the op functions, which need Var: import them last to break the cycle.
from . import numpy_dispatch as _dispatch  # noqa: E402
from . import ops as _ops  # noqa: E402

Var.__add__, Var.__sub__, Var.__mul__, Var.__truediv__ = _ops.add, _ops.subtract, _ops.multiply, _ops.divide
Var.__pow__, Var.__matmul__, Var.__mod__ = _ops.power, _ops.matmul, _ops.mod
Var.__neg__, Var.__abs__ = _ops.negative, _ops.abs

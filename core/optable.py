r"""The op table's machinery: ``Op``, ``primitive()`` that declares one, and ``composite()``.

A primitive is a NumPy forward plus, for each operand, a vector-Jacobian product (VJP) and the
rule it implements in LaTeX, plus its abstract rules (``shape``, ``cost``). The declarations
themselves live in the themed modules (``ops_elementwise``, ``ops_reduce``, ``ops_shape``,
``ops_products``, ``linalg``); ``core.ops`` gathers them, and ``OPS`` here is the one table.

``FUNCTIONS`` lists every public function of the engine by name: each primitive's function and
each *composition* of primitives (``dot``, ``slogdet``, ``hstack`` ...), declared with
``composite()``. The program language and NumPy's dispatch (``numpy.sum(var)``) both follow it,
so a new op is reachable from both as soon as it is declared.

How a function is called (``Public.call``):

* ``"operands"``: ``f(a, b, axis=0)``: the operands, then the op's attrs by keyword or, NumPy
  style, by position (``sum(x, 0)``).
* ``"sequence"``: ``f([a, b, c], axis=0)``: the operands as one sequence (``stack``,
  ``concatenate``); any number of them.
* ``"subscripts"``: ``einsum("ij,jk->ik", A, B)``: a subscripts string, then any number of
  operands.

A variadic primitive (the last two) declares one VJP for all its operands; it receives the
operand's position first: ``vjp(position, g, z, *operands, **attrs)``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .errors import AutodiffError, ShapeError
from .var import _NO_ATTRS, Var, as_value, raw

_FLOAT64 = np.float64
_FLOAT64_DTYPE = np.dtype(np.float64)


@dataclass(frozen=True)
class Op:
    """One primitive: what the app draws (``symbol``) and explains (``rules``), what runs, and what
    an abstract interpreter needs to know without running it (``shape``, ``cost``)."""

    name: str
    symbol: str
    forward: Callable
    arg_names: tuple  # names used in the rules: ("a", "b"), ("x",), ("A", "b") ...
    vjps: tuple  # vjps[i](g, z, *args, **attrs) -> contribution to argument i
    rules: tuple  # rules[i]: LaTeX of vjps[i]
    saves: bool = False  # forward returns (value, extra attrs), e.g. LU factors for the backward
    doc: str = ""
    attrs: tuple = ()  # the non-differentiable parameters it takes: ("axis", "keepdims")
    shape_rule: Callable | None = None  # (*operand shapes, **attrs) -> output shape
    cost_rule: Callable | None = None  # (*operand shapes, **attrs) -> work; None: the default
    variadic: bool = False  # any number of operands, one VJP and one rule for all of them
    # Broadcasts its operands (its shape rule is `broadcast`): the backward pass sums what a VJP
    # returns over the broadcast axes (unbroadcast), so the VJPs are the local derivative alone.
    broadcasts: bool = False
    # (position, attrs) -> the rule for one node, when it depends on the attrs (einsum shows the
    # einsum that computes each VJP); None: rules[position] for every node.
    rule_for: Callable | None = None

    def rule(self, position: int, attrs) -> str:
        """The LaTeX rule of the VJP for operand ``position`` of a node with these attrs."""
        if self.rule_for is not None:
            return self.rule_for(position, attrs)
        return self.rules[position]

    def shape(self, *shapes, **attrs) -> tuple:
        """The output shape of this op on operands of these shapes, without running it.

        Raises ``ShapeError`` (naming the op and the shapes) exactly when the forward would refuse
        the shapes; ``attrs`` are the op's own (``axis=0``), never the values a forward saves.
        """
        return self._shape(_int_shapes(shapes), attrs)

    def _shape(self, shapes: tuple, attrs: dict) -> tuple:
        if self.shape_rule is None:
            raise AutodiffError(f"op {self.name!r} declares no shape rule", op=self.name)
        return _apply_shape_rule(self.name, self.shape_rule, shapes, attrs,
                                 lambda exc: _shape_error(self, shapes, exc, shapes_given=True))

    def cost(self, *shapes, **attrs) -> int:
        """An estimate of the forward's floating-point work (multiply-adds) on these shapes.

        Elementwise and data-movement ops count the entries they read or write (the default);
        contractions count their multiply-adds, factorizations the textbook flop counts. It is
        for bounding *time* before running anything, so what really costs is what is counted.
        """
        return self.abstract_eval(*shapes, **attrs)[1]

    def abstract_eval(self, *shapes, **attrs) -> tuple:
        """``(output shape, cost)`` in one call: what an abstract interpreter asks of each op."""
        shapes = _int_shapes(shapes)
        return _with_cost(self._shape(shapes, attrs), shapes, self.cost_rule, attrs)


@dataclass(frozen=True)
class Public:
    """A public function of the engine: a primitive's, or a composition of primitives.

    ``abstract_eval(*shapes, **attrs)`` gives ``(output shape, cost)`` for both: a primitive's
    from its op, a composition's from the rules it declares (for a ``sequence`` call the shapes
    are those of the sequence's items); a composition returning a tuple may declare none.
    """

    name: str
    function: Callable
    operands: tuple  # names of the differentiable arguments; ("arrays",) for a sequence
    attrs: tuple = ()  # its other parameters, by keyword (or by position after the operands)
    call: str = "operands"  # "operands", "sequence" or "subscripts" (see the module docstring)
    op: Op | None = None  # the primitive, or None for a composition
    doc: str = ""
    returns_tuple: bool = False  # (sign, logdet), a list of pieces ...: not one array
    shape_rule: Callable | None = None  # a composition's; a primitive's is its op's
    cost_rule: Callable | None = None

    def abstract_eval(self, *shapes, **attrs) -> tuple:
        """``(output shape, cost)`` without running anything; ShapeError where the call would fail."""
        if self.op is not None:
            return self.op.abstract_eval(*shapes, **attrs)
        if self.shape_rule is None:
            raise AutodiffError(f"{self.name} declares no shape rule", op=self.name)
        shapes = _int_shapes(shapes)
        out = _apply_shape_rule(self.name, self.shape_rule, shapes, attrs, lambda exc: ShapeError(
            f"{self.name}: {exc.message if isinstance(exc, ShapeError) else exc}", op=self.name, shapes=shapes))
        return _with_cost(out, shapes, self.cost_rule, attrs)


def _int_shapes(shapes) -> tuple:
    return tuple(tuple(int(n) for n in s) for s in shapes)


def _apply_shape_rule(name: str, rule: Callable, shapes: tuple, attrs: dict, refuse: Callable) -> tuple:
    """The output shape by ``rule``; a refusal becomes ``refuse(exc)``, a ShapeError naming the op
    (one the rule raised for this very op already does)."""
    try:
        out = rule(*shapes, **attrs)
    except ShapeError as exc:
        if exc.op == name:
            raise
        raise refuse(exc) from None
    except (ValueError, IndexError) as exc:
        raise refuse(exc) from None
    return tuple(int(n) for n in out)


def _with_cost(out: tuple, shapes: tuple, cost_rule: Callable | None, attrs: dict) -> tuple:
    """``(out, cost)``: the declared cost, or the entries read or written by default."""
    if cost_rule is None:
        return out, max([math.prod(out)] + [math.prod(s) for s in shapes])
    return out, int(math.ceil(cost_rule(*shapes, **attrs)))


_TABLE: dict[str, Op] = {}
OPS = MappingProxyType(_TABLE)  # filled once at import, read-only afterwards
_FUNCTIONS: dict[str, Public] = {}
FUNCTIONS = MappingProxyType(_FUNCTIONS)  # every public function by name, also filled at import


class _EveryOperand:
    """The VJPs (or rules) of a variadic op: one for every position, told which position it is.

    Indexing gives it for any position; iterating gives the one declared (so code that lists an
    op's rules sees one rule, not an endless sequence)."""

    __slots__ = ("item", "positional")

    def __init__(self, item, positional: bool):
        self.item, self.positional = item, positional

    def __getitem__(self, position: int):
        return functools.partial(self.item, position) if self.positional else self.item

    def __iter__(self):
        return iter((self.item,))

    def __len__(self) -> int:
        return 1


def primitive(name, forward, grads, *, shape, cost=None, attrs=(), symbol=None, saves=False, doc="",
              call="operands", rule_for=None):
    """Declare a primitive and return its public function.

    ``grads`` lists, per operand in order, ``(arg_name, vjp, latex_rule)`` (one entry for a
    variadic op); ``attrs`` names the non-differentiable parameters (``axis``, ``keepdims``,
    ``shape`` ...). ``shape`` and ``cost`` are the abstract rules (see ``Op.shape`` and
    ``Op.cost``): ``shape`` is required, ``cost`` defaults to the number of entries read or
    written. ``call`` says how the function is called (module docstring); ``rule_for``, if given,
    makes each node's rule from its attrs (``Op.rule``). The returned function
    runs ``forward`` directly on plain values (no graph, no overhead) and records a node as soon
    as one operand is a ``Var``.
    """
    if name in _TABLE or name in _FUNCTIONS:
        raise RuntimeError(f"op {name!r} declared twice")
    arg_names, vjps, rules = zip(*grads)
    variadic = call != "operands"
    if variadic:
        vjps, rules = _EveryOperand(vjps[0], True), _EveryOperand(rules[0], False)
    op = Op(name, symbol or name, forward, arg_names, vjps, rules, saves, doc, tuple(attrs), shape, cost, variadic,
            shape is broadcast, rule_for)
    _TABLE[name] = op
    n_operands = len(arg_names)

    def run(args, kwargs):
        for arg in args:
            if type(arg) is Var:
                return apply(op, args, kwargs)
        try:
            value = forward(*args, **kwargs)
        except AutodiffError:
            raise
        except (ValueError, IndexError) as exc:
            raise _shape_error(op, args, exc) from None
        return value[0] if saves else value

    def function(*args, **kwargs):
        if len(args) != n_operands:
            args, kwargs = _bind_attrs(op, attrs, args, kwargs)
        return run(args, kwargs)

    # The same, unrolled for the common signatures (most ops): no tuple packing, no loops. The
    # forward pass of a scalar graph is mostly these calls, so they are worth the few lines.
    if call == "sequence":

        def function(arrays, *args, **kwargs):  # noqa: F811
            if type(arrays) not in (list, tuple):
                raise TypeError(f"{name}() takes a list or tuple of arrays, not {type(arrays).__name__}")
            if args:
                if len(args) > len(attrs) or set(attrs[:len(args)]) & set(kwargs):
                    raise TypeError(f"{name}() takes the arrays, then {', '.join(attrs)} once each")
                kwargs = {**dict(zip(attrs, args)), **kwargs}
            return run(tuple(arrays), kwargs)

    elif call == "subscripts":

        def function(subscripts, *operands, optimize=None, **kwargs):  # noqa: F811
            # NumPy's optimize= is accepted and ignored: the forward picks the contraction order.
            if not isinstance(subscripts, str):
                raise TypeError(f"{name}() takes the subscripts (a string) first, like {name}('ij,jk->ik', A, B)")
            return run(operands, {"subscripts": subscripts, **kwargs})

    elif n_operands == 1 and not attrs and not saves:

        def function(x):  # noqa: F811
            if type(x) is Var:
                try:
                    value = forward(x._value)
                except (ValueError, IndexError) as exc:
                    raise _shape_error(op, (x,), exc) from None
                if type(value) is not _FLOAT64 and not value.ndim:
                    value = _FLOAT64(value)
                return Var(value, None, None, op, None, x)
            try:
                return forward(x)
            except (ValueError, IndexError) as exc:
                raise _shape_error(op, (x,), exc) from None

    elif n_operands == 2 and not attrs and not saves:

        def function(a, b):  # noqa: F811
            # A constant operand (x * 0.99, X @ W) is stored in the node as its value: its leaf is
            # made only if someone asks for the node's parents (see Var), never by a gradient.
            if type(a) is Var:
                av = a._value
                if type(b) is Var:
                    bv = b._value
                else:
                    bv = b = _constant_value(b)
            elif type(b) is Var:
                bv = b._value
                av = a = _constant_value(a)
            else:
                try:
                    return forward(a, b)
                except AutodiffError:
                    raise
                except (ValueError, IndexError) as exc:
                    raise _shape_error(op, (a, b), exc) from None
            try:
                value = forward(av, bv)
            except AutodiffError:
                raise
            except (ValueError, IndexError) as exc:
                raise _shape_error(op, (av, bv), exc) from None
            if type(value) is not _FLOAT64 and not value.ndim:
                value = _FLOAT64(value)
            return Var(value, None, None, op, None, a, b)

    function.__name__ = function.__qualname__ = name
    # core.ops re-exports every public function: found there by name, it pickles (a job worker
    # can be sent ad.multiply), which a closure made here would not.
    function.__module__ = "core.ops"
    function.__doc__ = doc or f"The {name} primitive (see core.ops.OPS[{name!r}])."
    function.op = op
    operands = ("arrays",) if call == "sequence" else ("operands",) if call == "subscripts" else arg_names
    public_attrs = tuple(a for a in attrs if a != "subscripts")
    _FUNCTIONS[name] = Public(name, function, operands, public_attrs, call, op, function.__doc__)
    return function


def composite(name: str, *, operands: tuple, attrs: tuple = (), call: str = "operands",
              returns_tuple: bool = False, shape=None, cost=None):
    """Register a composition of primitives (``dot``, ``slogdet`` ...) as a public function.

    Its graph is made of the primitives it calls, so it needs no VJP of its own; ``shape`` and
    ``cost`` are its abstract rules, as a primitive's (required unless it returns a tuple).
    """
    if shape is None and not returns_tuple:
        raise RuntimeError(f"composition {name!r} needs a shape rule")

    def register(function):
        if name in _FUNCTIONS:
            raise RuntimeError(f"function {name!r} declared twice")
        _FUNCTIONS[name] = Public(name, function, tuple(operands), tuple(attrs), call, None,
                                  (function.__doc__ or "").strip(), returns_tuple, shape, cost)
        return function

    return register


def _constant_value(x):
    """A plain number or array used with Vars, as an engine value (float64), without a node."""
    kind = type(x)
    if kind is _FLOAT64:
        return x
    if kind is float:
        return _FLOAT64(x)
    if kind is np.ndarray and x.dtype is _FLOAT64_DTYPE and x.ndim:
        return x  # already an engine value: no conversion to check
    return as_value(x, "an operand")


def _constant(x) -> Var:
    """A leaf for a plain number or array used in an op with Vars (``x * 0.99``)."""
    kind = type(x)
    if kind is float or kind is _FLOAT64:
        return Var(_FLOAT64(x), None, ())
    if kind is np.ndarray and x.dtype is _FLOAT64_DTYPE and x.ndim:
        return Var(x, None, ())  # already an engine value: no conversion to check
    return Var(x)


def _bind_attrs(op: Op, attr_names: tuple, args: tuple, kwargs: dict):
    """Move positional attributes (``sum(x, 0)``) into the keywords, as NumPy callers expect."""
    n = len(op.arg_names)
    extra = args[n:]
    if len(args) < n or len(extra) > len(attr_names):
        raise TypeError(
            f"{op.name}() takes {n} operand(s) ({', '.join(op.arg_names)})"
            + (f" and the attributes {', '.join(attr_names)}" if attr_names else "")
            + f"; got {len(args)} positional arguments"
        )
    kwargs = dict(kwargs)
    for key, value in zip(attr_names, extra):
        if key in kwargs:
            raise TypeError(f"{op.name}() got {key!r} twice")
        kwargs[key] = value
    return args[:n], kwargs


def apply(op: Op, args, attrs) -> Var:
    """Run ``op`` on ``args`` (Vars or constants) and record the result as a new node."""
    parents = tuple([a if type(a) is Var else _constant(a) for a in args])
    values = [p._value for p in parents]
    try:
        value = op.forward(*values, **attrs)
    except AutodiffError:
        raise
    except (ValueError, IndexError) as exc:
        raise _shape_error(op, values, exc) from None
    if op.saves:
        value, saved = value
        attrs = {**attrs, **saved}
    if type(value) is not _FLOAT64 and value.ndim == 0:
        value = _FLOAT64(value)  # keep scalars in NumPy's fast scalar type (see var.py)
    return Var(value, None, parents, op, attrs or _NO_ATTRS)


def record(op: Op, parents: tuple, value, attrs) -> Var:
    """A node of ``op`` whose value the caller already has from the op's own forward: how a
    composition with several outputs (``svd``: U, s and Vᵀ) makes one node per output from one
    factorization instead of one factorization per output."""
    if type(value) is not _FLOAT64 and np.ndim(value) == 0:
        value = _FLOAT64(value)
    return Var(value, None, tuple(parents), op, attrs or _NO_ATTRS)


def _shape_error(op: Op, args, exc: Exception, shapes_given: bool = False) -> ShapeError:
    """The one message for operands that don't fit, from the forward or from the shape rule."""
    shapes = tuple(args) if shapes_given else tuple(np.shape(raw(a)) for a in args)
    shown = " and ".join(str(s) for s in shapes)
    reason = exc.message if isinstance(exc, AutodiffError) else str(exc)
    return ShapeError(f"{op.name}: operand shapes {shown} don't fit ({reason})", op=op.name, shapes=shapes)


# ---- shape and cost rules the declarations share ---------------------------------------------------
# A rule takes the operand shapes (tuples) and the op's attrs and raises ValueError (or ShapeError)
# where the forward would refuse; Op.shape turns that into a ShapeError naming the op and shapes.


def same_shape(x: tuple) -> tuple:
    """Unary elementwise ops: the output has the operand's shape."""
    return x


def broadcast(*shapes: tuple) -> tuple:
    """Binary (and n-ary) elementwise ops: NumPy broadcasting."""
    return np.broadcast_shapes(*shapes)


def reduced(x: tuple, axis=None, keepdims=False, **_) -> tuple:
    """Reductions over ``axis`` (None, int or tuple), with or without ``keepdims``."""
    axes = normalize_axes(axis, len(x))
    if keepdims:
        return tuple(1 if i in axes else n for i, n in enumerate(x))
    return tuple(n for i, n in enumerate(x) if i not in axes)


def size_of(shape: tuple) -> int:
    return math.prod(shape)


def as_shape(shape) -> tuple:
    """An int or a sequence of ints as a shape tuple (``reshape(x, 3)`` means ``(3,)``)."""
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)


def normalize_axes(axis, ndim: int) -> tuple:
    """``axis`` (None, int or tuple, possibly negative) as a sorted tuple of non-negative ints."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, bool):
            raise ShapeError(f"an axis must be a whole number, not {a!r}")
        if not -ndim <= a < ndim:
            raise ShapeError(f"axis {a} is out of range for an array with {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"axis {axis!r} names an axis twice")
    return tuple(sorted(out))


def normalize_axis(axis, ndim: int) -> int:
    """One axis (an int, possibly negative) as a non-negative int, or ShapeError."""
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ShapeError(f"an axis must be a whole number, not {axis!r}")
    return normalize_axes(axis, ndim)[0]


def kept_shape(shape: tuple, axis) -> tuple:
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    return reduced(shape, axis, keepdims=True)

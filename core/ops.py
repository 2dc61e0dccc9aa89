r"""THE op table: every primitive declared once, its forward and its VJPs side by side.

A primitive is a NumPy forward plus, for each argument, a vector-Jacobian product (VJP) and the
rule it implements in LaTeX. In the rules ``z`` is the op's output and :math:`\bar v` the gradient
of the final output with respect to ``v``; ``\mathrel{+}=`` says that a parent *adds* what it
receives, because a node used twice (fan-out) receives one contribution per use.

Why VJPs and not Jacobians: reverse mode needs only :math:`\bar x = J^\top \bar z`, which for
elementwise ops is a product and for ``A @ B`` is another matmul, never the (huge) Jacobian itself
(Baydin et al., *Automatic differentiation in machine learning: a survey*, JMLR 2018, section 3.2).

VJPs are written with this module's own functions. On plain arrays those functions run NumPy
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

Conventions at non-differentiable points (documented, tested): ``relu`` and ``abs`` have gradient
0 at 0; ``max``/``min``/``maximum``/``minimum`` split the gradient equally among tied entries.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import scipy.special

from .errors import AutodiffError, ShapeError
from .var import _NO_ATTRS, Var, raw

_FLOAT64 = np.float64


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

    def shape(self, *shapes, **attrs) -> tuple:
        """The output shape of this op on operands of these shapes, without running it.

        Raises ``ShapeError`` (naming the op and the shapes) exactly when the forward would refuse
        the shapes; ``attrs`` are the op's own (``axis=0``), never the values a forward saves.
        """
        if self.shape_rule is None:
            raise AutodiffError(f"op {self.name!r} declares no shape rule", op=self.name)
        shapes = tuple(tuple(int(n) for n in s) for s in shapes)
        try:
            out = self.shape_rule(*shapes, **attrs)
        except ShapeError as exc:
            if exc.op == self.name:
                raise
            raise _shape_error(self, shapes, exc, shapes_given=True) from None
        except (ValueError, IndexError) as exc:
            raise _shape_error(self, shapes, exc, shapes_given=True) from None
        return tuple(int(n) for n in out)

    def cost(self, *shapes, **attrs) -> int:
        """An estimate of the forward's floating-point work (multiply-adds) on these shapes.

        Elementwise and data-movement ops count the entries they read or write (the default);
        contractions count their multiply-adds, factorizations the textbook flop counts. It is
        for bounding *time* before running anything, so what really costs is what is counted.
        """
        return self.abstract_eval(*shapes, **attrs)[1]

    def abstract_eval(self, *shapes, **attrs) -> tuple:
        """``(output shape, cost)`` in one call: what an abstract interpreter asks of each op."""
        out = self.shape(*shapes, **attrs)
        if self.cost_rule is None:
            # builtins.max: this module's own `max` is the primitive
            return out, builtins.max([math.prod(out)] + [math.prod(s) for s in shapes])
        shapes = tuple(tuple(int(n) for n in s) for s in shapes)
        return out, int(math.ceil(self.cost_rule(*shapes, **attrs)))


_TABLE: dict[str, Op] = {}
OPS = MappingProxyType(_TABLE)  # filled once at import, read-only afterwards


def primitive(name, forward, grads, *, shape, cost=None, attrs=(), symbol=None, saves=False, doc=""):
    """Declare a primitive and return its public function.

    ``grads`` lists, per operand in order, ``(arg_name, vjp, latex_rule)``; ``attrs`` names the
    non-differentiable parameters (``axis``, ``keepdims``, ``shape`` ...), which may be passed by
    keyword or, NumPy-style, by position after the operands. ``shape`` and ``cost`` are the
    abstract rules (see ``Op.shape`` and ``Op.cost``): ``shape`` is required, ``cost`` defaults
    to the number of entries read or written. The returned function runs ``forward`` directly on
    plain values (no graph, no overhead) and records a node as soon as one operand is a ``Var``.
    """
    if name in _TABLE:
        raise RuntimeError(f"op {name!r} declared twice")
    arg_names, vjps, rules = zip(*grads)
    op = Op(name, symbol or name, forward, arg_names, vjps, rules, saves, doc, tuple(attrs), shape, cost)
    _TABLE[name] = op
    n_operands = len(arg_names)

    def function(*args, **kwargs):
        if len(args) != n_operands:
            args, kwargs = _bind_attrs(op, attrs, args, kwargs)
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

    # The same, unrolled for the common signatures (most ops): no tuple packing, no loops. The
    # forward pass of a scalar graph is mostly this call, so it is worth the few lines.
    if n_operands == 1 and not attrs and not saves:

        def function(x):  # noqa: F811
            if type(x) is Var:
                return _record(op, forward, (x,), x._value)
            try:
                return forward(x)
            except (ValueError, IndexError) as exc:
                raise _shape_error(op, (x,), exc) from None

    elif n_operands == 2 and not attrs and not saves:

        def function(a, b):  # noqa: F811
            if type(a) is Var or type(b) is Var:
                if type(a) is not Var:
                    a = _constant(a)
                if type(b) is not Var:
                    b = _constant(b)
                return _record(op, forward, (a, b), a._value, b._value)
            try:
                return forward(a, b)
            except AutodiffError:
                raise
            except (ValueError, IndexError) as exc:
                raise _shape_error(op, (a, b), exc) from None

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc or f"The {name} primitive (see core.ops.OPS[{name!r}])."
    function.op = op
    return function


def _constant(x) -> Var:
    """A leaf for a plain number or array used in an op with Vars (``x * 0.99``)."""
    kind = type(x)
    if kind is float or kind is _FLOAT64:
        return Var(_FLOAT64(x), None, ())
    if kind is np.ndarray and x.dtype == _FLOAT64 and x.ndim:
        return Var(x, None, ())  # already an engine value: no conversion to check
    return Var(x)


def _record(op: Op, forward, parents: tuple, *values) -> Var:
    try:
        value = forward(*values)
    except AutodiffError:
        raise
    except (ValueError, IndexError) as exc:
        raise _shape_error(op, values, exc) from None
    if type(value) is not _FLOAT64 and value.ndim == 0:
        value = _FLOAT64(value)
    return Var(value, None, parents, op)


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


def _shape_error(op: Op, args, exc: Exception, shapes_given: bool = False) -> ShapeError:
    """The one message for operands that don't fit, from the forward or from the shape rule."""
    shapes = tuple(args) if shapes_given else tuple(np.shape(raw(a)) for a in args)
    shown = " and ".join(str(s) for s in shapes)
    reason = exc.message if isinstance(exc, AutodiffError) else str(exc)
    return ShapeError(f"{op.name}: operand shapes {shown} don't fit ({reason})", op=op.name, shapes=shapes)


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


def kept_shape(shape: tuple, axis) -> tuple:
    """The shape a reduction over ``axis`` has with ``keepdims=True``."""
    axes = normalize_axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def unreduce(g, shape: tuple, axis, keepdims: bool):
    """Undo a reduction's shape: put back the reduced axes and broadcast (the VJP of ``sum``)."""
    if g.shape == shape:
        return g
    if not keepdims:
        g = reshape(g, kept_shape(shape, axis))
    return broadcast_to(g, shape)


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


def _extremum_shape(x: tuple, axis=None, keepdims=False) -> tuple:
    """max/min: a reduction that, unlike sum, has nothing to return for an empty axis."""
    if any(x[i] == 0 for i in normalize_axes(axis, len(x))):
        raise ShapeError("the maximum or minimum of no numbers is undefined")
    return reduced(x, axis, keepdims)


def _softmax_shape(x: tuple, axis=-1) -> tuple:
    normalize_axes(axis, len(x))
    return x


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


def _extremum_vjp(g, z, x, axis=None, keepdims=False):
    """max/min: the gradient goes to the entries equal to the extremum, split equally on ties."""
    xv, zv = raw(x), raw(z)
    zk = zv if keepdims else np.reshape(zv, kept_shape(xv.shape, axis))
    hit = xv == zk
    share = hit / np.sum(hit, axis=axis, keepdims=True)
    return unreduce(g, xv.shape, axis, keepdims) * share


def _binary_share(a, b, wins):
    """Fraction of the gradient ``maximum``/``minimum`` send to ``a``: 1 if it wins, 1/2 on a tie."""
    av, bv = raw(a), raw(b)
    return wins(av, bv) + 0.5 * (av == bv)


def _mean_count(shape: tuple, axis) -> int:
    return int(np.prod([shape[i] for i in normalize_axes(axis, len(shape))]))


# ---- elementwise, unary ---------------------------------------------------------------------------

negative = primitive("negative", operator.neg, symbol="−", shape=same_shape, grads=[
    ("x", lambda g, z, x: -g, r"\bar{x} \mathrel{+}= -\bar{z}"),
])
exp = primitive("exp", np.exp, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * z, r"\bar{x} \mathrel{+}= \bar{z}\, e^{x}"),
])
log = primitive("log", np.log, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / x, r"\bar{x} \mathrel{+}= \bar{z} / x"),
])
sin = primitive("sin", np.sin, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * cos(x), r"\bar{x} \mathrel{+}= \bar{z} \cos x"),
])
cos = primitive("cos", np.cos, shape=same_shape, grads=[
    ("x", lambda g, z, x: -g * sin(x), r"\bar{x} \mathrel{+}= -\bar{z} \sin x"),
])
tan = primitive("tan", np.tan, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (1.0 + z * z), r"\bar{x} \mathrel{+}= \bar{z}\,(1 + \tan^2 x)"),
])
tanh = primitive("tanh", np.tanh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (1.0 - z * z), r"\bar{x} \mathrel{+}= \bar{z}\,(1 - z^2)"),
])
sigmoid = primitive("sigmoid", scipy.special.expit, symbol="σ", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (z * (1.0 - z)), r"\bar{x} \mathrel{+}= \bar{z}\, z (1 - z)"),
])
relu = primitive("relu", lambda x: np.maximum(x, 0.0), shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (raw(x) > 0), r"\bar{x} \mathrel{+}= \bar{z}\,[x > 0]"),
])
softplus = primitive("softplus", lambda x: np.logaddexp(0.0, x), shape=same_shape, grads=[
    ("x", lambda g, z, x: g * sigmoid(x), r"\bar{x} \mathrel{+}= \bar{z}\,\sigma(x)"),
])
sqrt = primitive("sqrt", np.sqrt, symbol="√", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (0.5 / z), r"\bar{x} \mathrel{+}= \bar{z} / (2\sqrt{x})"),
])
abs = primitive("abs", np.abs, symbol="|·|", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * np.sign(raw(x)), r"\bar{x} \mathrel{+}= \bar{z}\,\operatorname{sign}(x)"),
])

# ---- elementwise, binary (NumPy broadcasting; the VJPs sum it back with unbroadcast) -------------

add = primitive("add", operator.add, symbol="+", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: unbroadcast(g, a.shape), r"\bar{a} \mathrel{+}= \bar{z}"),
    ("b", lambda g, z, a, b: unbroadcast(g, b.shape), r"\bar{b} \mathrel{+}= \bar{z}"),
])
subtract = primitive("subtract", operator.sub, symbol="−", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: unbroadcast(g, a.shape), r"\bar{a} \mathrel{+}= \bar{z}"),
    ("b", lambda g, z, a, b: unbroadcast(-g, b.shape), r"\bar{b} \mathrel{+}= -\bar{z}"),
])
multiply = primitive("multiply", operator.mul, symbol="×", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: unbroadcast(g * b, a.shape), r"\bar{a} \mathrel{+}= \bar{z}\, b"),
    ("b", lambda g, z, a, b: unbroadcast(g * a, b.shape), r"\bar{b} \mathrel{+}= \bar{z}\, a"),
])
divide = primitive("divide", operator.truediv, symbol="÷", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: unbroadcast(g / b, a.shape), r"\bar{a} \mathrel{+}= \bar{z} / b"),
    ("b", lambda g, z, a, b: unbroadcast(-g * z / b, b.shape), r"\bar{b} \mathrel{+}= -\bar{z}\, a / b^2"),
])
power = primitive("power", operator.pow, symbol="^", shape=broadcast, grads=[
    # Where b == 0 the exponent b - 1 becomes 0 (any finite one would do): b·a^(b-1) is then
    # 0·1 = 0, not 0·0⁻¹ = nan at a = 0; the second derivative inherits the same fix.
    ("a", lambda g, z, a, b: unbroadcast(g * b * a ** (b - 1.0 + (raw(b) == 0)), a.shape),
     r"\bar{a} \mathrel{+}= \bar{z}\, b\, a^{b-1}"),
    # log|a| (0 where a == 0) keeps the exponent's gradient finite; for a > 0 it is log a.
    ("b", lambda g, z, a, b: unbroadcast(g * z * log(abs(a) + (raw(a) == 0)), b.shape),
     r"\bar{b} \mathrel{+}= \bar{z}\, a^{b} \log a"),
])
maximum = primitive("maximum", np.maximum, symbol="max", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: unbroadcast(g * _binary_share(a, b, np.greater), a.shape),
     r"\bar{a} \mathrel{+}= \bar{z}\,[a > b]"),
    ("b", lambda g, z, a, b: unbroadcast(g * _binary_share(b, a, np.greater), b.shape),
     r"\bar{b} \mathrel{+}= \bar{z}\,[b > a]"),
])
minimum = primitive("minimum", np.minimum, symbol="min", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: unbroadcast(g * _binary_share(a, b, np.less), a.shape),
     r"\bar{a} \mathrel{+}= \bar{z}\,[a < b]"),
    ("b", lambda g, z, a, b: unbroadcast(g * _binary_share(b, a, np.less), b.shape),
     r"\bar{b} \mathrel{+}= \bar{z}\,[b < a]"),
])

# ---- reductions (axis=None or int or tuple; keepdims) ------------------------------------------


def _reduction(numpy_reduce):
    """A NumPy reduction that refuses an axis a scalar doesn't have: NumPy lets ``axis=0`` through
    on a 0-d array (and SciPy's logsumexp turns it into shape (1,) with ``keepdims``)."""

    def forward(x, axis=None, keepdims=False):
        if axis is not None and np.ndim(x) == 0:
            normalize_axes(axis, 0)  # raises, unless axis == ()
        if keepdims and np.ndim(x) == 0:
            keepdims = False  # a scalar keeps its shape () either way
        return numpy_reduce(x, axis=axis, keepdims=keepdims)

    forward.__name__ = numpy_reduce.__name__
    return forward


def _softmax_forward(x, axis=-1):
    normalize_axes(axis, np.ndim(x))  # SciPy would take axis=-1 on a scalar
    return scipy.special.softmax(x, axis=axis)


sum = primitive("sum", _reduction(np.sum), symbol="Σ", attrs=("axis", "keepdims"), shape=reduced, grads=[
    ("x", lambda g, z, x, axis=None, keepdims=False: unreduce(g, x.shape, axis, keepdims),
     r"\bar{x}_i \mathrel{+}= \bar{z}"),
])
mean = primitive("mean", _reduction(np.mean), attrs=("axis", "keepdims"), shape=reduced, grads=[
    ("x", lambda g, z, x, axis=None, keepdims=False:
        unreduce(g, x.shape, axis, keepdims) * (1.0 / _mean_count(x.shape, axis)),
     r"\bar{x}_i \mathrel{+}= \bar{z} / n"),
])
max = primitive("max", _reduction(np.max), attrs=("axis", "keepdims"), shape=_extremum_shape, grads=[
    ("x", _extremum_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}\,[x_i = z] / \#\{j : x_j = z\}"),
])
min = primitive("min", _reduction(np.min), attrs=("axis", "keepdims"), shape=_extremum_shape, grads=[
    ("x", _extremum_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}\,[x_i = z] / \#\{j : x_j = z\}"),
])
logsumexp = primitive("logsumexp", _reduction(scipy.special.logsumexp), symbol="LSE", attrs=("axis", "keepdims"),
                      shape=reduced, grads=[
    ("x", lambda g, z, x, axis=None, keepdims=False:
        unreduce(g, x.shape, axis, keepdims) * exp(x - (z if keepdims else reshape(z, kept_shape(x.shape, axis)))),
     r"\bar{x}_i \mathrel{+}= \bar{z}\, e^{x_i - z}"),
])
softmax = primitive("softmax", _softmax_forward, attrs=("axis",),
                    shape=_softmax_shape, grads=[
    ("x", lambda g, z, x, axis=-1: z * (g - sum(g * z, axis=axis, keepdims=True)),
     r"\bar{x} \mathrel{+}= z \odot (\bar{z} - \langle \bar{z}, z \rangle)"),
])

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

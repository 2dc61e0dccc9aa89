r"""Elementwise primitives: unary functions, binary ones with NumPy broadcasting, piecewise ones.

In the rules ``z`` is the op's output and :math:`\bar v` the gradient of the final output with
respect to ``v``; ``\mathrel{+}=`` says that a parent *adds* what it receives (fan-out). Ops whose
shape rule is ``broadcast`` broadcast like NumPy, and the backward pass sums their VJPs back over
the broadcast axes (``unbroadcast``): each VJP here is the local derivative and nothing else.

Conventions where a derivative does not exist (documented, tested):

* ``relu``, ``abs`` and ``hypot`` (at the origin) have gradient 0 at 0; ``arctan2`` too at (0, 0).
* ``maximum``/``minimum`` split the gradient equally between tied operands.
* ``sign`` has gradient 0 everywhere, 0 included.
* ``clip(x, a_min, a_max)`` passes the gradient to ``x`` on the closed interval, bounds included
  (``a_min ≤ x ≤ a_max``), and 0 outside; the bounds are constants (attributes), as in NumPy and
  autograd.
* ``where(c, x, y)``: the condition is a constant; ``x`` gets the gradient where ``c`` holds.
* ``mod(a, b) = a − b·floor(a / b)``, differentiated with floor's derivative 0: at a jump (``a`` a
  multiple of ``b``) the gradient is that of the piece whose value is returned.
"""

from __future__ import annotations

import operator

import numpy as np
import scipy.special

from .ops_shape import unbroadcast
from .optable import broadcast, primitive, same_shape
from .var import raw

_LN2, _LN10 = np.log(2.0), np.log(10.0)


def _binary_share(a, b, wins):
    """Fraction of the gradient ``maximum``/``minimum`` send to ``a``: 1 if it wins, 1/2 on a tie."""
    av, bv = raw(a), raw(b)
    return wins(av, bv) + 0.5 * (av == bv)


def zeros_like(x):
    """Zeros of ``x``'s shape: the VJP of a function whose derivative is 0 (a constant, no graph)."""
    shape = np.shape(raw(x))
    return np.zeros(shape) if shape else np.float64(0.0)


def _nonzero(x):
    """``x`` with its zeros replaced by 1: a denominator that is never 0 (the kink conventions)."""
    return x + (raw(x) == 0)


# ---- elementwise, unary ---------------------------------------------------------------------------

negative = primitive("negative", operator.neg, symbol="−", shape=same_shape, grads=[
    ("x", lambda g, z, x: -g, r"\bar{x} \mathrel{+}= -\bar{z}"),
])
exp = primitive("exp", np.exp, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * z, r"\bar{x} \mathrel{+}= \bar{z}\, e^{x}"),
])
exp2 = primitive("exp2", np.exp2, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * z * _LN2, r"\bar{x} \mathrel{+}= \bar{z}\, 2^{x} \ln 2"),
])
expm1 = primitive("expm1", np.expm1, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (z + 1.0), r"\bar{x} \mathrel{+}= \bar{z}\, e^{x}"),
])
log = primitive("log", np.log, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / x, r"\bar{x} \mathrel{+}= \bar{z} / x"),
])
log2 = primitive("log2", np.log2, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / (x * _LN2), r"\bar{x} \mathrel{+}= \bar{z} / (x \ln 2)"),
])
log10 = primitive("log10", np.log10, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / (x * _LN10), r"\bar{x} \mathrel{+}= \bar{z} / (x \ln 10)"),
])
log1p = primitive("log1p", np.log1p, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / (x + 1.0), r"\bar{x} \mathrel{+}= \bar{z} / (1 + x)"),
])
sqrt = primitive("sqrt", np.sqrt, symbol="√", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (0.5 / z), r"\bar{x} \mathrel{+}= \bar{z} / (2\sqrt{x})"),
])
square = primitive("square", np.square, symbol="²", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (2.0 * x), r"\bar{x} \mathrel{+}= 2\bar{z}\, x"),
])
reciprocal = primitive("reciprocal", lambda x: 1.0 / x, symbol="1/·", shape=same_shape, grads=[
    ("x", lambda g, z, x: -g * (z * z), r"\bar{x} \mathrel{+}= -\bar{z} / x^2"),
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
arcsin = primitive("arcsin", np.arcsin, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / sqrt(1.0 - x * x), r"\bar{x} \mathrel{+}= \bar{z} / \sqrt{1 - x^2}"),
])
arccos = primitive("arccos", np.arccos, shape=same_shape, grads=[
    ("x", lambda g, z, x: -g / sqrt(1.0 - x * x), r"\bar{x} \mathrel{+}= -\bar{z} / \sqrt{1 - x^2}"),
])
arctan = primitive("arctan", np.arctan, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / (1.0 + x * x), r"\bar{x} \mathrel{+}= \bar{z} / (1 + x^2)"),
])
sinh = primitive("sinh", np.sinh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * cosh(x), r"\bar{x} \mathrel{+}= \bar{z} \cosh x"),
])
cosh = primitive("cosh", np.cosh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * sinh(x), r"\bar{x} \mathrel{+}= \bar{z} \sinh x"),
])
tanh = primitive("tanh", np.tanh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (1.0 - z * z), r"\bar{x} \mathrel{+}= \bar{z}\,(1 - z^2)"),
])
arcsinh = primitive("arcsinh", np.arcsinh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / sqrt(x * x + 1.0), r"\bar{x} \mathrel{+}= \bar{z} / \sqrt{x^2 + 1}"),
])
arccosh = primitive("arccosh", np.arccosh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / sqrt(x * x - 1.0), r"\bar{x} \mathrel{+}= \bar{z} / \sqrt{x^2 - 1}"),
])
arctanh = primitive("arctanh", np.arctanh, shape=same_shape, grads=[
    ("x", lambda g, z, x: g / (1.0 - x * x), r"\bar{x} \mathrel{+}= \bar{z} / (1 - x^2)"),
])
sigmoid = primitive("sigmoid", scipy.special.expit, symbol="σ", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (z * (1.0 - z)), r"\bar{x} \mathrel{+}= \bar{z}\, z (1 - z)"),
])
softplus = primitive("softplus", lambda x: np.logaddexp(0.0, x), shape=same_shape, grads=[
    ("x", lambda g, z, x: g * sigmoid(x), r"\bar{x} \mathrel{+}= \bar{z}\,\sigma(x)"),
])
relu = primitive("relu", lambda x: np.maximum(x, 0.0), shape=same_shape, grads=[
    ("x", lambda g, z, x: g * (raw(x) > 0), r"\bar{x} \mathrel{+}= \bar{z}\,[x > 0]"),
])
abs = primitive("abs", np.abs, symbol="|·|", shape=same_shape, grads=[
    ("x", lambda g, z, x: g * np.sign(raw(x)), r"\bar{x} \mathrel{+}= \bar{z}\,\operatorname{sign}(x)"),
])
sign = primitive("sign", np.sign, shape=same_shape, grads=[
    ("x", lambda g, z, x: zeros_like(x), r"\bar{x} \mathrel{+}= 0"),
])

# ---- elementwise, binary (NumPy broadcasting; the backward pass sums the copies back) -------------

add = primitive("add", operator.add, symbol="+", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g, r"\bar{a} \mathrel{+}= \bar{z}"),
    ("b", lambda g, z, a, b: g, r"\bar{b} \mathrel{+}= \bar{z}"),
])
subtract = primitive("subtract", operator.sub, symbol="−", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g, r"\bar{a} \mathrel{+}= \bar{z}"),
    ("b", lambda g, z, a, b: -g, r"\bar{b} \mathrel{+}= -\bar{z}"),
])
multiply = primitive("multiply", operator.mul, symbol="×", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g * b, r"\bar{a} \mathrel{+}= \bar{z}\, b"),
    ("b", lambda g, z, a, b: g * a, r"\bar{b} \mathrel{+}= \bar{z}\, a"),
])
divide = primitive("divide", operator.truediv, symbol="÷", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g / b, r"\bar{a} \mathrel{+}= \bar{z} / b"),
    ("b", lambda g, z, a, b: -g * z / b, r"\bar{b} \mathrel{+}= -\bar{z}\, a / b^2"),
])
power = primitive("power", operator.pow, symbol="^", shape=broadcast, grads=[
    # Where b == 0 the exponent b - 1 becomes 0 (any finite one would do): b·a^(b-1) is then
    # 0·1 = 0, not 0·0⁻¹ = nan at a = 0; the second derivative inherits the same fix.
    ("a", lambda g, z, a, b: g * b * a ** (b - 1.0 + (raw(b) == 0)), r"\bar{a} \mathrel{+}= \bar{z}\, b\, a^{b-1}"),
    # log|a| (0 where a == 0) keeps the exponent's gradient finite; for a > 0 it is log a.
    ("b", lambda g, z, a, b: g * z * log(_nonzero(abs(a))), r"\bar{b} \mathrel{+}= \bar{z}\, a^{b} \log a"),
])
maximum = primitive("maximum", np.maximum, symbol="max", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g * _binary_share(a, b, np.greater), r"\bar{a} \mathrel{+}= \bar{z}\,[a > b]"),
    ("b", lambda g, z, a, b: g * _binary_share(b, a, np.greater), r"\bar{b} \mathrel{+}= \bar{z}\,[b > a]"),
])
minimum = primitive("minimum", np.minimum, symbol="min", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g * _binary_share(a, b, np.less), r"\bar{a} \mathrel{+}= \bar{z}\,[a < b]"),
    ("b", lambda g, z, a, b: g * _binary_share(b, a, np.less), r"\bar{b} \mathrel{+}= \bar{z}\,[b < a]"),
])
hypot = primitive("hypot", np.hypot, shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g * a / _nonzero(z), r"\bar{a} \mathrel{+}= \bar{z}\, a / z"),
    ("b", lambda g, z, a, b: g * b / _nonzero(z), r"\bar{b} \mathrel{+}= \bar{z}\, b / z"),
])
arctan2 = primitive("arctan2", np.arctan2, shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g * b / _nonzero(a * a + b * b), r"\bar{a} \mathrel{+}= \bar{z}\, b / (a^2 + b^2)"),
    ("b", lambda g, z, a, b: -g * a / _nonzero(a * a + b * b), r"\bar{b} \mathrel{+}= -\bar{z}\, a / (a^2 + b^2)"),
])
mod = primitive("mod", np.mod, symbol="mod", shape=broadcast, grads=[
    ("a", lambda g, z, a, b: g, r"\bar{a} \mathrel{+}= \bar{z}"),
    ("b", lambda g, z, a, b: -g * np.floor(raw(a) / raw(b)), r"\bar{b} \mathrel{+}= -\bar{z} \lfloor a / b \rfloor"),
])

# ---- piecewise: a condition, or bounds, choose the piece -----------------------------------------


def _where_forward(condition, x, y):
    return np.where(condition != 0, x, y)


where = primitive("where", _where_forward, shape=broadcast, grads=[
    ("c", lambda g, z, c, x, y: zeros_like(z), r"\bar{c} \mathrel{+}= 0"),
    ("x", lambda g, z, c, x, y: g * (raw(c) != 0), r"\bar{x} \mathrel{+}= \bar{z}\,[c]"),
    ("y", lambda g, z, c, x, y: g * (raw(c) == 0), r"\bar{y} \mathrel{+}= \bar{z}\,[\lnot c]"),
])


def _bound(value, infinity: float):
    """A clip bound: None means no bound (±inf); anything else as a float64 constant."""
    return infinity if value is None else np.asarray(raw(value), dtype=np.float64)


def _clip_forward(x, a_min=None, a_max=None):
    if a_min is None and a_max is None:
        raise ValueError("clip needs a_min or a_max (or both)")
    return np.clip(x, _bound(a_min, -np.inf), _bound(a_max, np.inf))


def _clip_shape(x: tuple, a_min=None, a_max=None) -> tuple:
    if a_min is None and a_max is None:
        raise ValueError("clip needs a_min or a_max (or both)")
    return np.broadcast_shapes(x, np.shape(raw(a_min)), np.shape(raw(a_max)))


def _clip_vjp(g, z, x, a_min=None, a_max=None):
    xv = raw(x)
    inside = (xv >= _bound(a_min, -np.inf)) & (xv <= _bound(a_max, np.inf))
    return unbroadcast(g * inside, np.shape(xv))


clip = primitive("clip", _clip_forward, attrs=("a_min", "a_max"), shape=_clip_shape, grads=[
    ("x", _clip_vjp, r"\bar{x} \mathrel{+}= \bar{z}\,[a_{\min} \le x \le a_{\max}]"),
])

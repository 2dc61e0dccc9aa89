r"""Elementwise primitives: unary functions, and binary ones with NumPy broadcasting.

In the rules ``z`` is the op's output and :math:`\bar v` the gradient of the final output with
respect to ``v``; ``\mathrel{+}=`` says that a parent *adds* what it receives (fan-out). Binary
ops broadcast like NumPy; their VJPs sum the broadcast axes back with ``unbroadcast``.

Conventions at non-differentiable points (documented, tested): ``relu`` and ``abs`` have gradient
0 at 0; ``maximum``/``minimum`` split the gradient equally between tied operands.
"""

from __future__ import annotations

import operator

import numpy as np
import scipy.special

from .ops_shape import unbroadcast
from .optable import broadcast, primitive, same_shape
from .var import raw


def _binary_share(a, b, wins):
    """Fraction of the gradient ``maximum``/``minimum`` send to ``a``: 1 if it wins, 1/2 on a tie."""
    av, bv = raw(a), raw(b)
    return wins(av, bv) + 0.5 * (av == bv)


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

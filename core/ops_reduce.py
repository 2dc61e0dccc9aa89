r"""Reductions (``axis`` = None, an int or a tuple; ``keepdims``) and softmax.

Conventions at non-differentiable points (documented, tested): ``max``/``min`` split the gradient
equally among tied entries.
"""

from __future__ import annotations

import numpy as np
import scipy.special

from .errors import ShapeError
from .ops_elementwise import exp
from .ops_shape import reshape, unreduce
from .optable import kept_shape, normalize_axes, primitive, reduced
from .var import raw


def _extremum_shape(x: tuple, axis=None, keepdims=False) -> tuple:
    """max/min: a reduction that, unlike sum, has nothing to return for an empty axis."""
    if any(x[i] == 0 for i in normalize_axes(axis, len(x))):
        raise ShapeError("the maximum or minimum of no numbers is undefined")
    return reduced(x, axis, keepdims)


def _softmax_shape(x: tuple, axis=-1) -> tuple:
    normalize_axes(axis, len(x))
    return x


def _extremum_vjp(g, z, x, axis=None, keepdims=False):
    """max/min: the gradient goes to the entries equal to the extremum, split equally on ties."""
    xv, zv = raw(x), raw(z)
    zk = zv if keepdims else np.reshape(zv, kept_shape(xv.shape, axis))
    hit = xv == zk
    share = hit / np.sum(hit, axis=axis, keepdims=True)
    return unreduce(g, xv.shape, axis, keepdims) * share


def _mean_count(shape: tuple, axis) -> int:
    return int(np.prod([shape[i] for i in normalize_axes(axis, len(shape))]))


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

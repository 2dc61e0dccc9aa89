r"""Reductions (``axis`` = None, an int or a tuple; ``keepdims``), scans and softmax.

``prod``'s gradient is the product of the *other* entries, computed without dividing by the entry
itself, so it is exact where entries are 0 too. ``var`` and ``std`` take ``ddof`` (divide by
n − ddof) as NumPy does; ``logsumexp`` takes SciPy's weights ``b`` (constants).

Conventions where a derivative does not exist (documented, tested): ``max``/``min`` split the
gradient equally among tied entries; ``std`` has gradient 0 where it is 0 (all entries equal).
"""

from __future__ import annotations

import numpy as np
import scipy.special

from .errors import ShapeError
from .ops_elementwise import exp
from .ops_shape import flip, moveaxis, reshape, unbroadcast, unreduce
from .optable import kept_shape, normalize_axes, normalize_axis, primitive, reduced, size_of
from .var import Var, raw


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
    return unreduce(g, xv.shape, axis, keepdims) * _shares(xv, zk, axis)


def _shares(values, target, axes):
    """1/(number of ties) where ``values`` equal their extremum ``target`` (kept dims), else 0."""
    hit = values == target
    return hit / np.sum(hit, axis=axes, keepdims=True)


def _mean_count(shape: tuple, axis) -> int:
    return int(np.prod([shape[i] for i in normalize_axes(axis, len(shape))]))


# ---- reductions (axis=None or int or tuple; keepdims) ------------------------------------------


def _reduction(numpy_reduce):
    """A NumPy reduction that refuses an axis a scalar doesn't have: NumPy lets ``axis=0`` through
    on a 0-d array (and SciPy's logsumexp turns it into shape (1,) with ``keepdims``)."""

    def forward(x, axis=None, keepdims=False, **options):
        if axis is not None and np.ndim(x) == 0:
            normalize_axes(axis, 0)  # raises, unless axis == ()
        if keepdims and np.ndim(x) == 0:
            keepdims = False  # a scalar keeps its shape () either way
        return numpy_reduce(x, axis=axis, keepdims=keepdims, **options)

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
def _logsumexp_forward(x, axis=None, b=None, keepdims=False):
    if b is None:
        return _lse(x, axis=axis, keepdims=keepdims)
    x, b = np.broadcast_arrays(x, np.asarray(raw(b), dtype=np.float64))
    return _lse(x, axis=axis, keepdims=keepdims, b=b)


_lse = _reduction(scipy.special.logsumexp)


def _logsumexp_vjp(g, z, x, axis=None, b=None, keepdims=False):
    """x̄ᵢ = z̄ bᵢ e^{xᵢ − z}: softmax weights (times b), summed back over b's broadcasting."""
    shape = np.broadcast_shapes(np.shape(raw(x)), np.shape(raw(b))) if b is not None else x.shape
    z_kept = z if keepdims else reshape(z, kept_shape(shape, axis))
    weights = exp(x - z_kept) if b is None else exp(x - z_kept) * raw(b)
    return unbroadcast(unreduce(g, shape, axis, keepdims) * weights, x.shape)


logsumexp = primitive("logsumexp", _logsumexp_forward, symbol="LSE", attrs=("axis", "b", "keepdims"),
                      shape=lambda x, axis=None, b=None, keepdims=False:
                      reduced(np.broadcast_shapes(x, np.shape(raw(b))), axis, keepdims), grads=[
    ("x", _logsumexp_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}\, b_i\, e^{x_i - z}"),
])
softmax = primitive("softmax", _softmax_forward, attrs=("axis",),
                    shape=_softmax_shape, grads=[
    ("x", lambda g, z, x, axis=-1: z * (g - sum(g * z, axis=axis, keepdims=True)),
     r"\bar{x} \mathrel{+}= z \odot (\bar{z} - \langle \bar{z}, z \rangle)"),
])


# ---- products, moments -----------------------------------------------------------------------------


def _others_product_plain(x: np.ndarray, axes: tuple) -> np.ndarray:
    """For each entry, the product of the other entries along ``axes``, from exclusive cumulative
    products from both ends: no division, so zeros are no special case (O(n))."""
    moved = np.moveaxis(x, axes, tuple(range(-len(axes), 0)))
    flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,))
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return np.moveaxis((before * after).reshape(moved.shape), tuple(range(-len(axes), 0)), axes)


def _others_product_graph(x: Var, axes: tuple):
    """The same on Vars (second order), from engine ops: each entry's row of the n×n matrix that
    holds the axis' entries with 1 on the diagonal, multiplied out (O(n²), used only with zeros)."""
    moved = moveaxis(x, axes, tuple(range(-len(axes), 0)))
    n = size_of(moved.shape[moved.ndim - len(axes):])
    flat = reshape(moved, moved.shape[:moved.ndim - len(axes)] + (1, n))
    eye = np.eye(n)
    rows = flat * (1.0 - eye) + eye  # row i: the entries, with the i-th replaced by 1
    return moveaxis(reshape(prod(rows, axis=-1), moved.shape), tuple(range(-len(axes), 0)), axes)


def _prod_vjp(g, z, x, axis=None, keepdims=False):
    """x̄ᵢ = z̄ ∏_{j≠i} xⱼ: z / xᵢ where no entry is 0, else the product of the others itself."""
    if np.ndim(raw(x)) == 0:
        return g
    axes = normalize_axes(axis, np.ndim(raw(x)))
    if not axes:
        return g
    spread = unreduce(g, x.shape, axis, keepdims)
    if np.all(raw(x) != 0):
        return spread * (z if keepdims else reshape(z, kept_shape(x.shape, axis))) / x
    if type(x) is Var:
        return spread * _others_product_graph(x, axes)
    return spread * _others_product_plain(x, axes)


prod = primitive("prod", _reduction(np.prod), symbol="Π", attrs=("axis", "keepdims"), shape=reduced, grads=[
    ("x", _prod_vjp, r"\bar{x}_i \mathrel{+}= \bar{z} \textstyle\prod_{j \ne i} x_j"),
])


def _centered(x, axis):
    """x minus its mean over ``axis`` (kept), with engine ops: differentiable again."""
    return x - mean(x, axis=axis, keepdims=True)


def _var_vjp(g, z, x, axis=None, ddof=0, keepdims=False):
    return unreduce(g, x.shape, axis, keepdims) * _centered(x, axis) * (2.0 / (_mean_count(x.shape, axis) - ddof))


def _std_vjp(g, z, x, axis=None, ddof=0, keepdims=False):
    """x̄ = z̄ (x − mean) / ((n − ddof) z); where z = 0 (all entries equal) x − mean = 0: gradient 0."""
    z_kept = z if keepdims else reshape(z, kept_shape(x.shape, axis))
    denominator = z_kept + (raw(z_kept) == 0)
    count = _mean_count(x.shape, axis) - ddof
    return unreduce(g, x.shape, axis, keepdims) * _centered(x, axis) / (denominator * count)


var = primitive("var", _reduction(np.var), attrs=("axis", "ddof", "keepdims"), shape=reduced, grads=[
    ("x", _var_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}\, 2 (x_i - \bar{x}) / (n - \text{ddof})"),
])
std = primitive("std", _reduction(np.std), attrs=("axis", "ddof", "keepdims"), shape=reduced, grads=[
    ("x", _std_vjp, r"\bar{x}_i \mathrel{+}= \bar{z}\, (x_i - \bar{x}) / ((n - \text{ddof})\, z)"),
])

# ---- scans ----------------------------------------------------------------------------------------


def _cumsum_forward(x, axis=None):
    if axis is not None:
        normalize_axis(axis, np.ndim(x))  # NumPy would take axis=0 on a scalar
    return np.cumsum(x, axis)


def _cumsum_shape(x: tuple, axis=None) -> tuple:
    if axis is None:
        return (size_of(x),)
    normalize_axis(axis, len(x))
    return x


def _cumsum_vjp(g, z, x, axis=None):
    """Entry i reaches every partial sum from i on: x̄ is the cumulative sum of z̄ from the end."""
    if axis is None:
        return reshape(flip(cumsum(flip(g, 0), 0), 0), x.shape)
    return flip(cumsum(flip(g, axis), axis), axis)


cumsum = primitive("cumsum", _cumsum_forward, attrs=("axis",), shape=_cumsum_shape, grads=[
    ("x", _cumsum_vjp, r"\bar{x}_i \mathrel{+}= \textstyle\sum_{j \ge i} \bar{z}_j"),
])

"""Every primitive of the op table, swept by the finite-difference checker over many shapes.

One line per op in ``CASES``; ``test_every_op_has_cases`` fails when an op is added to the table
without a line here. Each case is checked to first order (the NumPy fast path of the VJPs) and to
second order (the same VJPs run on Vars, as nested ``grad`` runs them). The same sweep checks each
op's abstract rules: its shape rule gives the shape the forward returns, and refuses the operand
shapes the forward refuses (each case's operands swapped, one at a time, for a pool of shapes).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import core as ad
from core.ops import OPS, Op, apply

UNARY_SHAPES = [(), (3,), (2, 3), (2, 2, 3)]
BINARY_SHAPES = [
    ((), ()), ((3,), (3,)), ((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)),
    ((2, 1), (1, 3)), ((), (2, 3)), ((2, 3), ()), ((2, 2, 3), (2, 3)),
]
AXES = [None, 0, -1, (0, 1)]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _sample(shape, rng, low=None):
    """Random entries; with ``low``, uniform in [low, low + 1.5] (a domain like x > 0)."""
    if low is None:
        return rng.standard_normal(shape)
    return low + 1.5 * rng.random(shape)


def unary(fn, low=None, shapes=UNARY_SHAPES):
    rng = _rng(1)
    return [(fn, (_sample(s, rng, low),)) for s in shapes]


def binary(fn, low_a=None, low_b=None):
    rng = _rng(2)
    return [(fn, (_sample(sa, rng, low_a), _sample(sb, rng, low_b))) for sa, sb in BINARY_SHAPES]


TERNARY_SHAPES = [((), (), ()), ((2, 3), (2, 3), (2, 3)), ((2, 3), (3,), ()), ((3,), (2, 1), (2, 3)),
                  ((2, 1), (1, 3), (3,)), ((2, 2, 3), (2, 3), (1, 3))]


def where_cases():
    """where(c, x, y) over broadcasting patterns; c is a constant (its gradient is 0 by convention)."""
    rng = _rng(7)
    cases = []
    for sc, sx, sy in TERNARY_SHAPES:
        c = rng.random(sc) > 0.5
        cases.append((lambda x, y, c=c: ad.where(c, x, y), (rng.standard_normal(sx), rng.standard_normal(sy))))
    return cases


def clip_cases():
    """Bounds as numbers, as arrays that broadcast with x, or only one of them."""
    rng = _rng(8)
    x = rng.standard_normal((2, 3))
    return [(lambda x: ad.clip(x, -0.5, 0.5), (x,)),
            (lambda x: ad.clip(x, a_min=-0.3), (rng.standard_normal(4),)),
            (lambda x: ad.clip(x, None, 0.2), (rng.standard_normal(()),)),
            (lambda x: ad.clip(x, np.array([-1.0, -0.2, 0.0]), 0.4), (x,)),
            (lambda x: ad.clip(x, -0.4, np.array([[0.1], [0.7]])), (rng.standard_normal(3),))]


def reduction(fn, **extra):
    """Every axis choice, with and without keepdims, on a 2×3 matrix; plus a scalar and a vector."""
    rng = _rng(3)
    cases = [(fn, (rng.standard_normal(()),)), (fn, (rng.standard_normal(4),))]
    for axis in AXES:
        for keepdims in (False, True):
            cases.append((lambda x, a=axis, k=keepdims: fn(x, axis=a, keepdims=k), (rng.standard_normal((2, 3)),)))
    return cases


def moment(fn):
    """var/std: every axis choice with keepdims, ddof 0 and 1, on a 2×3 matrix; a vector; a scalar."""
    rng = _rng(9)
    cases = [(fn, (rng.standard_normal(4),)), (lambda x: fn(x, ddof=1), (rng.standard_normal(5),)),
             (fn, (rng.standard_normal(()),))]
    for axis in AXES:
        for keepdims, ddof in ((False, 0), (True, 1)):
            cases.append((lambda x, a=axis, k=keepdims, d=ddof: fn(x, axis=a, ddof=d, keepdims=k),
                          (rng.standard_normal((2, 3)),)))
    return cases


def with_zeros(shape, zeros, seed=10):
    x = _rng(seed).standard_normal(shape)
    x.flat[list(zeros)] = 0.0
    return x


def spd(n, seed=0):
    q = _rng(seed).standard_normal((n, n))
    return q @ q.T / n + np.eye(n)


def square(n, seed=0):
    return _rng(seed).standard_normal((n, n)) + 3.0 * np.eye(n)


def symmetrized(fn):
    """fn of the symmetric part: the convention for ops that read only one triangle (cholesky)."""
    return lambda A: fn(0.5 * (A + ad.swapaxes(A, -1, -2)))


def weighted(fn, shape, seed=11):
    """sum(fn(x) · W)² with fixed weights: every entry of a matrix output matters, nonlinearly."""
    weights = _rng(seed).standard_normal(shape)
    return lambda x: ad.sum(fn(x) * weights) ** 2


def stack_of(make, n, count=2):
    """A stack of ``count`` n×n matrices from ``make(n, seed)``."""
    return np.stack([make(n, seed) for seed in range(count)])


R = _rng(4)
SOFTMAX_WEIGHTS = R.standard_normal((2, 3))
CASES = {
    "negative": unary(ad.negative),
    "exp": unary(ad.exp),
    "log": unary(ad.log, low=0.5),
    "sin": unary(ad.sin),
    "cos": unary(ad.cos),
    "tan": unary(ad.tan, low=-0.7),
    "tanh": unary(ad.tanh),
    "sigmoid": unary(ad.sigmoid),
    "relu": unary(ad.relu),
    "softplus": unary(ad.softplus),
    "sqrt": unary(ad.sqrt, low=0.5),
    "abs": unary(ad.abs),
    "exp2": unary(ad.exp2),
    "expm1": unary(ad.expm1),
    "log2": unary(ad.log2, low=0.5),
    "log10": unary(ad.log10, low=0.5),
    "log1p": unary(ad.log1p, low=-0.5),
    "square": unary(ad.square),
    "reciprocal": unary(ad.reciprocal, low=0.5),
    "arcsin": unary(ad.arcsin, low=-0.7),
    "arccos": unary(ad.arccos, low=-0.7),
    "arctan": unary(ad.arctan),
    "sinh": unary(ad.sinh),
    "cosh": unary(ad.cosh),
    "arcsinh": unary(ad.arcsinh),
    "arccosh": unary(ad.arccosh, low=1.2),
    "arctanh": unary(ad.arctanh, low=-0.7),
    "sign": unary(ad.sign),
    "hypot": binary(ad.hypot),
    "arctan2": binary(ad.arctan2),
    "mod": binary(ad.mod, low_b=0.5),
    "where": where_cases(),
    "clip": clip_cases(),
    "add": binary(ad.add),
    "subtract": binary(ad.subtract),
    "multiply": binary(ad.multiply),
    "divide": binary(ad.divide, low_b=0.5),
    "power": binary(ad.power, low_a=0.5),
    "maximum": binary(ad.maximum),
    "minimum": binary(ad.minimum),
    "sum": reduction(ad.sum),
    "mean": reduction(ad.mean),
    "max": reduction(ad.max),
    "min": reduction(ad.min),
    "logsumexp": reduction(ad.logsumexp) + [
        (lambda x: ad.logsumexp(x, b=0.5), (R.standard_normal(3),)),
        (lambda x: ad.logsumexp(x, axis=1, b=np.array([0.5, 1.0, 2.0])), (R.standard_normal((2, 3)),)),
        (lambda x: ad.logsumexp(x, axis=0, b=np.array([[0.2], [0.7]]), keepdims=True), (R.standard_normal(3),))],
    "prod": reduction(ad.prod) + [
        (ad.prod, (with_zeros(4, [1]),)), (ad.prod, (with_zeros(4, [0, 2]),)),
        (lambda x: ad.prod(x, axis=1), (with_zeros((2, 3), [1, 4]),)),
        (lambda x: ad.prod(x, axis=(0, 1), keepdims=True), (with_zeros((2, 3), [5]),))],
    "var": moment(ad.var),
    "std": moment(ad.std),
    "cumsum": [(ad.cumsum, (R.standard_normal(()),)), (ad.cumsum, (R.standard_normal(4),)),
               (ad.cumsum, (R.standard_normal((2, 3)),)),
                   (lambda x: ad.cumsum(x, axis=0), (R.standard_normal((2, 3)),)),
               (lambda x: ad.cumsum(x, -1), (R.standard_normal((2, 2, 3)),))],
    "softmax": [(lambda x: ad.softmax(x) * np.arange(4.0), (R.standard_normal(4),)),
                (lambda x: ad.softmax(x, axis=0) * SOFTMAX_WEIGHTS, (R.standard_normal((2, 3)),))],
    "transpose": [(ad.transpose, (R.standard_normal((2, 3)),)),
                  (lambda x: ad.transpose(x, axes=(2, 0, 1)), (R.standard_normal((2, 3, 4)),)),
                  (lambda x: ad.transpose(x, axes=(-1, 0, 1)), (R.standard_normal((2, 3, 4)),))],
    "reshape": [(lambda x: ad.reshape(x, (3, 2)), (R.standard_normal((2, 3)),)),
                (lambda x: ad.reshape(x, (-1,)), (R.standard_normal((2, 2, 3)),))],
    "broadcast_to": [(lambda x: ad.broadcast_to(x, (2, 3)), (R.standard_normal(3),)),
                     (lambda x: ad.broadcast_to(x, (2, 3)), (R.standard_normal(()),))],
    "identity": unary(ad.identity),
    "swapaxes": [(lambda x: ad.swapaxes(x, 0, 2), (R.standard_normal((2, 3, 4)),)),
                 (lambda x: ad.swapaxes(x, -1, 0), (R.standard_normal((2, 3)),))],
    "moveaxis": [(lambda x: ad.moveaxis(x, 0, -1), (R.standard_normal((2, 3, 4)),)),
                 (lambda x: ad.moveaxis(x, (0, 1), (-1, -3)), (R.standard_normal((2, 3, 4)),))],
    "ravel": [(ad.ravel, (R.standard_normal((2, 3)),)), (ad.ravel, (R.standard_normal(()),))],
    "squeeze": [(ad.squeeze, (R.standard_normal((2, 1, 3)),)),
                (lambda x: ad.squeeze(x, 1), (R.standard_normal((2, 1, 1)),)),
                (ad.squeeze, (R.standard_normal(1),))],
    "expand_dims": [(lambda x: ad.expand_dims(x, 1), (R.standard_normal((2, 3)),)),
                    (lambda x: ad.expand_dims(x, (0, -1)), (R.standard_normal(3),))],
    "flip": [(ad.flip, (R.standard_normal((2, 3)),)), (lambda x: ad.flip(x, 0), (R.standard_normal((2, 3)),)),
             (lambda x: ad.flip(x, (0, -1)), (R.standard_normal((2, 2, 3)),))],
    "roll": [(lambda x: ad.roll(x, 1), (R.standard_normal(4),)),
             (lambda x: ad.roll(x, 2, axis=1), (R.standard_normal((2, 3)),)),
             (lambda x: ad.roll(x, (1, -1), axis=(0, 1)), (R.standard_normal((2, 3)),)),
             (lambda x: ad.roll(x, -4), (R.standard_normal((2, 3)),))],
    "repeat": [(lambda x: ad.repeat(x, 2), (R.standard_normal(3),)),
               (lambda x: ad.repeat(x, 2, axis=0), (R.standard_normal((2, 3)),)),
               (lambda x: ad.repeat(x, np.array([1, 0, 2]), axis=1), (R.standard_normal((2, 3)),)),
               (lambda x: ad.repeat(x, 3), (R.standard_normal((2, 3)),))],
    "tile": [(lambda x: ad.tile(x, 2), (R.standard_normal(3),)),
             (lambda x: ad.tile(x, (2, 1)), (R.standard_normal((2, 3)),)),
             (lambda x: ad.tile(x, (2, 2)), (R.standard_normal(3),)),
             (lambda x: ad.tile(x, 2), (R.standard_normal(()),)),
             (lambda x: ad.tile(x, 2), (R.standard_normal((2, 3)),))],
    "tril": [(ad.tril, (R.standard_normal((3, 3)),)), (lambda x: ad.tril(x, 1), (R.standard_normal((3, 4)),)),
             (lambda x: ad.tril(x, k=-1), (R.standard_normal((2, 3, 3)),))],
    "triu": [(ad.triu, (R.standard_normal((3, 3)),)), (lambda x: ad.triu(x, 1), (R.standard_normal((3, 4)),)),
             (lambda x: ad.triu(x, k=-1), (R.standard_normal((2, 3, 3)),))],
    "diagonal": [(ad.diagonal, (R.standard_normal((3, 3)),)),
                 (lambda x: ad.diagonal(x, 1), (R.standard_normal((3, 4)),)),
                 (lambda x: ad.diagonal(x, -1, 1, 2), (R.standard_normal((2, 3, 4)),)),
                 (lambda x: ad.diagonal(x, axis1=2, axis2=0), (R.standard_normal((2, 3, 4)),))],
    "stack": [(lambda a, b: ad.stack([a, b]), (R.standard_normal(3), R.standard_normal(3))),
              (lambda a, b: ad.stack((a, b), axis=1), (R.standard_normal((2, 3)), R.standard_normal((2, 3)))),
              (lambda a, b, c: ad.stack([a, b, c], -1), tuple(R.standard_normal((3,)))),
              (lambda a: ad.stack([a, 2.0 * a, np.ones(2)]), (R.standard_normal(2),))],
    "concatenate": [
        (lambda a, b: ad.concatenate([a, b]), (R.standard_normal((2, 3)), R.standard_normal((1, 3)))),
        (lambda a, b: ad.concatenate((a, b), axis=1), (R.standard_normal((2, 3)), R.standard_normal((2, 1)))),
        (lambda a, b: ad.concatenate([a, b], axis=None), (R.standard_normal((2, 3)), R.standard_normal(2))),
        (lambda a, b: ad.concatenate([b, a, b], -1), (R.standard_normal((2, 2, 3)), R.standard_normal((2, 2, 1))))],
    "getitem": [(lambda x: x[1], (R.standard_normal(3),)), (lambda x: x[:, 1], (R.standard_normal((2, 3)),)),
                (lambda x: x[1:3], (R.standard_normal(4),)),
                (lambda x: x[np.array([0, 0, 2])], (R.standard_normal(3),))],
    "scatter": [(lambda g: ad.scatter(g, index=np.array([0, 0, 2]), shape=(4,)), (R.standard_normal(3),))],
    "matmul": [(ad.matmul, (R.standard_normal((2, 3)), R.standard_normal((3, 4)))),
               (ad.matmul, (R.standard_normal(3), R.standard_normal(3))),
               (ad.matmul, (R.standard_normal(3), R.standard_normal((3, 2)))),
               (ad.matmul, (R.standard_normal((2, 3)), R.standard_normal(3))),
               (ad.matmul, (R.standard_normal((2, 2, 3)), R.standard_normal((3, 4)))),
               (ad.matmul, (R.standard_normal((2, 3)), R.standard_normal((2, 3, 4)))),
               (ad.matmul, (R.standard_normal((1, 2, 3)), R.standard_normal((2, 3, 1))))],
    "outer": [(ad.outer, (R.standard_normal(3), R.standard_normal(2)))],
    "einsum": [(lambda a, b, sub=sub: ad.einsum(sub, a, b), args) for sub, args in (
        ("ij,jk->ik", (R.standard_normal((2, 3)), R.standard_normal((3, 4)))),
        ("ijk,lji->lki", (R.standard_normal((3, 4, 4)), R.standard_normal((4, 4, 3)))),
        ("...jk,...lj->...lk", (R.standard_normal((3, 4, 4)), R.standard_normal((3, 4, 4)))),
        ("...ij,jk", (R.standard_normal((2, 1, 2, 3)), R.standard_normal((3, 2)))),  # implicit output
        ("i,i->i", (R.standard_normal(1), R.standard_normal(3))),  # a size-1 axis broadcasts
        ("ij,ij->", (R.standard_normal((2, 3)), R.standard_normal((2, 3)))))] + [
        (lambda x: ad.einsum("ii->i", x), (R.standard_normal((3, 3)),)),  # a diagonal
        (lambda x: ad.einsum("ij->ji", x), (R.standard_normal((3, 4)),)),
        (lambda x: ad.einsum("iij->j", x), (R.standard_normal((2, 2, 3)),)),
        (lambda x: ad.einsum("i->", x), (R.standard_normal(4),)),
        (lambda a, b, c: ad.einsum("ijk,lji,lli->lki", a, b, c),
         (R.standard_normal((3, 4, 4)), R.standard_normal((4, 4, 3)), R.standard_normal((4, 4, 3))))],
    "tensordot": [(lambda a, b, axes=axes: ad.tensordot(a, b, axes), args) for axes, args in (
        (2, (R.standard_normal((2, 3, 4)), R.standard_normal((3, 4, 2)))),
        ([(0,), (0,)], (R.standard_normal(3), R.standard_normal((3, 4, 2)))),
        ([(1, 0), (2, 1)], (R.standard_normal((2, 3)), R.standard_normal((2, 2, 3, 4)))),
        (1, (R.standard_normal((2, 2)), R.standard_normal((2, 2, 4)))),
        (0, (R.standard_normal(2), R.standard_normal(3))))],
    "trace": [(ad.trace, (R.standard_normal((3, 3)),)), (lambda x: ad.trace(x, 1), (R.standard_normal((3, 4)),)),
              (lambda x: ad.trace(x, offset=-1), (R.standard_normal((4, 3)),)),
              (lambda x: ad.trace(x, offset=2), (R.standard_normal((5, 6, 4, 3)),)),
              (lambda x: ad.trace(x, 0, 2, 1), (R.standard_normal((2, 3, 3)),))],
    "diag": [(ad.diag, (R.standard_normal(3),)), (lambda x: ad.diag(x, 1), (R.standard_normal(3),)),
             (lambda x: ad.diag(x, k=-2), (R.standard_normal(2),)), (ad.diag, (R.standard_normal((3, 3)),)),
             (lambda x: ad.diag(x, -1), (R.standard_normal((3, 4)),)),
             (lambda x: ad.diag(x, 2), (R.standard_normal((3, 4)),))],
    "solve": [(ad.solve, (square(3), R.standard_normal(3))), (ad.solve, (square(3, 1), R.standard_normal((3, 2)))),
              (ad.solve, (stack_of(square, 3), R.standard_normal(3))),
              (ad.solve, (stack_of(square, 3), R.standard_normal((2, 3, 2)))),
              (ad.solve, (square(3), R.standard_normal((2, 3, 1)))),
              (ad.solve, (spd(3), R.standard_normal(3))),  # symmetric positive definite: Cholesky
              (ad.solve, (spd(3, 1), R.standard_normal((3, 5)))),  # more right-hand sides than rows
              (ad.solve, (square(3, 2), R.standard_normal((3, 5)))),
              (ad.solve, (stack_of(square, 2, 3)[None], R.standard_normal((2, 1, 2, 2))))],
    "inv": [(ad.inv, (square(3),)), (ad.inv, (stack_of(square, 3),))],
    "det": [(ad.det, (square(3),)), (ad.det, (-square(3, 2),)), (ad.det, (stack_of(square, 3),))],
    "logabsdet": [(ad.logabsdet, (square(3),)), (ad.logabsdet, (-square(3, 2),)),
                  (ad.logabsdet, (stack_of(square, 2, 3),))],
    "logdet": [(ad.logdet, (spd(3),)), (ad.logdet, (stack_of(spd, 3),)), (ad.logdet, (square(3),))],
    "cholesky": [(symmetrized(ad.cholesky), (spd(3),)), (symmetrized(ad.cholesky), (spd(1, 1),)),
                 (symmetrized(ad.cholesky), (stack_of(spd, 3),))],
    "svdvals": [(weighted(ad.svdvals, 2), (R.standard_normal((3, 2)),)),
                (weighted(ad.svdvals, 2), (R.standard_normal((2, 4)),)),
                (weighted(ad.svdvals, (2, 3)), (R.standard_normal((2, 3, 3)),))],
    "svd_u": [(weighted(ad.svd_u, (3, 2)), (R.standard_normal((3, 2)),)),
              (weighted(ad.svd_u, (2, 2)), (R.standard_normal((2, 3)),)),
              (weighted(ad.svd_u, (2, 3, 3)), (R.standard_normal((2, 3, 3)),))],
    "svd_vh": [(weighted(ad.svd_vh, (2, 2)), (R.standard_normal((3, 2)),)),
               (weighted(ad.svd_vh, (2, 3)), (R.standard_normal((2, 3)),)),
               (weighted(ad.svd_vh, (2, 3, 3)), (R.standard_normal((2, 3, 3)),))],
    "eigvalsh": [(symmetrized(weighted(ad.eigvalsh, 3)), (R.standard_normal((3, 3)),)),
                 (symmetrized(weighted(ad.eigvalsh, (2, 3))), (R.standard_normal((2, 3, 3)),))],
    "eigh_vectors": [(symmetrized(weighted(ad.eigh_vectors, (3, 3))), (R.standard_normal((3, 3)),)),
                     (symmetrized(weighted(ad.eigh_vectors, (2, 3, 3))), (R.standard_normal((2, 3, 3)),))],
    "pinv": [(weighted(ad.pinv, (2, 3)), (R.standard_normal((3, 2)),)),
             (weighted(ad.pinv, (3, 2)), (R.standard_normal((2, 3)),)),
             (weighted(ad.pinv, (2, 2, 3)), (R.standard_normal((2, 3, 2)),))],
    "norm": [(lambda x, o=o, a=a, k=k: ad.norm(x, o, a, k) * 1.0, (x,)) for o, a, k, x in (
        (None, None, False, R.standard_normal(4)), (1, None, False, R.standard_normal(4)),
        (np.inf, None, False, R.standard_normal(4)), (-np.inf, None, False, R.standard_normal(4)),
        (3, None, False, R.standard_normal(4)), (0.5, None, False, R.standard_normal(4)),
        (None, None, False, R.standard_normal((2, 3))), ("fro", None, False, R.standard_normal((2, 3))),
        ("nuc", None, False, R.standard_normal((3, 2))), (2, None, False, R.standard_normal((2, 3))),
        (-2, None, False, R.standard_normal((3, 3))), (1, None, False, R.standard_normal((2, 3))),
        (-1, None, False, R.standard_normal((2, 3))), (np.inf, None, False, R.standard_normal((2, 3))),
        (-np.inf, None, False, R.standard_normal((2, 3))), (None, 1, False, R.standard_normal((2, 3))),
        (3, -1, True, R.standard_normal((2, 3))), ("nuc", (2, 0), False, R.standard_normal((2, 3, 4))),
        (2, (0, 1), True, R.standard_normal((2, 3, 4))), (1, (2, 1), False, R.standard_normal((2, 3, 4))),
        (None, None, False, R.standard_normal(())))],
}


# The compositions of primitives (FUNCTIONS without an op): checked the same way, to second order.
W32 = R.standard_normal((3, 2))
COMPOSITE_CASES = {
    "dot": [(ad.dot, (R.standard_normal(3), R.standard_normal(3))),
            (ad.dot, (R.standard_normal(()), R.standard_normal(3))),
            (ad.dot, (R.standard_normal((2, 3, 4)), R.standard_normal((2, 4, 3)))),
            (ad.dot, (R.standard_normal((2, 3, 4)), R.standard_normal(4)))],
    "inner": [(ad.inner, (R.standard_normal(3), R.standard_normal(3))),
              (ad.inner, (R.standard_normal((2, 3)), R.standard_normal((4, 3)))),
              (ad.inner, (R.standard_normal(()), R.standard_normal(3)))],
    "kron": [(ad.kron, (R.standard_normal((2, 3)), R.standard_normal((3, 2)))),
             (ad.kron, (R.standard_normal(3), R.standard_normal((2, 2)))),
             (ad.kron, (R.standard_normal(()), R.standard_normal(2)))],
    "slogdet": [(lambda A: ad.slogdet(A)[1], (-square(3, 2),))],
    "flatten": [(ad.flatten, (R.standard_normal((2, 3)),))],
    "atleast_1d": [(ad.atleast_1d, (R.standard_normal(()),)), (ad.atleast_1d, (R.standard_normal(2),))],
    "atleast_2d": [(ad.atleast_2d, (R.standard_normal(()),)), (ad.atleast_2d, (R.standard_normal(3),))],
    "atleast_3d": [(ad.atleast_3d, (R.standard_normal(3),)), (ad.atleast_3d, (R.standard_normal((2, 3)),))],
    "hstack": [(lambda a, b: ad.hstack([a, b]), (R.standard_normal(3), R.standard_normal(2))),
               (lambda a, b: ad.hstack((a, b)), (R.standard_normal((2, 3)), R.standard_normal((2, 1)))),
               (lambda a: ad.hstack([a, 1.0, a]), (R.standard_normal(()),))],
    "vstack": [(lambda a, b: ad.vstack([a, b]), (R.standard_normal(3), R.standard_normal(3))),
               (lambda a, b: ad.vstack((a, b)), (R.standard_normal((2, 3)), R.standard_normal(3)))],
    "array": [(lambda x: ad.array([x, x * 1.0, x + 2.5]), (R.standard_normal(()),)),
              (lambda x: ad.array([[x, x * 1.0, x + 2.5], [x ** 2, x, x / 2.0]]), (1.0 + R.random(()),)),
              (lambda x: ad.array([[2 * x, x + 1], [x, x]]), (R.standard_normal((3, 2)),)),
              (lambda x: ad.array(x), (R.standard_normal(2),))],
    "split": [(lambda x: ad.split(x, 2)[0] * ad.split(x, 2)[1], (R.standard_normal(4),)),
              (lambda x: ad.split(x, [1, 3], axis=1)[1], (R.standard_normal((2, 4)),))],
    "svd": [(lambda A: ad.sum(ad.svd(A, full_matrices=False)[0] * W32) + ad.sum(ad.svd(A, compute_uv=False)),
             (R.standard_normal((3, 2)),)),
            (lambda A: ad.sum(ad.svd(A)[2] * ad.svd(A)[1]), (R.standard_normal((2, 2)),))],
    "eigh": [(symmetrized(lambda A: ad.sum(ad.eigh(A)[1] ** 2 * ad.eigh(A)[0])), (R.standard_normal((3, 3)),))],
    "array_split": [(lambda x: ad.array_split(x, 2)[0], (R.standard_normal(5),)),
                    (lambda x: ad.stack([ad.sum(p) for p in ad.array_split(x, 3, axis=1)]),
                     (R.standard_normal((2, 4)),))],
}
ALL_COMPOSITE_CASES = [(name, i, fn, args) for name, cases in COMPOSITE_CASES.items()
                       for i, (fn, args) in enumerate(cases)]


def test_every_composition_has_cases():
    compositions = {name for name, public in ad.FUNCTIONS.items() if public.op is None}
    assert compositions == set(COMPOSITE_CASES), "compositions without a case, or cases without a composition"


@pytest.mark.parametrize("name,i,fn,args", ALL_COMPOSITE_CASES, ids=[f"{n}-{i}" for n, i, _, _ in ALL_COMPOSITE_CASES])
def test_compositions_to_second_order(name, i, fn, args):
    ad.check_grads(fn, *args, order=2, rtol=1e-4, atol=1e-6)


# Direct calls of the compositions that return one array: their declared shape rule must agree.
COMPOSITE_CALLS = {
    "dot": [((3,), (3,)), ((), (2, 3)), ((2, 3), (3, 4)), ((2, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,))],
    "inner": [((3,), (3,)), ((2, 3), (4, 3)), ((), (2,))],
    "kron": [((2, 3), (3, 2)), ((3,), (2, 2)), ((), (2,))],
    "flatten": [((2, 3),)], "atleast_1d": [((),), ((2,),)], "atleast_2d": [((),), ((3,),), ((2, 3, 4),)],
    "atleast_3d": [((),), ((3,),), ((2, 3),)],
    "hstack": [((3,), (2,)), ((2, 3), (2, 1)), ((), ())], "vstack": [((3,), (3,)), ((2, 3), (3,))],
    "array": [((2,), (2,)), ((), (), ())],
}


@pytest.mark.parametrize("name", sorted(COMPOSITE_CALLS))
def test_composition_shape_rules(name):
    public = ad.FUNCTIONS[name]
    assert not public.returns_tuple and public.shape_rule is not None
    for shapes in COMPOSITE_CALLS[name]:
        values = [_rng(12).standard_normal(s) for s in shapes]
        result = public.function(values) if public.call == "sequence" else public.function(*values)
        shape, cost = public.abstract_eval(*shapes)
        assert shape == np.shape(result) and cost >= 0, (name, shapes)
    single = {n for n, p in ad.FUNCTIONS.items() if p.op is None and not p.returns_tuple}
    assert single == set(COMPOSITE_CALLS)


def test_every_op_has_cases():
    missing = sorted(set(ad.OPS) - set(CASES))
    unknown = sorted(set(CASES) - set(ad.OPS))
    assert not missing, f"ops in the table without a gradient test case: {missing}"
    assert not unknown, f"test cases for ops not in the table: {unknown}"


ALL_CASES = [(name, i, fn, args) for name, cases in CASES.items() for i, (fn, args) in enumerate(cases)]


@pytest.mark.parametrize("name,i,fn,args", ALL_CASES, ids=[f"{n}-{i}" for n, i, _, _ in ALL_CASES])
def test_gradient_matches_finite_differences(name, i, fn, args):
    ad.check_grads(fn, *args, order=1)


@pytest.mark.parametrize("name,i,fn,args", ALL_CASES, ids=[f"{n}-{i}" for n, i, _, _ in ALL_CASES])
def test_second_order_matches_finite_differences(name, i, fn, args):
    ad.check_grads(fn, *args, order=2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_agrees_with_numpy_on_plain_arrays(name):
    """The same function on Vars and on plain arrays gives the same value (the fast path)."""
    for fn, args in CASES[name]:
        plain = fn(*args)
        traced = fn(*[ad.Var(a) for a in args])
        np.testing.assert_allclose(traced.value, plain, rtol=1e-12, atol=1e-12)


# ---- the abstract rules: shape and cost --------------------------------------------------------------


def _op_nodes(fn, args) -> list:
    """Every op node a case builds (the op under test, and any op the case wraps it in)."""
    out = fn(*[ad.Var(a) for a in args])
    return [node for node in ad.toposort(out) if node.op is not None]


def _own_attrs(node) -> dict:
    """The attrs the op was called with, without what its forward saved (LU factors ...)."""
    return {k: v for k, v in node.attrs.items() if k in node.op.attrs}


def test_every_op_declares_its_rules():
    for op in OPS.values():
        assert callable(op.shape_rule), f"{op.name} has no shape rule"
        assert op.cost_rule is None or callable(op.cost_rule), f"{op.name}'s cost rule is not callable"


@pytest.mark.parametrize("name,i,fn,args", ALL_CASES, ids=[f"{n}-{i}" for n, i, _, _ in ALL_CASES])
def test_shape_rule_gives_the_forward_shape(name, i, fn, args):
    for node in _op_nodes(fn, args):
        shapes = [p.shape for p in node.parents]
        shape, cost = node.op.abstract_eval(*shapes, **_own_attrs(node))
        assert shape == node.shape, f"{node.op.name}{tuple(shapes)}: rule {shape}, forward {node.shape}"
        assert type(cost) is int and cost >= 0
        assert node.op.shape(*shapes, **_own_attrs(node)) == shape and node.op.cost(*shapes, **_own_attrs(node)) == cost


SHAPE_POOL = [(), (1,), (2,), (3,), (4,), (1, 3), (2, 3), (3, 2), (3, 3), (2, 2, 3), (2, 3, 3), (2, 1, 3)]


def _operand(shape, rng):
    """Random entries; a square (stack of) matrices gets 3 I added, so it is far from singular."""
    x = rng.standard_normal(shape)
    if len(shape) >= 2 and shape[-1] == shape[-2]:
        x = x + 3.0 * np.eye(shape[-1])
    return x


def _forward_shape(op, shapes, attrs, rng):
    """The forward's output shape on random operands of these shapes, or None if it refuses them."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # var with ddof ≥ n, means of nothing: NumPy warns
            return apply(op, [_operand(s, rng) for s in shapes], attrs).shape
    except ad.LinAlgError:  # refused for the values (singular, indefinite), not for the shapes
        return op.shape(*shapes, **attrs)
    except ad.ShapeError:
        return None


def _rule_shape(op, shapes, attrs):
    try:
        return op.shape(*shapes, **attrs)
    except ad.ShapeError as exc:
        assert exc.op == op.name and str(shapes[0]) in str(exc), f"unclear message: {exc}"
        return None


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_rule_refuses_what_the_forward_refuses(name):
    rng = _rng(6)
    op, tried = OPS[name], set()
    for fn, args in CASES[name]:
        for node in _op_nodes(fn, args):
            if node.op is not op:
                continue
            attrs, shapes = _own_attrs(node), [p.shape for p in node.parents]
            for position in range(len(shapes)):
                for alternative in SHAPE_POOL:
                    trial = shapes[:position] + [alternative] + shapes[position + 1:]
                    key = (tuple(trial), repr(attrs))
                    if key in tried:
                        continue
                    tried.add(key)
                    expected, declared = _forward_shape(op, trial, attrs, rng), _rule_shape(op, trial, attrs)
                    assert declared == expected, (
                        f"{name}{tuple(trial)} {attrs}: the forward gives {expected}, the rule {declared} "
                        "(None: refused)")
    assert tried, f"no case of {name} calls {name}"


def _sin_with_wrong_vjp(relative_error):
    op = Op("sin_wrong", "sin", np.sin, ("x",), (lambda g, z, x: g * np.cos(x) * (1 + relative_error),), ("",))
    return lambda x: apply(op, (x,), {})


@pytest.mark.parametrize("shape", [(), (5,), (3, 4)])
def test_checker_rejects_a_vjp_off_by_a_tenth_of_a_percent(shape):
    x = _rng(5).standard_normal(shape)
    ad.check_grads(_sin_with_wrong_vjp(0.0), x)  # the same op with the right VJP passes
    with pytest.raises(ad.GradientCheckError) as err:
        ad.check_grads(_sin_with_wrong_vjp(1e-3), x)
    assert "finite differences" in str(err.value) and "VJP" in str(err.value)


def test_checker_rejects_a_wrong_second_derivative():
    """A VJP that is right on arrays but built from the wrong ops for Vars fails only at order 2."""
    op = Op("sin_bad_graph", "sin", np.sin, ("x",),
            (lambda g, z, x: g * (ad.cos(x) if type(x) is not ad.Var else ad.cos(x) * 1.001),), ("",))
    fn = lambda x: apply(op, (x,), {})  # noqa: E731
    ad.check_grads(fn, 0.7, order=1)
    with pytest.raises(ad.GradientCheckError):
        ad.check_grads(fn, 0.7, order=2)

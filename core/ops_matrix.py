r"""Triangles and diagonals: ``tril``, ``triu``, ``diagonal``, ``trace``, ``diag``.

Reading a diagonal and writing one into zeros are adjoint to each other, and keeping a triangle is
its own adjoint: each VJP here is the op's mirror image, built from engine ops (``scatter`` and
``moveaxis``), so second derivatives work too. NumPy's semantics: ``diagonal`` and ``trace`` take
``offset``, ``axis1`` and ``axis2`` (the first two axes by default) and any rectangular shape;
``diag(v, k)`` builds a matrix from a vector and reads the k-th diagonal of a matrix.
"""

from __future__ import annotations

import numpy as np

from .errors import ShapeError
from .ops_shape import moveaxis, reshape, scatter
from .optable import normalize_axis, primitive


def _diagonal_length(n1: int, n2: int, offset: int) -> int:
    return max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))


def _diagonal_axes(x: tuple, axis1, axis2) -> tuple:
    if len(x) < 2:
        raise ShapeError(f"a diagonal needs at least two axes, not shape {x}")
    a, b = normalize_axis(axis1, len(x)), normalize_axis(axis2, len(x))
    if a == b:
        raise ShapeError("axis1 and axis2 must be different axes")
    return a, b


def _diagonal_shape(x: tuple, offset=0, axis1=0, axis2=1) -> tuple:
    """NumPy's: the other axes in order, then the diagonal."""
    a, b = _diagonal_axes(x, axis1, axis2)
    rest = tuple(n for i, n in enumerate(x) if i not in (a, b))
    return rest + (_diagonal_length(x[a], x[b], offset),)


def _place_diagonal(g, shape: tuple, offset: int, axis1: int, axis2: int):
    """Zeros of ``shape`` with ``g`` (the diagonal's values, last axis) written on that diagonal:
    the adjoint of reading it. Built from engine ops, so it can be differentiated again."""
    a, b = axis1 % len(shape), axis2 % len(shape)
    moved = tuple(n for i, n in enumerate(shape) if i not in (a, b)) + (shape[a], shape[b])
    k = g.shape[-1]
    rows = np.arange(k) + max(-offset, 0)
    index = (Ellipsis, rows, rows + offset)
    return moveaxis(scatter(g, index=index, shape=moved), (-2, -1), (a, b))


def _triangle_forward(keep):
    def forward(x, k=0):
        if np.ndim(x) < 2:
            raise ValueError(f"{keep.__name__} needs at least two dimensions, not shape {np.shape(x)}")
        return keep(x, k)

    return forward


def _triangle_shape(x: tuple, k=0) -> tuple:
    if len(x) < 2:
        raise ShapeError(f"a triangle needs at least two dimensions, not shape {x}")
    return x


tril = primitive("tril", _triangle_forward(np.tril), attrs=("k",), shape=_triangle_shape, grads=[
    ("x", lambda g, z, x, k=0: tril(g, k), r"\bar{x} \mathrel{+}= \operatorname{tril}(\bar{z})"),
])
triu = primitive("triu", _triangle_forward(np.triu), attrs=("k",), shape=_triangle_shape, grads=[
    ("x", lambda g, z, x, k=0: triu(g, k), r"\bar{x} \mathrel{+}= \operatorname{triu}(\bar{z})"),
])
diagonal = primitive(
    "diagonal", lambda x, offset=0, axis1=0, axis2=1: np.diagonal(x, offset, axis1, axis2).copy(),
    attrs=("offset", "axis1", "axis2"), shape=_diagonal_shape, grads=[
        ("x", lambda g, z, x, offset=0, axis1=0, axis2=1: _place_diagonal(g, x.shape, offset, axis1, axis2),
         r"\bar{x}_{i,i+k} \mathrel{+}= \bar{z}_i"),
    ])


def _trace_shape(x: tuple, offset=0, axis1=0, axis2=1) -> tuple:
    return _diagonal_shape(x, offset, axis1, axis2)[:-1]


def _trace_vjp(g, z, A, offset=0, axis1=0, axis2=1):
    """Ā = z̄ I (the identity with the offset, on the two axes; z̄ broadcast over the others)."""
    a, b = axis1 % A.ndim, axis2 % A.ndim
    eye = np.eye(A.shape[a], A.shape[b], k=offset)
    if A.ndim == 2:
        return g * eye
    return moveaxis(reshape(g, g.shape + (1, 1)) * eye, (-2, -1), (a, b))


trace = primitive("trace", lambda A, offset=0, axis1=0, axis2=1: np.trace(A, offset, axis1, axis2), symbol="tr",
                  attrs=("offset", "axis1", "axis2"), shape=_trace_shape, grads=[
    ("A", _trace_vjp, r"\bar{A} \mathrel{+}= \bar{z}\, I"),
])


def _diag_forward(x, k=0):
    if x.ndim not in (1, 2):
        raise ValueError("diag takes a vector (to make a diagonal matrix) or a matrix (to read its diagonal)")
    return np.diag(x, k).copy()


def _diag_shape(x: tuple, k=0) -> tuple:
    if len(x) == 1:
        return (x[0] + abs(k),) * 2
    if len(x) == 2:
        return (_diagonal_length(x[0], x[1], k),)
    raise ValueError("diag takes a vector (to make a diagonal matrix) or a matrix (to read its diagonal)")


def _diag_vjp(g, z, x, k=0):
    """Building a diagonal matrix and reading a diagonal are adjoint to each other."""
    if x.ndim == 1:
        return diagonal(g, k)
    return _place_diagonal(g, x.shape, k, 0, 1)


diag = primitive("diag", _diag_forward, attrs=("k",), shape=_diag_shape, grads=[
    ("x", _diag_vjp, r"\bar{x} \mathrel{+}= \operatorname{diag}(\bar{z})"),
])

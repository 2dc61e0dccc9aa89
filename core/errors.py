"""The few error types of the engine.

Every error that the public API raises on purpose is an ``AutodiffError``, so a caller (the app,
a notebook) can catch one type and show its message. Each carries *where* it happened: the op that
failed (``op``) and, for the expression language, the line and column in the program text.
"""

from __future__ import annotations


class AutodiffError(Exception):
    """Base of every error the engine raises on purpose.

    ``op`` names the primitive that failed (``"solve"``), ``node`` the user's name of the node
    when there is one; either may be ``None``.
    """

    def __init__(self, message: str, *, op: str | None = None, node: str | None = None):
        super().__init__(message)
        self.message = message
        self.op = op
        self.node = node


class ShapeError(AutodiffError, ValueError):
    """Operands whose shapes don't fit the op (names the op and every shape involved).

    Also a ``ValueError``, as NumPy's own broadcasting errors are, so code written against NumPy
    that catches ``ValueError`` keeps working.
    """

    def __init__(self, message: str, *, op: str | None = None, shapes: tuple = (), node=None):
        super().__init__(message, op=op, node=node)
        self.shapes = tuple(shapes)


class LinAlgError(AutodiffError):
    """A matrix the op cannot use: singular, not positive definite, negative determinant."""


class GradientCheckError(AutodiffError, AssertionError):
    """The VJP disagrees with finite differences; the message is a readable report.

    Also an ``AssertionError`` so that a bare ``check_grads(...)`` in a test fails like an assert.
    """


class ExpressionError(AutodiffError):
    """A program the expression language refuses; ``line``/``col`` (1-based) and ``end_col`` locate it."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None,
                 end_col: int | None = None, **kw):
        super().__init__(message, **kw)
        self.line, self.col, self.end_col = line, col, end_col

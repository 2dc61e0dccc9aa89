r"""The expression language: a program's text in, a graph of ``Var``\ s out, nothing ever run by Python.

    x = 2.0                 # bound to a number, a list of numbers or a constructor: an input
    W = randn(3, 2)         # constructors: randn rand zeros ones eye full spd, seeded
    h = tanh(W.T @ [1.0, 2.0, 3.0] + x)
    loss = sum(h ** 2)      # the last line is the output (it may be a bare expression)

Safety comes from *what is absent*: the text is parsed with ``ast`` and every node is checked
against a whitelist before anything runs; evaluation walks that tree and calls engine functions
looked up in an explicit table (``FUNCTIONS``). There is no ``eval``, ``exec``, ``compile``, no
``getattr`` with a user-chosen name, and no way to reach Python objects: the only attribute is
``.T``, names starting with ``_`` are refused, and the only strings that can be written are
short runs of letters, spaces and ``, . - >`` in two places (einsum's subscripts and keyword values
such as ``ord='fro'``), checked on the raw text before Python's parser sees it.

Grammar: ``name = expr`` (one name, bound once), numbers, rectangular lists of numbers, names,
``+ - * / ** @ %``, unary ``-``/``+``, ``.T``, indexing with written-out integers and slices
(``x[0]``, ``x[1:3]``, ``x[:, -1]``), and calls of ``FUNCTIONS`` with positional operands and, where
the op has them, literal keywords (``sum(M, axis=0, keepdims=True)``); functions of a sequence take
a list of expressions first (``stack([a, b], axis=1)``), einsum its subscripts
(``einsum('ij,jk->ik', A, B)``). ``FUNCTIONS`` is the engine's own table of public functions
(``core.FUNCTIONS``) minus indexing's internals and the functions returning several arrays. ``pi``
and ``e`` are constants until a program binds those names itself.

Decisions, documented here because the app and the tests rely on them:

* **Constructors** (sizes are integer literals ≥ 1, so a size limit is checked before any
  allocation): ``randn(*shape)`` standard normal, ``rand(*shape)`` uniform on [0, 1),
  ``zeros(*shape)``, ``ones(*shape)``, ``eye(n)``, ``full(*shape, value)`` (the last argument is the
  value: ``full(2, 3, 0.5)``), ``spd(n)`` = G Gᵀ/n + I with G standard normal, symmetric positive
  definite with eigenvalues in about [1, 5]. A NumPy-style tuple also works: ``zeros((2, 3))``.
  Random draws come from ``np.random.default_rng([seed, crc32(name), k])``, a stream per bound name
  (k counts the draws within the line): the same program and seed give the same numbers, and
  editing one line of a program does not reshuffle the matrices of the others. No global RNG.
* **Inputs** are the names bound directly to a number (``-1.5`` too), a list, ``pi``/``e`` or a
  constructor. A constructor *inside* an expression (``x * ones(3)``) is a constant. A name bound
  to an expression of constants only (``c = 2 * pi``) is a named constant leaf, not an input.
* **Non-finite values are errors**: an operation whose result holds NaN or ±inf (``log(-1)``,
  ``1 / 0``, ``exp(1000)``) is refused where it happens, because a NaN silently poisons every later
  value and gradient and the student can no longer see where it came from. ``as_function(...,
  check_finite=False)`` lifts this for function plots, which sweep inputs through domain edges.
* **slogdet** returns a pair, which programs cannot hold: use ``logabsdet(A)`` (log|det A|).
* **Non-scalar outputs** are not an error here; the trace shows them forward-only.
* **Locations**: every ``Var`` a statement creates (op results, the constants the engine wraps
  around numbers as in ``x * 0.99``) gets ``loc = (line, col)``, 1-based, of the sub-expression
  that made it; the value bound to a name gets that ``name``, except an alias ``y = x``, which binds
  y to x's very node. ``ExpressionError`` carries ``line``, ``col`` and ``end_col`` (1-based, the
  last character); its message is a plain sentence.
* **Limits** live in ``Limits`` and are checked before the work they bound. Nothing but an
  ``AutodiffError`` leaves ``parse``/``build``/``run`` for any input text.
"""

from __future__ import annotations

import ast
import difflib
import math
import numbers
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from . import ops as _ops
from .errors import AutodiffError, ExpressionError
from .ops import FUNCTIONS as ENGINE_FUNCTIONS
from .var import Var, as_value, raw


@dataclass(frozen=True)
class Limits:
    """Every limit of the language, in one place, sized for a lecture (and for a public server)."""

    max_chars: int = 20_000  # program text
    max_statements: int = 500
    max_depth: int = 50  # bracket nesting, and expression nesting (a + b + c counts 2)
    max_nodes: int = 5_000  # graph nodes: ops, intermediate results, constants
    max_elements: int = 1_000_000  # entries of one array
    max_total_elements: int = 10_000_000  # entries of all the arrays a program makes
    max_flops: int = 300_000_000  # multiply-adds of @ and of the O(n³) matrix ops, in all
    max_dims: int = 6  # axes of a constructed array


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class _Function:
    """A callable of the language: the engine function, its operand names and its attributes."""

    name: str
    function: Callable
    operands: tuple
    attrs: tuple = ()
    call: str = "operands"  # or "sequence" (stack([a, b])) or "subscripts" (einsum("ij,jk", A, B))


# Indexing is written x[...]; scatter is indexing's VJP, whose index could not be written anyway.
_HIDDEN_OPS = frozenset({"getitem", "scatter"})


def _function_table() -> MappingProxyType:
    """Every public function of the engine (``core.ops.FUNCTIONS``: the op table's primitives
    and the compositions of them) by name, except the hidden ones and those returning a tuple,
    which a program cannot hold."""
    table = {name: _Function(name, public.function, public.operands, public.attrs, public.call)
             for name, public in ENGINE_FUNCTIONS.items()
             if name not in _HIDDEN_OPS and not public.returns_tuple}
    return MappingProxyType(dict(sorted(table.items())))


FUNCTIONS = _function_table()
FUNCTION_NAMES = tuple(FUNCTIONS)
CONSTRUCTOR_NAMES = ("randn", "rand", "zeros", "ones", "eye", "full", "spd")
CONSTANTS = MappingProxyType({"pi": np.float64(np.pi), "e": np.float64(np.e)})
# Functions that return several arrays (a program holds one per name), with what to use instead.
_TUPLE_FUNCTIONS = MappingProxyType({
    "slogdet": "slogdet returns a pair (sign, log|det|), which programs cannot hold; use logabsdet(A) for log|det A|",
    "svd": "svd returns three arrays, which programs cannot hold; use svd_u(A), svdvals(A) and svd_vh(A)",
    "eigh": "eigh returns two arrays, which programs cannot hold; use eigvalsh(A) and eigh_vectors(A)",
    "split": "split returns a list of pieces, which programs cannot hold; take the pieces by indexing, like x[0:2]",
    "array_split": "array_split returns a list of pieces, which programs cannot hold; index instead, like x[0:2]",
})
_CALLABLE_NAMES = frozenset(FUNCTION_NAMES + CONSTRUCTOR_NAMES + tuple(_TUPLE_FUNCTIONS))
_COMMON = ("sin", "cos", "tanh", "exp", "log", "sqrt", "sigmoid", "relu", "sum", "mean", "dot",
           "solve", "randn", "zeros", "eye")

_BINARY = MappingProxyType({
    ast.Add: ("add", "+"), ast.Sub: ("subtract", "-"), ast.Mult: ("multiply", "*"),
    ast.Div: ("divide", "/"), ast.Pow: ("power", "**"), ast.MatMult: ("matmul", "@"), ast.Mod: ("mod", "%"),
})
_ELEMENTWISE_BINARY = frozenset({"add", "subtract", "multiply", "divide", "power", "maximum", "minimum", "mod"})
_CUBIC = frozenset({"solve", "inv", "det", "logdet", "logabsdet", "cholesky"})
_BAD_OPERATORS = MappingProxyType({
    ast.BitXor: "^ is not a power here (in Python it is bitwise xor); write x ** 2",
    ast.FloorDiv: "// is not allowed; the operators are + - * / ** @ %",
    ast.Not: "'not' is not allowed: there are no booleans here",
    ast.Invert: "~ is not allowed; the operators are + - * / ** @ %",
})
_STATEMENT_WORDS = MappingProxyType({
    "If": "if", "For": "for", "AsyncFor": "async for", "While": "while", "With": "with",
    "AsyncWith": "async with", "Try": "try", "TryStar": "try", "FunctionDef": "def",
    "AsyncFunctionDef": "async def", "ClassDef": "class", "Return": "return", "Global": "global",
    "Nonlocal": "nonlocal", "Delete": "del", "Assert": "assert", "Raise": "raise", "Pass": "pass",
    "Break": "break", "Continue": "continue", "Match": "match",
})
_REFUSED = MappingProxyType({
    "Lambda": "lambda is not allowed: programs have no functions of their own",
    "ListComp": "comprehensions are not allowed", "SetComp": "comprehensions are not allowed",
    "DictComp": "comprehensions are not allowed", "GeneratorExp": "generator expressions are not allowed",
    "Compare": "comparisons are not allowed: there are no booleans here",
    "BoolOp": "'and' / 'or' are not allowed: there are no booleans here",
    "IfExp": "conditional expressions (a if c else b) are not allowed",
    "Dict": "dict literals are not allowed", "Set": "set literals are not allowed",
    "JoinedStr": "strings are not allowed", "FormattedValue": "strings are not allowed",
    "NamedExpr": "the walrus operator := is not allowed; bind the name on its own line",
    "Await": "await is not allowed", "Yield": "yield is not allowed", "YieldFrom": "yield is not allowed",
    "Starred": "starred arguments (*args) are not allowed",
    "Tuple": "tuples are only allowed in indices and keyword values, like x[0, 1] or axis=(0, 1)",
    "Slice": "slices are only allowed inside [ ]",
})
_NONFINITE_HINTS = MappingProxyType({
    "log": ": log needs positive numbers", "sqrt": ": sqrt needs numbers ≥ 0",
    "divide": ": a division by zero?", "exp": ": exp overflows above about 709",
    "power": ": a negative number to a fractional power, 0 to a negative one, or an overflow?",
    "mod": ": a modulo by zero?",
})
_NEWLINE = re.compile(r"\r\n|\r|\n")
_INDEX_MESSAGE = "indices must be whole numbers written out, like x[0], x[1:3] or x[:, -1] (not names or expressions)"


# ---- statements and programs --------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One line: ``target = expr`` (``target`` is None for a bare last expression)."""

    target: str | None
    expr: ast.expr
    line: int
    col: int
    end_col: int | None
    is_input: bool  # bound to a literal or a constructor: a differentiable input


@dataclass(frozen=True)
class Program:
    """A checked program: its statements in order; ``build`` and ``as_function`` evaluate it."""

    text: str
    statements: tuple
    lines: tuple = field(repr=False)

    @property
    def input_names(self) -> tuple:
        return tuple(s.target for s in self.statements if s.is_input)

    @property
    def output_name(self) -> str | None:
        return self.statements[-1].target

    def locate(self, node) -> tuple:
        """(line, col, end_col) of an AST node: 1-based characters (``ast`` counts UTF-8 bytes)."""
        return _locate(self.lines, node)

    def error(self, node, message: str) -> ExpressionError:
        return ExpressionError(message, *_locate(self.lines, node))


def _locate(lines: tuple, node) -> tuple:
    line = getattr(node, "lineno", 1) or 1
    col = _char_col(lines, line, getattr(node, "col_offset", 0) or 0)
    end = getattr(node, "end_col_offset", None)
    end_col = _char_col(lines, line, end) - 1 if end is not None and node.end_lineno == line else None
    return line, col, end_col


def split_lines(text: str) -> tuple:
    """The program's lines as the language numbers them (\\r\\n, \\r and \\n end a line)."""
    return tuple(_NEWLINE.split(text))


def caret_excerpt(text: str, line: int | None, col: int | None) -> str | None:
    """The offending line of ``text`` with a caret under ``col`` (both 1-based), numbered as the
    language numbers lines; None when the location is not in the text."""
    lines = split_lines(text)
    if not line or not 1 <= line <= len(lines):
        return None
    return f"{line:>3} | {lines[line - 1]}\n    | " + " " * max((col or 1) - 1, 0) + "^"


def input_span(text: str, name: str):
    """Character offsets ``(start, end)`` of the right-hand side of the statement that binds the
    input ``name`` (the literal the app's what-if box edits), or None if there is none."""
    program = parse(text)
    for stmt in program.statements:
        if stmt.target == name and stmt.is_input:
            line, col, end_col = _locate(program.lines, stmt.expr)
            if end_col is None:
                return None
            starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
            return starts[line - 1] + col - 1, starts[line - 1] + end_col
    return None


def _char_col(lines: tuple, line: int, byte_offset: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if text.isascii():
        return byte_offset + 1
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore")) + 1


# ---- literals: numbers, lists, indices, keyword values, constructor sizes ------------------------


def _number(node, error, message="a number is expected here") -> float:
    """A written-out number, possibly signed, as a finite float; booleans are not numbers."""
    sign = 1.0
    if type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        sign, node = (-1.0 if type(node.op) is ast.USub else 1.0), node.operand
    if type(node) is not ast.Constant or type(node.value) not in (int, float):
        raise error(node, message)
    try:
        value = sign * float(node.value)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise error(node, "this number is too large for a float64 (it would be infinite)")
    return value


def _integer(node, error, message: str) -> int:
    sign, inner = 1, node
    if type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        sign, inner = (-1 if type(node.op) is ast.USub else 1), node.operand
    if type(inner) is not ast.Constant or type(inner.value) is not int:
        raise error(node, message)
    return sign * inner.value


def _list_value(node, error) -> np.ndarray:
    """A (nested) list of numbers as an array; depth is bounded by the bracket limit."""

    def convert(item):
        if type(item) is ast.List:
            if not item.elts:
                raise error(item, "an empty list [] has no numbers")
            return [convert(e) for e in item.elts]
        return _number(item, error, "a list may hold only written-out numbers (and lists of them)")

    try:
        return np.array(convert(node), dtype=np.float64)
    except ValueError:
        raise error(node, "the rows of this list have different lengths; a list must be rectangular") from None


def _index(node, error):
    """The literal index of ``x[...]``: integers, slices of integers, or a tuple of those."""
    message = _INDEX_MESSAGE

    def item(part):
        if type(part) is ast.Slice:
            bounds = (part.lower, part.upper, part.step)
            return slice(*(None if p is None else _integer(p, error, message) for p in bounds))
        return _integer(part, error, message)

    return tuple(item(e) for e in node.elts) if type(node) is ast.Tuple else item(node)


def _attr_value(node, error):
    """A keyword's value, written out: a number, ``inf``, a tuple or list of numbers (whole numbers
    stay a tuple, like an axis or a shape; others become a float array, like logsumexp's ``b``),
    True, False, None, or a string (``ord='fro'``, checked when the text was read)."""
    message = ("keyword values must be written out: a number, inf, a tuple or list of numbers, True, False, "
               "None or a string like 'fro'")
    if type(node) is ast.Constant and (node.value is None or type(node.value) in (bool, str)):
        return node.value
    inner = node.operand if type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd) else node
    if type(inner) is ast.Name and inner.id == "inf":
        return -math.inf if inner is not node and type(node.op) is ast.USub else math.inf
    if type(node) in (ast.Tuple, ast.List):
        items = [_attr_number(e, error, message) for e in node.elts]
        return tuple(items) if all(type(i) is int for i in items) else np.array(items, dtype=np.float64)
    return _attr_number(node, error, message)


def _attr_number(node, error, message):
    inner = node.operand if type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd) else node
    if type(inner) is ast.Constant and type(inner.value) is float:
        return _number(node, error, message)
    return _integer(node, error, message)


def _constructor_args(node, error, limits: Limits):
    """(shape, fill value) of a constructor call, with the size limit checked: nothing allocated."""
    name, args = node.func.id, list(node.args)
    if node.keywords:
        raise error(node, f"{name}() takes no keywords: write {name}(3, 2)")
    fill = None
    if name == "full":
        if not args:
            raise error(node, "full(*shape, value) needs at least the value, like full(3, 2, 0.5)")
        fill = _number(args.pop(), error, "the last argument of full(*shape, value) is the value, a number")
    if len(args) == 1 and type(args[0]) is ast.Tuple:
        args = args[0].elts
    dims = []
    for arg in args:
        n = _integer(arg, error, f"the sizes given to {name}() must be whole numbers written out, like {name}(3, 2)")
        if n < 1:
            raise error(arg, f"sizes must be at least 1, not {n}")
        dims.append(n)
    if name in ("eye", "spd"):
        if len(dims) != 1:
            raise error(node, f"{name}(n) takes one size, like {name}(3)")
        dims *= 2
    if len(dims) > limits.max_dims:
        raise error(node, f"{name}() makes at most {limits.max_dims} axes")
    count = math.prod(dims)
    if count > limits.max_elements:
        raise error(node, f"{name}() would make {count:,} numbers; the limit is {limits.max_elements:,} per array")
    if name == "spd" and dims[0] ** 3 > limits.max_flops:
        raise error(node, f"spd({dims[0]}) is too large to make; try spd(100)")
    return tuple(dims), fill


def _spd(dims, fill, rng):
    n = dims[0]
    g = rng.standard_normal((n, n))
    a = g @ g.T / n + np.eye(n)
    return 0.5 * (a + a.T)


_MAKERS = MappingProxyType({
    "randn": lambda dims, fill, rng: rng.standard_normal(dims),
    "rand": lambda dims, fill, rng: rng.random(dims),
    "zeros": lambda dims, fill, rng: np.zeros(dims),
    "ones": lambda dims, fill, rng: np.ones(dims),
    "eye": lambda dims, fill, rng: np.eye(dims[0]),
    "full": lambda dims, fill, rng: np.full(dims, fill),
    "spd": _spd,
})
_RANDOM = frozenset({"randn", "rand", "spd"})


# ---- parsing: text -> checked Program -----------------------------------------------------------


def parse(text, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Check a program's text against the whitelist and the limits; nothing is evaluated."""
    return _safely(_parse, text, limits)


def _parse(text, limits: Limits) -> Program:
    if not isinstance(limits, Limits):
        raise AutodiffError(f"limits must be a Limits, not {type(limits).__name__}")
    if not isinstance(text, str):
        raise ExpressionError(f"a program is text, not {type(text).__name__}", 1, 1)
    if len(text) > limits.max_chars:
        raise ExpressionError(f"the program has {len(text):,} characters; the limit is {limits.max_chars:,}", 1, 1)
    lines = tuple(_NEWLINE.split(text))
    _prescan(lines, limits)
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno >= 1 else 1
        col = exc.offset if isinstance(exc.offset, int) and exc.offset >= 1 else 1
        raise ExpressionError(f"syntax error: {exc.msg}", line, col) from None
    except (RecursionError, MemoryError):
        raise ExpressionError("the program is nested too deeply to read; split it into several lines", 1, 1) from None
    except ValueError as exc:
        raise ExpressionError(f"the program cannot be read: {exc}", 1, 1) from None
    if not tree.body:
        raise ExpressionError("the program is empty: write at least one line, like x = 2.0", 1, 1)
    if len(tree.body) > limits.max_statements:
        extra = tree.body[limits.max_statements]
        raise ExpressionError(f"the program has more than {limits.max_statements} lines of code",
                              *_locate(lines, extra))
    _check_depth(tree, lines, limits)
    return _Checker(lines, limits).program(text, tree.body)


_SUBSCRIPTS = re.compile(r"[A-Za-z ,.\->]*")
_STRING_ALLOWED_AFTER = re.compile(r"(?:\beinsum\s*\(|\b[A-Za-z]\w*\s*=)\s*$")
_MAX_STRING = 100


def _prescan(lines: tuple, limits: Limits) -> None:
    """Refuse, before ``ast.parse`` sees them, what could make the parser itself misbehave:
    null bytes, strings (with their escapes and f-string machinery) and deep bracket nesting.

    The one kind of string let through is plain and short, of letters, spaces and ``, . - >``
    only (no escapes, no prefix), in two places: einsum's subscripts (``einsum('ij,jk->ik', A, B)``)
    and a keyword's value inside a call (``norm(A, ord='fro')``)."""
    depth = 0
    for number, line in enumerate(lines, start=1):
        col = 0
        while col < len(line):
            char = line[col]
            col += 1
            if char == "#":
                if "\x00" in line:
                    raise ExpressionError("the program contains a null character", number, line.index("\x00") + 1)
                break
            if char == "\x00":
                raise ExpressionError("the program contains a null character", number, col)
            if char in "'\"":
                end = line.find(char, col)
                content = line[col:end] if end >= 0 else ""
                allowed = (end >= 0 and end - col <= _MAX_STRING and _SUBSCRIPTS.fullmatch(content)
                           and _STRING_ALLOWED_AFTER.search(line[:col - 1]) and depth > 0)
                if not allowed:
                    raise ExpressionError("strings are not allowed: programs work on numbers only (except einsum's "
                                          "subscripts and keyword values like ord='fro')", number, col)
                col = end + 1
                continue
            if char in "([{":
                depth += 1
                if depth > limits.max_depth:
                    raise ExpressionError(f"brackets are nested more than {limits.max_depth} deep", number, col)
            elif char in ")]}":
                depth = max(depth - 1, 0)


def _check_depth(tree, lines: tuple, limits: Limits) -> None:
    """Expression nesting, measured without recursion, so the checks that follow may recurse."""
    stack = [(stmt, 0) for stmt in tree.body]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, ast.expr):
            depth += 1
            if depth > limits.max_depth:
                raise ExpressionError(f"this expression is nested more than {limits.max_depth} levels deep; "
                                      "split it into several lines", *_locate(lines, node))
        stack.extend((child, depth) for child in ast.iter_child_nodes(node))


class _Checker:
    """Walks the parsed statements against the whitelist and resolves every name in order."""

    def __init__(self, lines: tuple, limits: Limits):
        self.lines, self.limits = lines, limits
        self.bound: dict = {}  # name -> line of its binding, so far
        self.targets: dict = {}  # every name the program binds -> the line (for "used before")
        self.nodes = 0

    def error(self, node, message: str) -> ExpressionError:
        return ExpressionError(message, *_locate(self.lines, node))

    def program(self, text: str, body: list) -> Program:
        for stmt in body:
            if type(stmt) is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
                self.targets.setdefault(stmt.targets[0].id, stmt.lineno)
        statements = []
        for index, stmt in enumerate(body):
            target, expr = self.statement(stmt, last=index == len(body) - 1)
            is_input = target is not None and self.is_literal(expr)
            self.expression(expr)
            if target is not None:
                self.bind(target, stmt)
            line, col, end_col = _locate(self.lines, stmt)
            statements.append(Statement(target and target.id, expr, line, col, end_col, is_input))
        return Program(text, tuple(statements), self.lines)

    def statement(self, stmt, last: bool):
        kind = type(stmt)
        if kind is ast.Assign:
            if len(stmt.targets) != 1:
                raise self.error(stmt, "chained assignment (a = b = ...) is not allowed; bind one name per line")
            target = stmt.targets[0]
            if type(target) is ast.Name:
                return target, stmt.value
            if type(target) in (ast.Tuple, ast.List, ast.Starred):
                raise self.error(target, "unpacking (a, b = ...) is not allowed; bind one name per line")
            if type(target) is ast.Subscript:
                raise self.error(target, "assigning into an array (x[0] = ...) is not allowed: values never "
                                         "change here; bind a new name")
            raise self.error(target, "assigning to an attribute is not allowed; bind a plain name, like y = ...")
        if kind is ast.Expr:
            if not last:
                raise self.error(stmt, "only the last line may be a bare expression (it is the output); "
                                       "bind this one to a name, like y = ...")
            return None, stmt.value
        if kind is ast.AugAssign:
            raise self.error(stmt, "augmented assignment (x += ...) would rebind a name; names are bound once: "
                                   "write a new name, like x2 = x + 1")
        if kind is ast.AnnAssign:
            raise self.error(stmt, "annotations (x: float = ...) are not allowed; write x = ...")
        if kind in (ast.Import, ast.ImportFrom):
            raise self.error(stmt, "imports are not allowed")
        word = _STATEMENT_WORDS.get(kind.__name__, kind.__name__.lower())
        raise self.error(stmt, f"'{word}' is not allowed: a program is a list of assignments, one per line")

    def bind(self, target, stmt) -> None:
        name = target.id
        if name.startswith("_"):
            raise self.error(target, "names starting with '_' are not allowed")
        if name in _CALLABLE_NAMES:
            raise self.error(target, f"'{name}' is the name of a function; choose another name")
        if name in self.bound:
            raise self.error(target, f"{name} is already bound on line {self.bound[name]}; names are bound once: "
                                     f"use a new name, like {name}2")
        self.bound[name] = stmt.lineno

    def is_literal(self, expr) -> bool:
        kind = type(expr)
        if kind is ast.UnaryOp and type(expr.op) in (ast.USub, ast.UAdd):
            expr, kind = expr.operand, type(expr.operand)
        if kind is ast.Constant or kind is ast.List:
            return True
        if kind is ast.Name:
            return expr.id in CONSTANTS and expr.id not in self.bound
        return kind is ast.Call and type(expr.func) is ast.Name and expr.func.id in CONSTRUCTOR_NAMES

    def count(self, node) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self.error(node, f"the program has more than {self.limits.max_nodes:,} operations")

    def expression(self, node) -> None:
        kind = type(node)
        if kind is ast.Constant:
            self.constant(node)
        elif kind is ast.Name:
            self.name(node)
        elif kind is ast.BinOp:
            if type(node.op) not in _BINARY:
                raise self.error(node, _BAD_OPERATORS.get(type(node.op),
                                                          "only the operators + - * / ** @ % are allowed"))
            self.count(node)
            self.expression(node.left)
            self.expression(node.right)
        elif kind is ast.UnaryOp:
            if type(node.op) not in (ast.USub, ast.UAdd):
                raise self.error(node, _BAD_OPERATORS[type(node.op)])
            self.count(node)
            self.expression(node.operand)
        elif kind is ast.Attribute:
            if node.attr.startswith("_"):
                raise self.error(node, "names starting with '_' are not allowed")
            if node.attr != "T":
                raise self.error(node, f"only the attribute .T (transpose) is allowed, not .{node.attr}; "
                                       "call functions by name, like sum(x)")
            self.count(node)
            self.expression(node.value)
        elif kind is ast.Subscript:
            self.count(node)
            self.expression(node.value)
            _index(node.slice, self.error)
        elif kind is ast.Call:
            self.call(node)
        elif kind is ast.List:
            self.count(node)
            _list_value(node, self.error)
        else:
            raise self.error(node, _REFUSED.get(kind.__name__, f"{kind.__name__} expressions are not allowed"))

    def constant(self, node) -> None:
        value = node.value
        if type(value) is bool:
            raise self.error(node, "True and False are not values here (only as keywords like keepdims=True)")
        if value is None:
            raise self.error(node, "None is not a value here")
        if value is Ellipsis:
            raise self.error(node, "... (Ellipsis) is not allowed")
        if type(value) is complex:
            raise self.error(node, "complex numbers are not supported: Backprop Studio works on real numbers")
        if type(value) in (str, bytes):
            raise self.error(node, "strings are not allowed: programs work on numbers only")
        self.count(node)
        _number(node, self.error)

    def name(self, node) -> None:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, "names starting with '_' are not allowed")
        if name in self.bound or name in CONSTANTS:
            return
        if name in _CALLABLE_NAMES:
            raise self.error(node, f"'{name}' is a function; call it, like {name}(x)")
        if name in self.targets:
            raise self.error(node, f"'{name}' is used before it is bound (on line {self.targets[name]})")
        raise self.error(node, f"unknown name '{name}'{_suggest(name, list(self.bound) + list(CONSTANTS))}")

    def call(self, node) -> None:
        func = node.func
        if type(func) is ast.Attribute:
            raise self.error(node, f"methods and modules (.{func.attr}(...)) are not allowed; "
                                   "call functions by name, like sum(x)")
        if type(func) is not ast.Name:
            raise self.error(node, "only functions called by their name are allowed, like tanh(x)")
        if (func.lineno, func.col_offset) != (node.lineno, node.col_offset):  # (tanh)(x)
            raise self.error(node, "only functions called by their name are allowed, like tanh(x)")
        name = func.id
        if name.startswith("_"):
            raise self.error(func, "names starting with '_' are not allowed")
        for arg in node.args:
            if type(arg) is ast.Starred:
                raise self.error(arg, "starred arguments (*args) are not allowed")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(kw.value, "**kwargs are not allowed")
        if name in CONSTRUCTOR_NAMES:
            self.count(node)
            _constructor_args(node, self.error, self.limits)
            return
        if name in _TUPLE_FUNCTIONS:
            raise self.error(node, _TUPLE_FUNCTIONS[name])
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise self.error(func, self.unknown_function(name))
        if spec.call == "subscripts":
            operands = self.subscripts_arguments(node, spec)
        else:
            self.arguments(node, spec)
            operands = node.args[:len(spec.operands)]
            if spec.call == "sequence":
                operands = self.sequence_argument(node, spec)
        self.count(node)
        for arg in operands:
            self.expression(arg)

    def sequence_argument(self, node, spec: _Function) -> list:
        """stack([a, b], axis=0): the first argument is a list (or tuple) of expressions."""
        if type(node.args[0]) not in (ast.List, ast.Tuple) or not node.args[0].elts:
            raise self.error(node.args[0], f"{spec.name}() takes a list of arrays first, like {spec.name}([a, b])")
        return node.args[0].elts

    def subscripts_arguments(self, node, spec: _Function) -> list:
        """einsum('ij,jk->ik', A, B): the subscripts (a string), then the operands, no keywords."""
        first = node.args[0] if node.args else None
        if type(first) is not ast.Constant or type(first.value) is not str:
            raise self.error(node, f"{spec.name}() takes its subscripts first, as a string: "
                                   f"{spec.name}('ij,jk->ik', A, B)")
        if len(node.args) < 2 or node.keywords:
            raise self.error(node, f"{spec.name}() takes the subscripts and then one or more arrays, no keywords")
        return node.args[1:]

    def unknown_function(self, name: str) -> str:
        if name in self.bound:
            return f"'{name}' is a value, not a function"
        hint = _suggest(name, _CALLABLE_NAMES)
        if hint:
            return f"'{name}' is not a function here{hint}"
        total = len(FUNCTION_NAMES) + len(CONSTRUCTOR_NAMES)
        return f"'{name}' is not a function here; available: {', '.join(_COMMON)}, … ({total} in all)"

    def arguments(self, node, spec: _Function) -> None:
        n, given = len(spec.operands), len(node.args)
        if not n <= given <= n + len(spec.attrs):
            takes = f"{spec.name}() takes {n} argument{'s' if n != 1 else ''} ({', '.join(spec.operands)})"
            optional = f" and optionally {', '.join(spec.attrs)}" if spec.attrs else ""
            raise self.error(node, f"{takes}{optional}; got {given}")
        positional = spec.attrs[:given - n]
        for arg in node.args[n:]:
            try:
                _attr_value(arg, self.error)
            except ExpressionError:
                if spec.name not in ("max", "min"):
                    raise
                raise self.error(arg, f"{spec.name}(x) reduces one array; for the elementwise "
                                      f"{spec.name}imum of two, write {spec.name}imum(a, b)") from None
        for kw in node.keywords:
            if kw.arg not in spec.attrs:
                takes = f"it takes {', '.join(spec.attrs)}" if spec.attrs else "it takes none"
                raise self.error(kw.value, f"{spec.name}() has no keyword '{kw.arg}'; {takes}")
            if kw.arg in positional:
                raise self.error(kw.value, f"{spec.name}() got {kw.arg} twice")
            _attr_value(kw.value, self.error)


def _suggest(name: str, candidates) -> str:
    """" — did you mean 'W1'?" (or two guesses, as for tahn: tan or tanh), or nothing."""
    matches = difflib.get_close_matches(name, candidates, n=2, cutoff=0.5)
    return f" — did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


# ---- evaluation: Program -> graph ---------------------------------------------------------------


class _Evaluator:
    """Evaluates a checked Program by calling the engine, with locations, names and budgets."""

    def __init__(self, program: Program, seed: int, limits: Limits, overrides=None, check_finite=True):
        self.program, self.seed, self.limits = program, seed, limits
        self.overrides = overrides  # as_function's input values; None in build
        self.check_finite = check_finite
        self.env: dict = {}
        self.bound_ids: set = set()  # the Vars bound to names: aliases, and where locating stops
        self.inputs: dict = {}
        self.nodes = self.elements = self.flops = 0
        self.statement: Statement | None = None
        self.draws = 0

    def error(self, node, message: str) -> ExpressionError:
        return self.program.error(node, message)

    def loc(self, node) -> tuple:
        return _locate(self.program.lines, node)[:2]

    def run(self):
        value = None
        for stmt in self.program.statements:
            self.statement, self.draws = stmt, 0
            value = self.bind(stmt)
        return value

    def bind(self, stmt: Statement):
        name = stmt.target
        if stmt.is_input and self.overrides is not None:
            value = self.overrides[name]
        elif stmt.is_input:
            # A plain leaf, not grad's marked input_leaf: a backward pass over some of a program's
            # inputs must not take the others for an enclosing grad's variables.
            value = Var(self.eval(stmt.expr), name)
            self.located(value, stmt.expr)
            self.inputs[name] = value
        else:
            value = self.eval(stmt.expr)
            if type(value) is not Var and self.overrides is None:  # a named constant leaf (or the output)
                value = self.located(Var(value, name), stmt.expr)
            elif type(value) is Var and name is not None and id(value) not in self.bound_ids:
                value.name = name
        if name is not None:
            self.env[name] = value
            if type(value) is Var:
                self.bound_ids.add(id(value))
        return value

    def located(self, var: Var, node) -> Var:
        var.loc = self.loc(node)
        self.count_node(node)
        return var

    def count_node(self, node) -> None:
        self.nodes += 1
        if self.nodes > self.limits.max_nodes:
            raise self.error(node, f"the program makes more than {self.limits.max_nodes:,} graph nodes")

    def eval(self, node):
        kind = type(node)
        if kind is ast.Constant:
            return self.register(node, np.float64(node.value))
        if kind is ast.Name:
            return self.env[node.id] if node.id in self.env else CONSTANTS[node.id]
        if kind is ast.UnaryOp:
            operand = self.eval(node.operand)
            if type(node.op) is ast.UAdd:
                return operand
            return self.apply(node, "negative", "unary -", _ops.negative, (operand,), (node.operand,))
        if kind is ast.BinOp:
            name, symbol = _BINARY[type(node.op)]
            operands = (self.eval(node.left), self.eval(node.right))
            return self.apply(node, name, symbol, FUNCTIONS[name].function, operands, (node.left, node.right))
        if kind is ast.Attribute:
            return self.apply(node, "transpose", ".T", _ops.transpose, (self.eval(node.value),), (node.value,))
        if kind is ast.Subscript:
            attrs = {"index": _index(node.slice, self.error)}
            return self.apply(node, "getitem", "[ ]", _ops.getitem, (self.eval(node.value),), (node.value,), attrs)
        if kind is ast.List:
            return self.register(node, _list_value(node, self.error))
        if kind is ast.Call and node.func.id in CONSTRUCTOR_NAMES:
            return self.construct(node)
        if kind is ast.Call and FUNCTIONS[node.func.id].call == "subscripts":
            spec, subscripts = FUNCTIONS[node.func.id], node.args[0].value
            operands = tuple([self.eval(arg) for arg in node.args[1:]])
            call = lambda *ops, subscripts: spec.function(subscripts, *ops)  # noqa: E731
            return self.apply(node, spec.name, f"{spec.name}(...)", call, operands, node.args[1:],
                              {"subscripts": subscripts})
        if kind is ast.Call and FUNCTIONS[node.func.id].call == "sequence":
            spec, items = FUNCTIONS[node.func.id], node.args[0].elts
            operands = tuple([self.eval(item) for item in items])
            attrs = {key: _attr_value(arg, self.error) for key, arg in zip(spec.attrs, node.args[1:])}
            attrs.update({kw.arg: _attr_value(kw.value, self.error) for kw in node.keywords})
            return self.apply(node, spec.name, f"{spec.name}(...)", lambda *ops, **kw: spec.function(list(ops), **kw),
                              operands, items, attrs)
        if kind is ast.Call:
            spec = FUNCTIONS[node.func.id]
            n = len(spec.operands)
            operands = tuple([self.eval(arg) for arg in node.args[:n]])
            attrs = {key: _attr_value(arg, self.error) for key, arg in zip(spec.attrs, node.args[n:])}
            attrs.update({kw.arg: _attr_value(kw.value, self.error) for kw in node.keywords})
            return self.apply(node, spec.name, f"{spec.name}(...)", spec.function, operands, node.args[:n], attrs)
        raise self.error(node, f"internal error: {kind.__name__} was not refused by the checker")

    def construct(self, node):
        name = node.func.id
        dims, fill = _constructor_args(node, self.error, self.limits)
        self.budget(node, math.prod(dims), dims[0] ** 3 if name == "spd" else 0)
        rng = None
        if name in _RANDOM:
            stream = zlib.crc32((self.statement.target or "").encode("utf-8"))
            rng = np.random.default_rng([self.seed, stream, self.draws])
            self.draws += 1
        return self.register(node, as_value(_MAKERS[name](dims, fill, rng)))

    def apply(self, node, name: str, symbol: str, function, operands: tuple, operand_nodes, attrs=None):
        """Check the result's size and cost from the operands' shapes, then call the engine."""
        self.precheck(node, name, symbol, operands, attrs or {})
        try:
            result = function(*operands, **attrs) if attrs else function(*operands)
        except AutodiffError as exc:
            if name == "getitem" and exc.__context__ is not None:  # NumPy's own words are clearer here
                raise self.error(node, f"the index doesn't fit shape {np.shape(raw(operands[0]))}: "
                                       f"{exc.__context__}") from None
            raise self.error(node, exc.message) from None
        except (ArithmeticError, ValueError, TypeError, IndexError) as exc:
            raise self.error(node, f"{name}: {exc}") from None
        return self.register(node, result, operand_nodes, name, symbol)

    def precheck(self, node, name: str, symbol: str, operands: tuple, attrs: dict) -> None:
        shapes = [np.shape(raw(v)) for v in operands]
        size, flops = 0, 0
        if name in _ELEMENTWISE_BINARY or (name == "dot" and min(len(s) for s in shapes) == 0):
            try:
                size = math.prod(np.broadcast_shapes(*shapes))
            except ValueError:
                raise self.error(node, f"shapes {shapes[0]} and {shapes[1]} don't fit {symbol} on line "
                                       f"{self.loc(node)[0]}: they cannot be broadcast together") from None
        elif name in ("matmul", "dot") and min(len(s) for s in shapes) > 0:
            size, flops = self.matmul_cost(node, symbol if name == "matmul" else "dot", *shapes)
        elif name == "outer":
            size = math.prod(shapes[0]) * math.prod(shapes[1])
        elif name == "diag" and len(shapes[0]) == 1:
            size = shapes[0][0] ** 2
        elif name == "broadcast_to":
            shape = attrs.get("shape")
            dims = (shape,) if isinstance(shape, int) else shape if isinstance(shape, tuple) else ()
            size = math.prod(abs(d) for d in dims)
        elif name in _CUBIC and len(shapes[0]) == 2:
            n = shapes[0][0]
            flops = n ** 3 + (n * n * math.prod(shapes[1][1:]) if name == "solve" else 0)
        elif name in ENGINE_FUNCTIONS:
            size, flops = self.declared_cost(node, ENGINE_FUNCTIONS[name], shapes, attrs)
        self.budget(node, size, flops)

    def declared_cost(self, node, public, shapes, attrs) -> tuple:
        """(size, multiply-adds) from the function's own shape and cost rules: what every function
        without a rule of its own above is checked with, before it runs. Only explicitly declared
        costs (contractions, factorizations) count as multiply-adds, as for @ and the cubic ops."""
        try:
            shape, cost = public.abstract_eval(*shapes, **attrs)
        except AutodiffError as exc:
            raise self.error(node, exc.message) from None
        declared = (public.op.cost_rule if public.op is not None else public.cost_rule) is not None
        return math.prod(shape), (cost if declared else 0)

    def matmul_cost(self, node, symbol: str, a: tuple, b: tuple) -> tuple:
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        try:
            batch = np.broadcast_shapes(a2[:-2], b2[:-2])
        except ValueError:
            batch = None
        if a2[-1] != b2[-2] or batch is None:
            why = (f"the inner sizes {a2[-1]} and {b2[-2]} differ" if a2[-1] != b2[-2]
                   else "their leading (batch) axes cannot be broadcast together")
            raise self.error(node, f"shapes {a} and {b} don't fit {symbol} on line {self.loc(node)[0]}: {why}")
        size = math.prod(batch) * a2[-2] * b2[-1]
        return size, size * a2[-1]

    def budget(self, node, size: int, flops: int) -> None:
        limits = self.limits
        if size > limits.max_elements:
            raise self.error(node, f"the result would have {size:,} numbers; the limit is {limits.max_elements:,} "
                                   "per array")
        if self.elements + size > limits.max_total_elements:
            raise self.error(node, f"the program would make more than {limits.max_total_elements:,} numbers in all")
        if self.flops + flops > limits.max_flops:
            raise self.error(node, f"this needs about {flops:.1e} multiply-adds; a program may use "
                                   f"{limits.max_flops:.1e} in all")
        self.flops += flops

    def register(self, node, result, operand_nodes=(), name=None, symbol=None):
        """Locate and count the nodes the engine just made; account the size; refuse NaN and inf."""
        if type(result) is Var:
            # The constants the engine wrapped around plain operands point at those operands.
            if len(result.parents) == len(operand_nodes):
                for parent, operand in zip(result.parents, operand_nodes):
                    if parent.loc is None and parent.op is None and id(parent) not in self.bound_ids:
                        self.located(parent, operand)
            loc, stack = self.loc(node), [result]
            while stack:
                var = stack.pop()
                if var.loc is None and id(var) not in self.bound_ids:
                    var.loc = loc
                    self.count_node(node)
                    stack.extend(var.parents)
        value = raw(result)
        self.elements += np.size(value)
        if np.size(value) > self.limits.max_elements or self.elements > self.limits.max_total_elements:
            self.budget(node, np.size(value), 0)  # raises: a result larger than prechecked
        if self.check_finite and not np.all(np.isfinite(value)):
            what = "NaN (not a number)" if np.any(np.isnan(value)) else "an infinite value"
            raise self.error(node, f"{symbol or 'this'} gives {what} on line {self.loc(node)[0]}"
                                   f"{_NONFINITE_HINTS.get(name, '')}")
        return result


# ---- public entry points ------------------------------------------------------------------------


def _safely(work, *args):
    """The final safety net: whatever happens, only an ``AutodiffError`` leaves the language."""
    try:
        with np.errstate(all="ignore"):  # non-finite values are reported, not warned about
            return work(*args)
    except AutodiffError:
        raise
    except RecursionError:
        raise ExpressionError("the program is nested too deeply to evaluate", 1, 1) from None
    except MemoryError:
        raise ExpressionError("the program needs more memory than is available", 1, 1) from None
    except Exception as exc:
        raise ExpressionError(f"internal error: {type(exc).__name__}: {exc}", 1, 1) from exc


def _checked(source, seed, limits: Limits):
    if not isinstance(limits, Limits):
        raise AutodiffError(f"limits must be a Limits, not {type(limits).__name__}")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise AutodiffError(f"the seed must be a whole number ≥ 0, not {seed!r}")
    if isinstance(source, Program):
        return source, int(seed)
    return _parse(source, limits), int(seed)


def build(text_or_program, seed: int = 0, limits: Limits = DEFAULT_LIMITS) -> tuple:
    """Evaluate a program into a graph: ``(output Var, {input name: input Var})``, inputs in order."""

    def work():
        program, checked_seed = _checked(text_or_program, seed, limits)
        evaluator = _Evaluator(program, checked_seed, limits)
        return evaluator.run(), dict(evaluator.inputs)

    return _safely(work)


def as_function(text_or_program, seed: int = 0, limits: Limits = DEFAULT_LIMITS, *,
                check_finite: bool = True) -> tuple:
    """``(input names, f)`` where ``f(*values)`` evaluates the program with those input values.

    ``f`` works on plain numbers and arrays and on Vars, so ``ad.grad(f)``, ``ad.check_grads(f,
    *values)`` and function plots all use the very AST that ``build`` evaluates. Constants drawn
    by constructors inside expressions are the same as in ``build`` with the same seed.
    """
    program, checked_seed = _safely(_checked, text_or_program, seed, limits)
    names = program.input_names

    def program_function(*values):
        if len(values) != len(names):
            raise AutodiffError(f"the program has {len(names)} inputs ({', '.join(names)}); got {len(values)} values")
        # Plain values stay plain (only Vars record graph), so a function plot runs at NumPy speed.
        overrides = {n: v if type(v) is Var else as_value(v, n) for n, v in zip(names, values)}
        return _safely(_Evaluator(program, checked_seed, limits, overrides, check_finite).run)

    return names, program_function


def run(text_or_program, seed: int = 0, limits: Limits = DEFAULT_LIMITS):
    """Parse, build and trace a program: the ``Trace`` the app steps through."""
    from .trace import Trace  # the trace layer depends on the engine, not on the language

    output, inputs = build(text_or_program, seed, limits)
    text = text_or_program.text if isinstance(text_or_program, Program) else text_or_program
    return _safely(lambda: Trace.build(output, inputs, program=text, seed=seed))

"""Text to a checked syntax tree: the whitelist, the static rules, and the written-out literals.

Nothing here evaluates anything. ``check`` reads the text with ``ast`` (after a prescan that keeps
the parser itself safe), then walks the whole tree once against the whitelist: every kind of
statement and expression is either allowed in its place or refused with a located sentence, also
in code that may never run (a function nobody calls, the branch not taken). What needs values or
shapes (names bound at run time, calls' arities, shapes, costs) is the interpreter's, which runs
abstractly right after (``core.language.parse``).

The static rules, each needed by the interpreter's design:

* ``def`` only at the top level; its body may use its parameters, its own names, and the names
  and functions bound *above* it (so there is no recursion, direct or mutual, and no closure over
  a later name); ``return`` ends the body (or each branch of an if/else that ends it).
* ``for`` only over ``range(...)``; no ``while``, ``break``, ``continue``: iteration counts are
  known before a loop runs.
* Inputs are the top-level assignments of a literal (a number, a list, ``pi``/``e``, a constructor);
  a name bound at the top to a whole number and used as a count or an index (in ``range(...)``, a
  size, ``[...]``) is such a count instead, not an input.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import ExpressionError
from ..ops import FUNCTIONS as ENGINE_FUNCTIONS
from . import messages as M
from .budget import Limits

CONSTRUCTOR_NAMES = ("randn", "rand", "zeros", "ones", "eye", "full", "spd")
CONSTANT_NAMES = ("pi", "e")
# Indexing is written x[...]; scatter is indexing's VJP, whose index could not be written anyway.
HIDDEN = frozenset({"getitem", "scatter"})
CALLABLE_NAMES = frozenset(ENGINE_FUNCTIONS) - HIDDEN | frozenset(CONSTRUCTOR_NAMES) | {"range"}
_NEWLINE = re.compile(r"\r\n|\r|\n")
_SUBSCRIPTS = re.compile(r"[A-Za-z ,.\->]*")
_STRING_ALLOWED_AFTER = re.compile(r"(?:\beinsum\s*\(|\b[A-Za-z]\w*\s*=)\s*$")
_MAX_STRING = 100
_COMPOUND = (ast.For, ast.If, ast.FunctionDef)


@dataclass(frozen=True)
class Statement:
    """A top-level ``target = expr`` (``target`` None for a bare last expression)."""

    target: str | None
    expr: ast.expr
    line: int
    col: int
    end_col: int | None
    is_input: bool


@dataclass(frozen=True)
class Given:
    """What the caller of ``evaluate`` provides to a text that is not a program (claims, answers):
    names bound to values, functions called with names written out (``grad(loss, h)``), and the
    heads of claims (``grad(loss, h) = ...``). Given names cannot be bound by the text."""

    values: frozenset = frozenset()
    functions: frozenset = frozenset()
    claim_heads: tuple = ()


@dataclass(frozen=True)
class Program:
    """A checked program: its syntax tree and what the static rules found; ``parse`` adds what the
    abstract pass found (the inputs' shapes, the estimated operations)."""

    text: str
    body: tuple  # the top-level statements
    lines: tuple = field(repr=False)
    inputs: tuple = ()  # the assignments that bind an input, in order
    input_set: frozenset = frozenset()  # the same, to look up
    # Plain dicts, read-only by convention (a mappingproxy would not pickle: programs go to job workers).
    defs: dict = field(default_factory=dict)  # function name -> its FunctionDef
    targets: dict = field(default_factory=dict)  # name bound outside functions -> its first line
    input_shapes: dict = field(default_factory=dict)
    operations: float = 0.0
    # A text checked with ``given`` (``evaluate``): top-level statement -> why the checker refused it
    # (the others are still evaluated).
    refused: dict = field(default_factory=dict)

    @property
    def input_names(self) -> tuple:
        return tuple(stmt.targets[0].id for stmt in self.inputs)

    @property
    def output_name(self) -> str | None:
        last = self.body[-1]
        return last.target.id if type(last) is ast.AugAssign else last.targets[0].id if type(last) is ast.Assign \
            else None

    @property
    def statements(self) -> tuple:
        """The top-level assignments and the bare last expression, as records."""
        out = []
        for stmt in self.body:
            if type(stmt) is ast.Expr or type(stmt) is ast.Assign and type(stmt.targets[0]) is ast.Name:
                target = stmt.targets[0].id if type(stmt) is ast.Assign else None
                out.append(Statement(target, stmt.value, *locate(self.lines, stmt), stmt in self.inputs))
        return tuple(out)

    def locate(self, node) -> tuple:
        return locate(self.lines, node)

    def error(self, node, message: str) -> ExpressionError:
        return ExpressionError(message, *locate(self.lines, node))


# ---- locations ---------------------------------------------------------------------------------


def locate(lines: tuple, node) -> tuple:
    """(line, col, end_col) of an AST node: 1-based characters (``ast`` counts UTF-8 bytes)."""
    line = getattr(node, "lineno", 1) or 1
    col = _char_col(lines, line, getattr(node, "col_offset", 0) or 0)
    end = getattr(node, "end_col_offset", None)
    end_col = _char_col(lines, line, end) - 1 if end is not None and node.end_lineno == line else None
    return line, col, end_col


def _char_col(lines: tuple, line: int, byte_offset: int) -> int:
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    if text.isascii():
        return byte_offset + 1
    return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore")) + 1


def split_lines(text: str) -> tuple:
    """The program's lines as the language numbers them (\\r\\n, \\r and \\n end a line)."""
    return tuple(_NEWLINE.split(text))


def source(lines: tuple, node, most: int = 60) -> str:
    """The text of a one-line node as written (a call's label), shortened past ``most`` characters."""
    line, col, end_col = locate(lines, node)
    text = lines[line - 1][col - 1:end_col] if end_col else "…"
    return text if len(text) <= most else text[:most - 1] + "…"


def offsets(text: str, node, lines: tuple):
    """Character offsets ``(start, end)`` of a one-line node in ``text``, or None."""
    line, col, end_col = locate(lines, node)
    if end_col is None:
        return None
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    return starts[line - 1] + col - 1, starts[line - 1] + end_col


# ---- written-out literals ------------------------------------------------------------------------


def number(node, error, message="a number is expected here") -> float:
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


def integer(node, error, message: str) -> int:
    sign, inner = 1, node
    if type(node) is ast.UnaryOp and type(node.op) in (ast.USub, ast.UAdd):
        sign, inner = (-1 if type(node.op) is ast.USub else 1), node.operand
    if type(inner) is not ast.Constant or type(inner.value) is not int:
        raise error(node, message)
    return sign * inner.value


def list_value(node, error) -> np.ndarray:
    """A (nested) list of numbers as an array; depth is bounded by the bracket limit."""

    def convert(item):
        if type(item) is ast.List:
            if not item.elts:
                raise error(item, "an empty list [] has no numbers")
            return [convert(e) for e in item.elts]
        return number(item, error, "a list may hold only written-out numbers (and lists of them)")

    try:
        return np.array(convert(node), dtype=np.float64)
    except ValueError:
        raise error(node, "the rows of this list have different lengths; a list must be rectangular") from None


def attr_value(node, error):
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
        return number(node, error, message)
    return integer(node, error, message)


def is_literal(expr, bound: set) -> bool:
    """A literal right-hand side: what makes a top-level binding an input."""
    if type(expr) is ast.UnaryOp and type(expr.op) in (ast.USub, ast.UAdd):
        expr = expr.operand
    kind = type(expr)
    if kind is ast.Constant and type(expr.value) in (int, float) or kind is ast.List:
        return True
    if kind is ast.Name:
        return expr.id in CONSTANT_NAMES and expr.id not in bound
    return kind is ast.Call and type(expr.func) is ast.Name and expr.func.id in CONSTRUCTOR_NAMES


# ---- reading the text ----------------------------------------------------------------------------


def check(text, limits: Limits, given: Given | None = None) -> Program:
    """The checked Program of ``text``, or an ExpressionError saying where and why.

    With ``given`` the text is evaluated in a given environment (``evaluate``) rather than run as a
    program: it may be empty, need not end with an output, may have bare expressions on any line,
    has no inputs (its literals are values), may not bind the given names, may hold claims
    (``claims_as_subscripts``), and a top-level statement the whitelist refuses is kept in
    ``Program.refused`` rather than refusing the whole text."""
    what = "a program" if given is None else "the text"
    if not isinstance(text, str):
        raise ExpressionError(f"expected text, not {type(text).__name__}" if given else
                              f"a program is text, not {type(text).__name__}", 1, 1)
    if len(text) > limits.max_chars:
        raise ExpressionError(f"{what} has {len(text):,} characters; the limit is {limits.max_chars:,}", 1, 1)
    lines = split_lines(text)
    _prescan(lines, limits)
    claim_lines = frozenset()
    if given is not None:
        text, claim_lines = claims_as_subscripts(text, given.claim_heads)
    try:
        tree = ast.parse(text, mode="exec")
    except SyntaxError as exc:
        line = exc.lineno if isinstance(exc.lineno, int) and exc.lineno >= 1 else 1
        col = exc.offset if isinstance(exc.offset, int) and exc.offset >= 1 else 1
        raise ExpressionError(_syntax_message(exc.msg, given), line, col) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"{what} is nested too deeply to read; split it into several lines", 1, 1) from None
    except ValueError as exc:
        raise ExpressionError(f"{what} cannot be read: {exc}", 1, 1) from None
    if not tree.body and given is None:
        raise ExpressionError("the program is empty: write at least one line, like x = 2.0", 1, 1)
    counts = _check_size(tree, lines, limits)
    return _Checker(text, lines, given, claim_lines).program(tree.body, counts)


def _syntax_message(message: str, given: Given | None) -> str:
    if given is not None and given.claim_heads and "function call" in message:
        head = given.claim_heads[0]
        return (f"a claim is written {head}(name, name) = expression, at the start of a line of its own, with "
                "the names written out")
    return f"syntax error: {message}"


def claims_as_subscripts(text: str, heads: tuple) -> tuple:
    """``(text, lines)``: each claim ``head(a, b) = expression`` that starts a line, rewritten as
    ``head[a, b] = expression``, and the numbers of the lines rewritten.

    A claim is not Python syntax (a call cannot be assigned to), but an assignment to a subscript
    is, and swapping the two brackets keeps every column: the claim's expression is parsed, checked
    and located exactly as written. Only on the lines rewritten is such an assignment a claim;
    anywhere else it is refused, as in programs."""
    if not heads:
        return text, frozenset()
    pattern = re.compile(r"[ \t]*(?:" + "|".join(map(re.escape, heads)) +
                         r")[ \t]*(\()[^(){}=#'\"\r\n]*(\))(?=[ \t]*=(?!=))")
    chars, rewritten = None, set()
    starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
    for number_, start in enumerate(starts, start=1):
        match = pattern.match(text, start)
        if match:
            chars = chars if chars is not None else list(text)
            chars[match.start(1)], chars[match.start(2)] = "[", "]"
            rewritten.add(number_)
    return ("".join(chars) if chars is not None else text), frozenset(rewritten)


def _prescan(lines: tuple, limits: Limits) -> None:
    """Refuse, before ``ast.parse`` sees them, what could make the parser itself misbehave:
    null bytes, strings (with their escapes and f-string machinery) and deep bracket nesting.

    The one kind of string let through is plain and short, of letters, spaces and ``, . - >``
    only (no escapes, no prefix), in two places: einsum's subscripts (``einsum('ij,jk->ik', A, B)``)
    and a keyword's value inside a call (``norm(A, ord='fro')``)."""
    depth = 0
    for number_, line in enumerate(lines, start=1):
        col = 0
        while col < len(line):
            char = line[col]
            col += 1
            if char == "#":
                if "\x00" in line:
                    raise ExpressionError("the program contains a null character", number_, line.index("\x00") + 1)
                break
            if char == "\x00":
                raise ExpressionError("the program contains a null character", number_, col)
            if char in "'\"":
                end = line.find(char, col)
                content = line[col:end] if end >= 0 else ""
                allowed = (end >= 0 and end - col <= _MAX_STRING and _SUBSCRIPTS.fullmatch(content)
                           and _STRING_ALLOWED_AFTER.search(line[:col - 1]) and depth > 0)
                if not allowed:
                    raise ExpressionError("strings are not allowed: programs work on numbers only (except einsum's "
                                          "subscripts and keyword values like ord='fro')", number_, col)
                col = end + 1
                continue
            if char in "([{":
                depth += 1
                if depth > limits.max_depth:
                    raise ExpressionError(f"brackets are nested more than {limits.max_depth} deep", number_, col)
            elif char in ")]}":
                depth = max(depth - 1, 0)


def _check_size(tree, lines: tuple, limits: Limits) -> frozenset:
    """Statements in all, and nesting (expressions, and blocks of for/if/def), measured without
    recursion, so that everything after may recurse over the tree; and, on the way, the names used
    as counts or indices: in range(...), in [...], as a constructor's size, or bound to an
    expression of such names (``n = T - 1`` with ``range(n)`` makes T a count too)."""
    statements, counts, feeds = 0, set(), {}
    stack = [(stmt, 0, False) for stmt in tree.body]
    while stack:
        node, depth, counting = stack.pop()
        kind = type(node)
        if counting and kind is ast.Name:
            counts.add(node.id)
        if isinstance(node, ast.stmt):
            statements += 1
            if statements > limits.max_statements:
                raise ExpressionError(f"the program has more than {limits.max_statements} lines of code",
                                      *locate(lines, node))
            if kind is ast.Assign and type(node.targets[0]) is ast.Name:
                feeds.setdefault(node.targets[0].id, set()).update(
                    n.id for n in ast.walk(node.value) if type(n) is ast.Name)
        if isinstance(node, (ast.expr, *_COMPOUND)):
            depth += 1
            if depth > limits.max_depth:
                what = "expression" if isinstance(node, ast.expr) else "block"
                raise ExpressionError(f"this {what} is nested more than {limits.max_depth} levels deep; "
                                      "split it into several lines", *locate(lines, node))
        places = (node.iter,) if kind is ast.For else (node.slice,) if kind is ast.Subscript else \
            node.args if kind is ast.Call and type(node.func) is ast.Name and node.func.id in CONSTRUCTOR_NAMES else ()
        stack.extend((child, depth, counting or any(child is p for p in places))
                     for child in ast.iter_child_nodes(node))
    pending = list(counts)
    while pending:
        for name in feeds.pop(pending.pop(), ()):
            if name not in counts:
                counts.add(name)
                pending.append(name)
    return frozenset(counts)


class _Checker:
    """One walk over the tree: the whitelist, where each statement may be, and the static rules."""

    def __init__(self, text: str, lines: tuple, given: Given | None = None, claim_lines: frozenset = frozenset()):
        self.text, self.lines = text, lines
        self.given, self.claim_lines = given, claim_lines
        self.defs: dict = {}  # the functions defined so far
        self.def_lines: dict = {}  # every function of the program -> its line
        self.targets: dict = {}  # every name bound outside functions -> its first line

    def error(self, node, message: str) -> ExpressionError:
        return ExpressionError(message, *locate(self.lines, node))

    def program(self, body: list, counts: frozenset) -> Program:
        for stmt in body:
            for node in bound_names(stmt, into_functions=False):
                self.targets.setdefault(node.id, node.lineno)
            if type(stmt) is ast.FunctionDef:
                self.def_lines.setdefault(stmt.name, stmt.lineno)
        inputs, bound, refused = {}, set(), {}
        for index, stmt in enumerate(body):
            try:
                self.statement(stmt, top=True, in_function=False, last=index == len(body) - 1)
            except ExpressionError as exc:
                if self.given is None:
                    raise
                refused[stmt] = exc
                continue
            if self.given is None and type(stmt) is ast.Assign and type(stmt.targets[0]) is ast.Name \
                    and is_literal(stmt.value, bound) \
                    and not (type(_literal_number(stmt.value)) is int and stmt.targets[0].id in counts):
                name = stmt.targets[0].id
                if name in inputs:
                    raise self.error(stmt.targets[0], f"{name} is already bound on line {inputs[name].lineno}; an "
                                                      f"input is bound once: use a new name, like {name}2")
                inputs[name] = stmt
            bound.update(n.id for n in bound_names(stmt, into_functions=False))
        last = body[-1] if body else None
        if self.given is None and (type(last) not in (ast.Assign, ast.AugAssign, ast.Expr) or
                                   type(getattr(last, "targets", [None])[0]) is ast.Tuple):
            raise self.error(last, "the last line is the output: end the program with an assignment or an "
                                   "expression, like loss = h or just h")
        return Program(self.text, tuple(body), self.lines, tuple(inputs.values()), frozenset(inputs.values()),
                       dict(self.defs), dict(self.targets), refused=refused)

    # ---- statements ----------------------------------------------------------------------------

    def statement(self, stmt, top: bool, in_function: bool, last: bool = False) -> None:
        kind = type(stmt)
        if kind is ast.Assign:
            if len(stmt.targets) != 1:
                raise self.error(stmt, "chained assignment (a = b = ...) is not allowed; bind one name per line")
            target = stmt.targets[0]
            if self.is_claim(stmt, top):
                self.expression(stmt.value)
                return
            unpack = type(target) is ast.Tuple and all(type(t) is ast.Name for t in target.elts) \
                and type(stmt.value) is ast.Call
            if type(target) in (ast.Tuple, ast.List, ast.Starred) and not unpack:
                raise self.error(target, "unpacking (a, b = ...) works only for what a function of the program "
                                         "returns, like a, b = f(x); bind one name per line")
            for name in target.elts if unpack else [target]:
                self.target(name)
            self.expression(stmt.value)
        elif kind is ast.AugAssign:
            self.target(stmt.target)
            if type(stmt.op) not in M.BINARY:
                raise self.error(stmt, M.BAD_OPERATORS.get(type(stmt.op), "only + - * / ** @ % are allowed"))
            self.expression(stmt.value)
        elif kind is ast.Expr:
            if not last and self.given is None:
                raise self.error(stmt, "only the last line may be a bare expression (it is the output); "
                                       "bind this one to a name, like y = ...")
            self.expression(stmt.value)
        elif kind is ast.For:
            self.loop(stmt, in_function)
        elif kind is ast.If:
            self.condition(stmt.test)
            for inner in stmt.body + stmt.orelse:
                self.statement(inner, False, in_function)
        elif kind is ast.FunctionDef:
            if not top:
                raise self.error(stmt, "functions are defined at the top level of the program, not inside "
                                       "a loop, an if or another function")
            self.function(stmt)
        elif kind is ast.Return:
            if not in_function:
                raise self.error(stmt, "'return' is only allowed inside a function (def)")
            if stmt.value is None:
                raise self.error(stmt, "return needs a value: a function gives back what it computes, like return h")
            for item in stmt.value.elts if type(stmt.value) is ast.Tuple else [stmt.value]:
                self.expression(item)
        elif kind is ast.AnnAssign:
            raise self.error(stmt, "annotations (x: float = ...) are not allowed; write x = ...")
        elif kind in (ast.Import, ast.ImportFrom):
            raise self.error(stmt, "imports are not allowed")
        elif kind.__name__ in M.STATEMENT_REASONS:
            raise self.error(stmt, M.STATEMENT_REASONS[kind.__name__])
        else:
            word = M.STATEMENT_WORDS.get(kind.__name__, kind.__name__.lower())
            raise self.error(stmt, f"'{word}' is not allowed: {M.PROGRAM_IS}")

    def is_claim(self, stmt, top: bool) -> bool:
        """A claim, ``head(a, b) = expression`` as written (``claims_as_subscripts``), or not."""
        target = stmt.targets[0]
        if stmt.lineno not in self.claim_lines or type(target) is not ast.Subscript or \
                type(target.value) is not ast.Name or target.value.id not in self.given.claim_heads:
            return False
        head = target.value.id
        if not top:
            raise self.error(target, f"a claim {head}(...) = ... stands at the top level, not inside a loop, an if or "
                                     "a function")
        for name in target.slice.elts if type(target.slice) is ast.Tuple else [target.slice]:
            if type(name) is not ast.Name:
                raise self.error(name, f"a claim names nodes written out, like {head}(loss, h)")
        return True

    def target(self, target) -> None:
        if type(target) is ast.Subscript:
            raise self.error(target, "assigning into an array (x[0] = ...) is not allowed: values never "
                                     "change here; bind a new name")
        if type(target) is not ast.Name:
            raise self.error(target, "assigning to an attribute is not allowed; bind a plain name, like y = ...")
        self.name(target, target.id)

    def name(self, node, name: str, function: bool = False) -> None:
        """A name the program binds: a variable, a parameter, a loop counter, or (``function``) a def."""
        if name.startswith("_"):
            raise self.error(node, "names starting with '_' are not allowed")
        if name in CALLABLE_NAMES or name in M.TUPLE_FUNCTIONS:
            raise self.error(node, f"'{name}' is the name of a function; choose another name")
        if self.given is not None and name in self.given.functions:
            raise self.error(node, f"'{name}' is the name of a function; choose another name")
        if self.given is not None and name in self.given.values:
            raise self.error(node, f"'{name}' already names a value of the program here; choose another name for "
                                   f"your own, like d{name}")
        if not function and name in self.def_lines:
            raise self.error(node, f"'{name}' is the name of the function on line {self.def_lines[name]}; choose "
                                   "another name")

    def loop(self, stmt, in_function: bool) -> None:
        call = stmt.iter
        if type(stmt.target) is not ast.Name:
            raise self.error(stmt.target, "a loop has one counter: for i in range(n):")
        if (type(call) is not ast.Call or type(call.func) is not ast.Name or call.func.id != "range"
                or not 1 <= len(call.args) <= 3 or call.keywords):
            raise self.error(call, "loops are written for i in range(n): (or range(a, b), range(a, b, step)), "
                                   "so that the number of iterations is known before they run")
        if stmt.orelse:
            raise self.error(stmt.orelse[0], "for ... else is not allowed")
        self.name(stmt.target, stmt.target.id)
        for arg in call.args:
            self.expression(arg)
        for inner in stmt.body:
            self.statement(inner, False, in_function)

    def function(self, fn) -> None:
        name, args = fn.name, fn.args
        self.name(fn, name, function=True)
        if name in self.defs:
            raise self.error(fn, f"{name} is already defined on line {self.defs[name].lineno}; "
                                 "name the new one differently")
        if (args.posonlyargs or args.vararg or args.kwonlyargs or args.kwarg or args.defaults or fn.decorator_list
                or fn.returns or getattr(fn, "type_params", None) or any(a.annotation for a in args.args)):
            raise self.error(fn, f"a function takes plain parameters, like def {name}(x, W, b): (no defaults, "
                                 "*args, annotations or decorators)")
        params = [a.arg for a in args.args]
        for a in args.args:
            self.name(a, a.arg)
        if len(set(params)) != len(params):
            raise self.error(fn, f"{name} names a parameter twice")
        for stmt in fn.body:
            self.statement(stmt, False, True)
        ends = _terminal_returns(fn.body)
        if not ends:
            raise self.error(fn.body[-1], f"{name} does not end with return: a function gives back a value, "
                                          "like return h")
        for node in ast.walk(fn):
            if type(node) is ast.Return and node not in ends:
                raise self.error(node, "return is only allowed as the last line of a function (or of each "
                                       "branch of an if/else that ends it)")
        self.free_names(fn, set(params) | {n.id for s in fn.body for n in bound_names(s, into_functions=True)})
        self.defs[name] = fn

    def free_names(self, fn, local: set) -> None:
        """Every name a function reads: its own, or bound (or defined) above it."""
        for node in ast.walk(fn):
            if type(node) is not ast.Name or type(node.ctx) is not ast.Load or node.id in local:
                continue
            name, line = node.id, self.targets.get(node.id)
            if name == fn.name:
                raise self.error(node, f"{name} calls itself: recursion is not allowed (a graph is unrolled before "
                                       "it runs); repeat work with for i in range(n)")
            given = self.given is not None and (name in self.given.values or name in self.given.functions)
            if name in self.defs or name in CALLABLE_NAMES or name in M.TUPLE_FUNCTIONS or given or \
                    line is not None and line < fn.lineno:
                continue
            if line is not None:
                later = (f"calls {name}, which is defined after it (on line {line}): a function may call only "
                         "functions defined above it, so that there is no recursion") if name in self.def_lines \
                    else (f"uses {name}, which is bound after the function (on line {line}): a function may use "
                          "its parameters, its own names and names bound above it")
                raise self.error(node, f"{fn.name} {later}")
            if name not in CONSTANT_NAMES:
                known = [n for n, first in self.targets.items() if first < fn.lineno] + sorted(local)
                raise self.error(node, f"unknown name '{name}'{M.suggest(name, known + list(CONSTANT_NAMES))}")

    # ---- expressions ---------------------------------------------------------------------------

    def condition(self, node) -> None:
        """The test of an if: comparisons of numbers, joined by and / or / not."""
        kind = type(node)
        if kind is ast.Compare:
            if any(type(op) not in M.COMPARISONS for op in node.ops):
                raise self.error(node, "compare numbers with < <= > >= == !=")
            for operand in [node.left, *node.comparators]:
                self.expression(operand)
        elif kind is ast.BoolOp or kind is ast.UnaryOp and type(node.op) is ast.Not:
            for value in node.values if kind is ast.BoolOp else [node.operand]:
                self.condition(value)
        else:
            raise self.error(node, "a condition compares numbers, like if x > 0: or if i == 0 and y < 1:")

    def expression(self, node) -> None:
        kind = type(node)
        if kind is ast.Constant:
            self.constant(node)
        elif kind is ast.Name or kind is ast.Attribute:
            name = node.id if kind is ast.Name else node.attr
            if name.startswith("_"):
                raise self.error(node, "names starting with '_' are not allowed")
            if kind is ast.Attribute and name != "T":
                raise self.error(node, f"only the attribute .T (transpose) is allowed, not .{name}; "
                                       "call functions by name, like sum(x)")
            if kind is ast.Attribute:
                self.expression(node.value)
        elif kind is ast.BinOp:
            if type(node.op) not in M.BINARY:
                raise self.error(node, M.BAD_OPERATORS.get(type(node.op), "only + - * / ** @ % are allowed"))
            self.expression(node.left)
            self.expression(node.right)
        elif kind is ast.UnaryOp:
            if type(node.op) not in (ast.USub, ast.UAdd):
                raise self.error(node, M.BAD_OPERATORS.get(type(node.op)) or M.REFUSED[type(node.op).__name__])
            self.expression(node.operand)
        elif kind is ast.Subscript:
            self.expression(node.value)
            for part in node.slice.elts if type(node.slice) is ast.Tuple else [node.slice]:
                for bound in (part.lower, part.upper, part.step) if type(part) is ast.Slice else [part]:
                    if type(bound) is ast.Constant and type(bound.value) is not int:
                        raise self.error(bound, M.INDEX)
                    if bound is not None:
                        self.expression(bound)
        elif kind is ast.Call:
            self.call(node)
        elif kind is ast.List:
            list_value(node, self.error)
        else:
            raise self.error(node, M.REFUSED.get(kind.__name__, f"{kind.__name__} expressions are not allowed"))

    def constant(self, node) -> None:
        value = node.value
        if type(value) is bool:
            raise self.error(node, "True and False are not values here (only as keywords like keepdims=True)")
        if value is None or value is Ellipsis:
            raise self.error(node, "None is not a value here" if value is None else "... (Ellipsis) is not allowed")
        if type(value) is complex:
            raise self.error(node, "complex numbers are not supported: Backprop Studio works on real numbers")
        if type(value) in (str, bytes):
            raise self.error(node, "strings are not allowed: programs work on numbers only")
        number(node, self.error)

    def call(self, node) -> None:
        """A call by name. Its arguments are expressions, except where the function's kind of call
        takes written-out values: einsum's subscripts, keyword values, full's value; a list or
        tuple argument is a list of arrays (stack), a shape or an axis: its items are expressions,
        and the interpreter checks which it may be."""
        func = node.func
        if type(func) is ast.Attribute:
            raise self.error(node, f"methods and modules (.{func.attr}(...)) are not allowed; "
                                   "call functions by name, like sum(x)")
        if type(func) is not ast.Name or (func.lineno, func.col_offset) != (node.lineno, node.col_offset):
            raise self.error(node, "only functions called by their name are allowed, like tanh(x)")
        if func.id.startswith("_"):
            raise self.error(func, "names starting with '_' are not allowed")
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(kw.value, "**kwargs are not allowed")
            attr_value(kw.value, self.error)
        public, args = ENGINE_FUNCTIONS.get(func.id), list(node.args)
        if public is not None and public.call == "subscripts" and args and type(args[0]) is ast.Constant:
            args = args[1:]  # einsum's subscripts (a string the prescan let through)
        if func.id == "full" and args:
            number(args[-1], self.error, "the last argument of full(*shape, value) is the value, a number")
            args = args[:-1]
        for arg in args:
            if type(arg) is ast.Starred:
                raise self.error(arg, "starred arguments (*args) are not allowed")
            sequence = type(arg) is ast.Tuple or type(arg) is ast.List and public is not None and \
                public.call == "sequence" and arg is args[0]
            for item in arg.elts if sequence else [arg]:
                self.expression(item)


def _literal_number(node):
    inner = node.operand if type(node) is ast.UnaryOp else node
    return inner.value if type(inner) is ast.Constant else None


def bound_names(stmt, into_functions: bool):
    """The Name nodes a statement binds (targets, loop counters, function names), in its blocks too."""
    stack = [stmt]
    while stack:
        node = stack.pop()
        kind = type(node)
        if kind is ast.FunctionDef:
            yield ast.Name(node.name, lineno=node.lineno, col_offset=node.col_offset)
            if into_functions:
                stack.extend(reversed(node.body))
        elif kind is ast.Assign:
            for target in node.targets:
                yield from (t for t in (target.elts if type(target) is ast.Tuple else [target]) if type(t) is ast.Name)
        elif kind is ast.AugAssign and type(node.target) is ast.Name:
            yield node.target
        elif kind is ast.For:
            if type(node.target) is ast.Name:
                yield node.target
            stack.extend(reversed(node.body))
        elif kind is ast.If:
            stack.extend(reversed(node.body + node.orelse))


def _terminal_returns(body: list) -> set:
    """The returns that end ``body`` (its last line, or the last lines of a final if/else), or none."""
    last = body[-1]
    if type(last) is ast.Return:
        return {last}
    if type(last) is ast.If and last.orelse:
        first, second = _terminal_returns(last.body), _terminal_returns(last.orelse)
        if first and second:
            return first | second
    return set()

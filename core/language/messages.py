"""The language's words: every refusal that is a fixed sentence, in tables, and the helpers that
word the rest (a suggestion for a misspelt name, a shape error, where in a loop or call it was)."""

from __future__ import annotations

import ast
import difflib
import operator
from types import MappingProxyType

from ..optable import OPS  # which ops broadcast: the op table says (filled when the ops are imported)

BINARY = MappingProxyType({
    ast.Add: ("add", "+"), ast.Sub: ("subtract", "-"), ast.Mult: ("multiply", "*"),
    ast.Div: ("divide", "/"), ast.Pow: ("power", "**"), ast.MatMult: ("matmul", "@"), ast.Mod: ("mod", "%"),
})
COMPARISONS = MappingProxyType({
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
})
COMPARE = MappingProxyType({  # what each comparison's symbol computes
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
})
BAD_OPERATORS = MappingProxyType({
    ast.BitXor: "^ is not a power here (in Python it is bitwise xor); write x ** 2",
    ast.FloorDiv: "// is not allowed; the operators are + - * / ** @ %",
    ast.Invert: "~ is not allowed; the operators are + - * / ** @ %",
})
STATEMENT_WORDS = MappingProxyType({
    "AsyncFor": "async for", "With": "with", "AsyncWith": "async with", "Try": "try", "TryStar": "try",
    "AsyncFunctionDef": "async def", "ClassDef": "class", "Global": "global", "Nonlocal": "nonlocal",
    "Delete": "del", "Assert": "assert", "Raise": "raise", "Pass": "pass", "Match": "match",
})
STATEMENT_REASONS = MappingProxyType({
    "While": "'while' is not allowed: a loop says how many times it runs, for i in range(n), so that its "
             "cost is known before it runs",
    "Break": "'break' is not allowed: a loop runs all of its range, so its graph is known before it runs; "
             "put an if inside the loop instead",
    "Continue": "'continue' is not allowed: a loop runs all of its range; put an if inside the loop instead",
})
PROGRAM_IS = "a program is assignments, for loops over range(...), if/elif/else and def"
REFUSED = MappingProxyType({
    "Lambda": "lambda is not allowed: define a function with def",
    "ListComp": "comprehensions are not allowed", "SetComp": "comprehensions are not allowed",
    "DictComp": "comprehensions are not allowed", "GeneratorExp": "generator expressions are not allowed",
    "Compare": "comparisons are only allowed as the condition of an if, like if x > 0:",
    "BoolOp": "'and' / 'or' are only allowed in the condition of an if",
    "IfExp": "conditional expressions (a if c else b) are not allowed; write an if statement",
    "Dict": "dict literals are not allowed", "Set": "set literals are not allowed",
    "JoinedStr": "strings are not allowed", "FormattedValue": "strings are not allowed",
    "NamedExpr": "the walrus operator := is not allowed; bind the name on its own line",
    "Await": "await is not allowed", "Yield": "yield is not allowed", "YieldFrom": "yield is not allowed",
    "Starred": "starred arguments (*args) are not allowed",
    "Tuple": "tuples are only allowed in indices, keyword values, lists of arrays and return a, b",
    "Slice": "slices are only allowed inside [ ]",
    "Not": "'not' is only allowed in the condition of an if",
})
# Functions that return several arrays (a name holds one value), with what to use instead.
TUPLE_FUNCTIONS = MappingProxyType({
    "slogdet": "slogdet returns a pair (sign, log|det|), which programs cannot hold; use logabsdet(A) for log|det A|",
    "svd": "svd returns three arrays, which programs cannot hold; use svd_u(A), svdvals(A) and svd_vh(A)",
    "eigh": "eigh returns two arrays, which programs cannot hold; use eigvalsh(A) and eigh_vectors(A)",
    "split": "split returns a list of pieces, which programs cannot hold; take the pieces by indexing, like x[0:2]",
    "array_split": "array_split returns a list of pieces, which programs cannot hold; index instead, like x[0:2]",
})
NONFINITE_HINTS = MappingProxyType({
    "log": ": log needs positive numbers", "sqrt": ": sqrt needs numbers ≥ 0",
    "divide": ": a division by zero?", "exp": ": exp overflows above about 709",
    "power": ": a negative number to a fractional power, 0 to a negative one, or an overflow?",
    "mod": ": a modulo by zero?",
})
INDEX = ("indices must be whole numbers written out or loop counters, like x[0], x[1:3], x[:, -1] or x[i] "
         "(not values)")
COMMON = ("sin", "cos", "tanh", "exp", "log", "sqrt", "sigmoid", "relu", "sum", "mean", "dot", "solve",
          "randn", "zeros", "eye")


def suggest(name: str, candidates) -> str:
    """" — did you mean 'W1'?" (or two guesses, as for tahn: tan or tanh), or nothing."""
    matches = difflib.get_close_matches(name, list(candidates), n=2, cutoff=0.5)
    return f" — did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def shape_mismatch(op: str, symbol: str, shapes: tuple, line: int, error) -> str | None:
    """The operator-level words for operands that don't fit ``+``/``@``..., naming the line; None for
    other ops (their ShapeError already names the op and the shapes)."""
    if op in OPS and OPS[op].broadcasts and len(shapes) == 2:
        return (f"shapes {shapes[0]} and {shapes[1]} don't fit {symbol} on line {line}: they cannot be "
                "broadcast together")
    if op in ("matmul", "dot") and len(shapes) == 2 and min(len(s) for s in shapes) > 0:
        reason = getattr(error, "message", str(error)).rpartition("(")[2].rstrip(")")
        return f"shapes {shapes[0]} and {shapes[1]} don't fit {symbol} on line {line}: {reason}"
    return None


def iteration(var: str, value: int, line: int) -> str:
    return f"in iteration {var} = {value} of the loop on line {line}"


def call(label: str, number: int, line: int) -> str:
    return f"in {label}, call {number}, on line {line}"

r"""The program language: a program's text in, a graph of ``Var``\ s out, nothing ever run by Python.

    x = 2.0                      # a literal at the top level: an input
    W = randn(3, 2)              # constructors: randn rand zeros ones eye full spd, seeded
    def layer(h, W, b):
        return tanh(W @ h + b)
    h = [1.0, 2.0]
    for t in range(3):           # loops over range(n): n known from the text
        h = layer(h, W.T @ W, x) # rebinding makes a new node, titled h (t=0), h (t=1), ...
    if sum(h) > 0:               # branches on values: the graph holds the path taken
        h = h * 2
    loss = sum(h ** 2)           # the last line is the output

Safety comes from *what is absent*: the text is parsed with ``ast`` and the whole tree is checked
against a whitelist (``syntax``) before anything runs; the interpreter (``interpreter``) walks that
tree and calls the engine's functions, looked up in its own table (``FUNCTIONS``: the engine's
``core.FUNCTIONS`` minus indexing's internals and what returns several arrays). There is no
``eval``, ``exec`` or ``compile``, no ``getattr`` with a user-chosen name, no attribute but ``.T``,
no name starting with ``_``, and strings only as einsum's subscripts and keyword values.

One interpreter, two runs (``domains``): ``parse`` runs it *abstractly* (shapes and costs from the
op table's rules), which enforces every limit, the time budget included, before anything is
allocated; ``build`` runs it *concretely* and makes the graph. Only an ``AutodiffError`` ever
leaves ``parse``/``build``/``run``/``as_function``, whatever the text.

Decisions the app and the tests rely on (docs/language.md has them for users):

* **Inputs** are the top-level names bound to a literal (a number, a list of numbers, ``pi``/``e``)
  or a constructor, outside any loop, if or function; a whole number used as a count or an index
  (``T = 4`` with ``range(T)``) is a count, not an input. The same literal inside a loop, an if or a
  function is a constant. A constructor inside an expression is a constant.
* **Rebinding** is allowed anywhere; each binding is a new node with that name (an alias ``y = x``
  binds y to x's very node). An input is bound once.
* **Random streams**: ``default_rng([seed, crc32(name), k, *loop counters])``: the same program and
  seed give the same numbers, editing one line does not reshuffle the others, and each iteration
  of a loop draws anew.
* **Locations and scopes**: every node gets ``loc = (line, col)`` of the sub-expression that made
  it and ``scope``, the calls and loop iterations it was made in (``core.trace.Frame``).
  ``ExpressionError`` carries ``line``, ``col``, ``end_col``; an error inside a loop or a call says
  which: "… (in iteration i = 3 of the loop on line 4)".
* **Non-finite values are errors** where they appear (``log(-1)``), unless ``as_function(...,
  check_finite=False)`` (function plots sweep through domain edges).

``evaluate`` runs a text that is not a program — a student's claims about gradients, an answer to
a prediction (``core.claims``) — on *given values*, with the same whitelist, limits, time budget
and located errors, through the same interpreter: abstractly, then concretely on plain NumPy
values (``domains.AbstractValues``, ``domains.Values``), statement by statement, so that one
failing statement leaves the others evaluated. Its texts may hold *claims*, ``grad(loss, h) =
expression``: not Python syntax, so the brackets of the left side are swapped for ``[ ]`` before
parsing (``syntax.claims_as_subscripts``), which keeps every column.
"""

from __future__ import annotations

import ast
import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from ..errors import AutodiffError, ExpressionError
from .budget import ANSWER_LIMITS, DEFAULT_LIMITS, Limits
from .domains import Abstract, AbstractValues, Concrete, Shaped, Values
from .interpreter import CONSTANTS as _CONSTANTS
from .interpreter import FUNCTIONS as _FUNCTIONS
from .interpreter import Interpreter, Unbound
from .syntax import (
    CONSTRUCTOR_NAMES,
    Given,
    Program,
    Statement,
    bound_names,
    check,
    locate,
    offsets,
    source,
    split_lines,
)

FUNCTIONS = MappingProxyType(_FUNCTIONS)
FUNCTION_NAMES = tuple(FUNCTIONS)
CONSTANTS = MappingProxyType(_CONSTANTS)

__all__ = ["parse", "read", "build", "run", "as_function", "evaluate", "Evaluated", "Written", "NameCall",
           "input_span", "input_spans", "caret_excerpt", "split_lines", "Program", "Statement", "Limits",
           "DEFAULT_LIMITS", "ANSWER_LIMITS", "FUNCTIONS", "FUNCTION_NAMES", "CONSTRUCTOR_NAMES", "CONSTANTS", "locate"]


def _safely(work, *args):
    """The final safety net: whatever happens, only an ``AutodiffError`` leaves the language."""
    import numpy as np

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


def parse(text, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Check a program against the whitelist, then run it abstractly: names, shapes, and every
    limit (nodes, sizes, iterations, time) are checked; nothing is allocated or computed."""
    return _safely(_parse, text, limits)


def _parse(text, limits: Limits) -> Program:
    if not isinstance(limits, Limits):
        raise AutodiffError(f"limits must be a Limits, not {type(limits).__name__}")
    program = check(text, limits)
    domain = Abstract(program, limits)
    interpreter = Interpreter(program, domain, limits)
    interpreter.run()
    shapes = {name: value.shape for name, value in interpreter.inputs.items()}
    return dataclasses.replace(program, input_shapes=shapes, operations=domain.meter.operations)


def read(text, limits: Limits = DEFAULT_LIMITS) -> Program:
    """Check a program against the whitelist and the static rules only, without running it: its
    names, inputs and output, cheaply (``parse`` also runs it abstractly)."""
    return _safely(check, text, limits)


def _checked_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise AutodiffError(f"the seed must be a whole number ≥ 0, not {seed!r}")
    return int(seed)


def _checked(source, seed, limits: Limits) -> tuple:
    if not isinstance(limits, Limits):
        raise AutodiffError(f"limits must be a Limits, not {type(limits).__name__}")
    checked_seed = _checked_seed(seed)
    program = source if isinstance(source, Program) else _parse(source, limits)
    return program, checked_seed


def build(text_or_program, seed: int = 0, limits: Limits = DEFAULT_LIMITS, values=None) -> tuple:
    """Evaluate a program into a graph: ``(output Var, {input name: input Var})``, inputs in order.

    ``values`` (input name -> number or array of that input's shape) replaces the literals of
    those inputs: a program with other input values, without writing them into its text (the
    training view opens step k this way, whatever the size of its parameters)."""
    return _build(text_or_program, seed, limits, values)[:2]


def _build(text_or_program, seed, limits, values=None) -> tuple:
    """(output, inputs, the nodes in the order the program made them)."""

    def work():
        program, checked_seed = _checked(text_or_program, seed, limits)
        unknown = set(values or ()) - set(program.input_names)
        if unknown:
            raise AutodiffError(f"the program has no input {sorted(unknown)[0]!r}; its inputs are "
                                f"{', '.join(program.input_names) or 'none'}")
        domain = Concrete(program, checked_seed, limits, values=values)
        interpreter = Interpreter(program, domain, limits)
        return interpreter.run(), dict(interpreter.inputs), domain.made

    return _safely(work)


def as_function(text_or_program, seed: int = 0, limits: Limits = DEFAULT_LIMITS, *,
                check_finite: bool = True) -> tuple:
    """``(input names, f)`` where ``f(*values)`` evaluates the program with those input values.

    ``f`` works on plain numbers and arrays and on Vars, so ``ad.grad(f)``, ``ad.check_grads(f,
    *values)`` and function plots all use the very tree that ``build`` evaluates. Constants drawn
    by constructors inside expressions are the same as in ``build`` with the same seed. Each value
    must have its input's shape in the program (the limits were checked for those shapes).
    """
    program, checked_seed = _safely(_checked, text_or_program, seed, limits)
    names = program.input_names

    def program_function(*values):
        if len(values) != len(names):
            raise AutodiffError(f"the program has {len(names)} inputs ({', '.join(names)}); got {len(values)} values")
        from ..var import Var, as_value

        # Plain values stay plain (only Vars record graph), so a function plot runs at NumPy speed.
        overrides = {n: v if type(v) is Var else as_value(v, n) for n, v in zip(names, values)}
        domain = Concrete(program, checked_seed, limits, overrides, check_finite)
        return _safely(Interpreter(program, domain, limits).run)

    return names, program_function


def run(text_or_program, seed: int = 0, limits: Limits = DEFAULT_LIMITS, values=None):
    """Parse, build and trace a program: the ``Trace`` the app steps through (``values`` as in
    ``build``)."""
    from ..trace import Trace  # the trace layer depends on the engine, not on the language

    output, inputs, made = _build(text_or_program, seed, limits, values)
    text = text_or_program.text if isinstance(text_or_program, Program) else text_or_program
    return _safely(lambda: Trace.build(output, inputs, program=text, seed=seed, made=made))


# ---- evaluating a text on given values (claims, answers) -------------------------------------------


class Written(NamedTuple):
    """A name as written in the text, and where (1-based; ``end_col`` inclusive)."""

    text: str
    line: int
    col: int
    end_col: int | None


class NameCall(NamedTuple):
    """A call of one of the caller's name functions, as written: ``grad(loss, h)``."""

    function: str
    names: tuple  # the names written as its arguments
    line: int
    col: int
    end_col: int | None


@dataclass(frozen=True, eq=False)
class Evaluated:
    """One top-level statement of a text given to ``evaluate``, evaluated or refused."""

    kind: str  # "binding" (a = ..., a loop, an if, a def), "claim" (head(a, b) = ...) or "expression" (a bare line)
    line: int  # where the statement starts (1-based)
    col: int
    end_line: int
    binds: tuple  # the names it binds, in order of appearance
    head: str | None  # a claim's head, like "grad"; else None
    arguments: tuple  # a claim's names as written (Written each); else ()
    value: object  # a claim's or a bare expression's value (numpy.float64 or float64 ndarray); else None
    error: ExpressionError | None  # why it failed (its names then have no value for later statements)
    refused: bool  # the whitelist refused it (``error`` says why): it was not run
    reads: frozenset  # every name it reads (found in the text: in branches not taken too)
    calls: tuple  # every call of a name function in it (NameCall each), in the order written


def evaluate(text, values: Mapping, *, name_functions: Mapping | None = None, claim_heads: tuple = (),
             seed: int = 0, limits: Limits = ANSWER_LIMITS) -> tuple:
    """Evaluate ``text`` (statements of the language) on given values, without recording a graph:
    one ``Evaluated`` per top-level statement, in order.

    * ``values``: name -> number or array; the text reads them and may not rebind them.
    * ``name_functions``: name -> ``f(names, error)``, called with the names written as its
      arguments (``grad(loss, h)`` gives ``("loss", "h")``) and returning a number or an array;
      ``error(index, message)`` makes the ExpressionError to raise, located at argument ``index``
      (None: the whole call).
    * ``claim_heads``: the heads of claims, ``head(a, b) = expression`` at the start of a line:
      the expression is evaluated and reported as the statement's ``value``.

    The text goes through the whitelist and the limits (``limits``: characters, statements,
    nesting, sizes, iterations, steps and the time budget), then each statement is run abstractly
    and, if that passes, concretely: the budget is checked before the work of each statement. A
    statement that fails gets its located ``error``, its names have no value (a later statement
    that reads one fails, saying so) and the others are still evaluated; so does a statement the
    whitelist refuses. A text that cannot be read (a syntax error) or breaks a limit of the whole
    text (characters, lines, nesting) raises its ``ExpressionError``: nothing is evaluated. Only
    ``AutodiffError`` leaves, whatever the text."""
    return _safely(_evaluate, text, values, name_functions, claim_heads, seed, limits)


def _evaluate(text, values, name_functions, claim_heads, seed, limits) -> tuple:
    from ..var import as_value

    if not isinstance(limits, Limits):
        raise AutodiffError(f"limits must be a Limits, not {type(limits).__name__}")
    seed = _checked_seed(seed)
    functions = dict(name_functions or {})
    taken = set(FUNCTIONS) | set(CONSTRUCTOR_NAMES) | set(CONSTANTS)
    clash = sorted(set(functions) & (taken | set(values))) or sorted(set(values) & taken)
    if clash:
        raise AutodiffError(f"{clash[0]!r} is given twice, or is a name of the language")
    heads = tuple(claim_heads)
    program = check(text, limits, Given(frozenset(values), frozenset(functions), heads))
    environment = {name: as_value(value, name) for name, value in values.items()}
    shapes = {name: Shaped(value.shape, True) for name, value in environment.items()}
    abstract = Interpreter(program, AbstractValues(program, limits), limits, shapes, functions)
    concrete = Interpreter(program, Values(program, seed, limits), limits, environment, functions)
    results = []
    for stmt in program.body:
        counters, value, error = abstract.domain.snapshot(), None, None
        abstract.last_value = concrete.last_value = None
        try:
            if stmt in program.refused:
                raise program.refused[stmt]
            abstract.statement(stmt)  # the limits, before the work
            concrete.statement(stmt)
            if type(stmt) is ast.Expr:
                value = concrete.value(concrete.last_value, stmt.value)
            elif type(stmt) is ast.Assign and type(stmt.targets[0]) is ast.Subscript:
                value = concrete.last_value
        except ExpressionError as exc:
            error = exc
        except RecursionError:  # Python's own stack, from a deep caller
            error = program.error(stmt, "this line is nested too deeply to evaluate")
        binds = tuple(dict.fromkeys(n.id for n in bound_names(stmt, into_functions=False)))
        if error is not None:
            abstract.domain.restore(counters)
            for name in binds:
                abstract.globals[name] = concrete.globals[name] = Unbound(stmt.lineno, failed=True)
        results.append(_evaluated(program, stmt, binds, value, error, functions))
    return tuple(results)


def _evaluated(program: Program, stmt, binds: tuple, value, error, functions) -> Evaluated:
    kind, head, arguments, searched = "binding", None, (), stmt
    if type(stmt) is ast.Expr:
        kind = "expression"
    elif type(stmt) is ast.Assign and type(stmt.targets[0]) is ast.Subscript:
        target = stmt.targets[0]
        kind, head, searched = "claim", target.value.id, stmt.value
        names = target.slice.elts if type(target.slice) is ast.Tuple else [target.slice]
        arguments = tuple(Written(n.id if type(n) is ast.Name else source(program.lines, n), *program.locate(n))
                          for n in names)
    reads, calls = set(), []
    for node in ast.walk(searched):
        if type(node) is ast.Name and type(node.ctx) is ast.Load:
            reads.add(node.id)
        elif type(node) is ast.Call and type(node.func) is ast.Name and node.func.id in functions:
            calls.append(NameCall(node.func.id, tuple(a.id for a in node.args if type(a) is ast.Name),
                                  *program.locate(node)))
    calls.sort(key=lambda c: (c.line, c.col))  # ast.walk is breadth-first; report them as written
    line, col, _ = program.locate(stmt)
    return Evaluated(kind, line, col, stmt.end_lineno or line, binds, head, arguments, value, error,
                     stmt in program.refused, frozenset(reads), tuple(calls))


def caret_excerpt(text: str, line: int | None, col: int | None) -> str | None:
    """The offending line of ``text`` with a caret under ``col`` (both 1-based), numbered as the
    language numbers lines; None when the location is not in the text."""
    lines = split_lines(text)
    if not line or not 1 <= line <= len(lines):
        return None
    return f"{line:>3} | {lines[line - 1]}\n    | " + " " * max((col or 1) - 1, 0) + "^"


def input_spans(text: str) -> dict:
    """For each input, the character offsets ``(start, end)`` of the right-hand side of the
    statement that binds it (the literal the app's what-if box edits): one check of the text."""
    program = _safely(check, text, DEFAULT_LIMITS)
    return {stmt.targets[0].id: offsets(text, stmt.value, program.lines) for stmt in reversed(program.inputs)}


def input_span(text: str, name: str):
    """``input_spans(text)[name]``, or None if ``name`` is not an input bound to a literal."""
    return input_spans(text).get(name)

"""The two interpretations of a program: what a literal, a constructor, an op, a name and a
comparison *mean* in each. The interpreter (``interpreter.py``) walks the tree once and asks one of
these, as autodidax's interpreters each bring their own rule for every primitive.

* ``Abstract``: values are ``Shaped`` (a shape, and whether it is a constant); an op's rule is the
  op table's ``abstract_eval`` (output shape and cost, ``core.optable``); a ``Meter`` counts nodes,
  entries and operations and refuses what crosses a limit, before anything is allocated. A
  comparison of values is ``UNKNOWN``: the interpreter then runs both branches.
* ``Concrete``: values are the engine's (``Var``, or plain NumPy for constants); an op runs the
  engine's function and the nodes it made are located, named and scoped; NaN and infinity are
  refused where they appear.

``evaluate`` (claims, answers) runs a text on given values without recording a graph, through
their two variants: ``AbstractValues`` (every value a constant: no node, no backward pass, only
the forward's cost) and ``Values`` (plain NumPy values; the engine's functions on plain arrays run
NumPy directly).
"""

from __future__ import annotations

import ast
import math
import zlib
from typing import NamedTuple

import numpy as np

from ..errors import AutodiffError, ShapeError
from ..var import Var, as_value, raw
from . import budget
from . import messages as M

UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN", "__slots__": ()})()
_RANDOM = frozenset({"randn", "rand", "spd"})


class Shaped(NamedTuple):
    """An abstract value: what is known of an array before it exists."""

    shape: tuple
    constant: bool  # computed from literals only: the engine makes no node for it


def _declares_cost(public) -> bool:
    rule = public.op.cost_rule if public.op is not None else public.cost_rule
    return rule is not None


class Meter:
    """What the program would make and cost so far, against the limits (the abstract pass's)."""

    __slots__ = ("limits", "nodes", "elements", "operations", "line")

    def __init__(self, limits: budget.Limits):
        self.limits = limits
        self.nodes = self.elements = 0
        self.operations = self.line = 0.0

    def counters(self) -> tuple:
        return self.nodes, self.elements, self.operations

    def add_nodes(self, error, count: int) -> None:
        self.nodes += count
        if self.nodes > self.limits.max_nodes:
            raise error(f"the program has more than {self.limits.max_nodes:,} operations (graph nodes)")

    def charge(self, error, size: int, operations: float) -> None:
        limits = self.limits
        if size > limits.max_elements:
            raise error(f"the result would have {size:,} numbers; the limit is {limits.max_elements:,} per array")
        self.elements += size
        if self.elements > limits.max_total_elements:
            raise error(f"the program would make more than {limits.max_total_elements:,} numbers in all")
        self.operations += operations
        self.line += operations
        budget_ = limits.max_operations
        if self.operations > budget_:
            about = f"a program may use {budget_:.1e} in all (about {budget.seconds(budget_):.0f} s of work)"
            if self.line > budget_:
                raise error(f"this line needs about {self.line:.1e} operations; {about}")
            raise error(f"by this line the program needs about {self.operations:.1e} operations (this line: "
                        f"{self.line:.1e}); {about}")


class Abstract:
    """Shapes and costs only."""

    def __init__(self, program, limits: budget.Limits):
        self.program = program
        self.meter = Meter(limits)
        self.scope = ()

    def error_at(self, node):
        return lambda message: self.program.error(node, message)

    def begin(self, stmt) -> None:
        self.meter.line = 0.0

    def literal(self, node, value) -> Shaped:
        return Shaped(np.shape(value), True)

    def input(self, node, name: str, evaluate) -> Shaped:
        value = evaluate()
        shape = () if type(value) is int else value.shape
        self.meter.add_nodes(self.error_at(node), 1)
        self.meter.charge(self.error_at(node), 0, budget.NODE + budget.RECORD * 2 * math.prod(shape))
        return Shaped(shape, False)

    def construct(self, node, name: str, dims: tuple, fill) -> Shaped:
        size = math.prod(dims)
        work = size * (budget.RANDOM if name in _RANDOM else budget.ENTRY)
        self.meter.charge(self.error_at(node), size, work + (dims[0] ** 3 * budget.FLOP if name == "spd" else 0))
        return Shaped(dims, True)

    def apply(self, node, public, operands: tuple, attrs: dict, operand_nodes, symbol: str) -> Shaped:
        shapes = tuple(v.shape for v in operands)
        try:
            shape, cost = public.abstract_eval(*shapes, **attrs)
        except ShapeError as exc:
            line = self.program.locate(node)[0]
            if public.name == "getitem":
                reason = exc.__context__ if exc.__context__ is not None else exc.message
                raise self.program.error(node, f"the index doesn't fit shape {shapes[0]}: {reason}") from None
            raise self.program.error(node, M.shape_mismatch(public.name, symbol, shapes, line, exc) or exc.message) \
                from None
        except AutodiffError as exc:
            raise self.program.error(node, exc.message) from None
        except (TypeError, ValueError, IndexError, ArithmeticError) as exc:  # attrs of the wrong kind
            raise self.program.error(node, f"{public.name}: {exc}") from None
        constant = all(v.constant for v in operands)
        error = self.error_at(node)
        if not constant:
            self.meter.add_nodes(error, 1 + sum(v.constant for v in operands))
        self.meter.charge(error, math.prod(shape),
                          budget.op_operations(_declares_cost(public), cost, shapes, shape, not constant))
        return Shaped(shape, constant)

    def named(self, node, name: str, value: Shaped) -> Shaped:
        if value.constant:  # a named constant is a leaf of the graph
            self.meter.add_nodes(self.error_at(node), 1)
            return Shaped(value.shape, False)
        return value

    def output(self, node, value):
        return self.named(node, None, value)

    def compare(self, node, symbol: str, a: Shaped, b: Shaped):
        for v in (a, b):
            if math.prod(v.shape) != 1:
                raise self.program.error(node, f"a comparison needs single numbers, not shape {v.shape}: compare "
                                               "sum(x), x[0] or max(x)")
        return UNKNOWN

    def shape(self, value) -> tuple:
        return value.shape

    def snapshot(self) -> tuple:
        return self.meter.counters()

    def restore(self, counters: tuple) -> None:
        self.meter.nodes, self.meter.elements, self.meter.operations = counters


class AbstractValues(Abstract):
    """Shapes and costs of a plain evaluation: every value is a constant, nothing is recorded, so
    an op costs its forward only and makes no node (a text evaluated has no inputs)."""

    def named(self, node, name: str, value: Shaped) -> Shaped:
        return value

    def output(self, node, value):
        return value

    def given(self, node, value) -> Shaped:
        """A value the caller gives (a name function's result) as what is known of it."""
        return Shaped(np.shape(value), True)


class Concrete:
    """Values, through the engine: the graph, located, named and scoped."""

    def __init__(self, program, seed: int, limits: budget.Limits, overrides=None, check_finite: bool = True,
                 values=None):
        self.program, self.seed, self.limits = program, seed, limits
        self.overrides = overrides  # as_function's input values (all, plain or Vars); None in build
        self.values = values or {}  # build's values of some inputs, instead of their literals
        self.check_finite = check_finite
        self.bound: set = set()  # ids of the Vars bound to names: aliases, and where locating stops
        self.made: list = []  # every node located, in the order the program made them
        self.scope = ()
        self.target = ""  # the name the current statement binds (its random stream)
        self.draws = 0

    def begin(self, stmt) -> None:
        target = stmt.targets[0] if type(stmt) is ast.Assign else getattr(stmt, "target", None)
        self.target, self.draws = (target.id if type(target) is ast.Name else ""), 0

    def literal(self, node, value):
        return value

    def input(self, node, name: str, evaluate):
        given = self.overrides if self.overrides is not None else self.values
        if name in given:
            value = given[name] if self.overrides is not None else as_value(given[name], f"the value of {name}")
            expected = self.program.input_shapes.get(name)
            if expected is not None and np.shape(raw(value)) != expected:
                raise AutodiffError(f"the input {name} has shape {expected} in the program; got {np.shape(raw(value))}")
        if self.overrides is None:
            # A plain leaf, not grad's marked input_leaf: a backward pass over some of a program's
            # inputs must not take the others for an enclosing grad's variables.
            value = self.located(Var(value if name in given else evaluate(), name), node)
        self.bound.add(id(value))
        return value

    def construct(self, node, name: str, dims: tuple, fill):
        rng = None
        if name in _RANDOM:
            stream = [self.seed, zlib.crc32(self.target.encode("utf-8")), self.draws]
            # Each iteration of a loop draws anew; the top level keeps its streams of old.
            stream += [2 * abs(f.index) + (f.index < 0) for f in self.scope if f.kind == "loop"]
            rng = np.random.default_rng(stream)
            self.draws += 1
        return self.checked(node, as_value(_MAKERS[name](dims, fill, rng)), name)

    def apply(self, node, public, operands: tuple, attrs: dict, operand_nodes, symbol: str):
        try:
            if public.call == "subscripts":
                result = public.function(attrs["subscripts"], *operands)
            elif public.call == "sequence":
                result = public.function(list(operands), **attrs)
            else:
                result = public.function(*operands, **attrs) if attrs else public.function(*operands)
        except AutodiffError as exc:
            raise self.program.error(node, exc.message) from None
        except (ArithmeticError, ValueError, TypeError, IndexError) as exc:
            raise self.program.error(node, f"{public.name}: {exc}") from None
        if type(result) is Var:
            # The constants the engine wrapped around plain operands point at those operands.
            if len(result.parents) == len(operand_nodes):
                for parent, operand in zip(result.parents, operand_nodes):
                    if parent.loc is None and parent.op is None and id(parent) not in self.bound:
                        self.located(parent, operand)
            loc, stack = self.program.locate(node)[:2], [result]
            while stack:
                var = stack.pop()
                if var.loc is None and id(var) not in self.bound:
                    var.loc, var.scope = loc, self.scope
                    self.count(node, var)
                    stack.extend(var.parents)
        return self.checked(node, result, public.name, symbol)

    def checked(self, node, result, name: str, symbol: str | None = None):
        """Refuse NaN and infinity where they appear (and, as a backstop, sizes past the limits)."""
        value = raw(result)
        if np.size(value) > self.limits.max_elements:
            raise self.program.error(node, f"the result would have {np.size(value):,} numbers; the limit is "
                                           f"{self.limits.max_elements:,} per array")
        if self.check_finite and not np.all(np.isfinite(value)):
            what = "NaN (not a number)" if np.any(np.isnan(value)) else "an infinite value"
            raise self.program.error(node, f"{symbol or 'this'} gives {what} on line {self.program.locate(node)[0]}"
                                           f"{M.NONFINITE_HINTS.get(name, '')}")
        return result

    def named(self, node, name: str | None, value):
        if type(value) is not Var:
            if self.overrides is not None:  # as_function: constants stay plain, at NumPy speed
                return value
            return self.located(Var(value, name), node)  # a named constant leaf
        if name is not None and id(value) not in self.bound:
            value.name = name
        self.bound.add(id(value))
        return value

    def output(self, node, value):
        if type(value) is not Var and self.overrides is None:
            return self.located(Var(value), node)
        return value

    def located(self, var: Var, node) -> Var:
        var.loc, var.scope = self.program.locate(node)[:2], self.scope
        self.count(node, var)
        return var

    def count(self, node, var: Var) -> None:
        self.made.append(var)
        if len(self.made) > self.limits.max_nodes:
            raise self.program.error(node, f"the program makes more than {self.limits.max_nodes:,} graph nodes")

    def compare(self, node, symbol: str, a, b) -> bool:
        left, right = raw(a), raw(b)
        for v in (left, right):
            if np.size(v) != 1:
                raise self.program.error(node, f"a comparison needs single numbers, not shape {np.shape(v)}: "
                                               "compare sum(x), x[0] or max(x)")
        left, right = float(np.reshape(left, ())), float(np.reshape(right, ()))
        return M.COMPARE[symbol](left, right)


class Values(Concrete):
    """Plain NumPy values, no graph: a text evaluated on given values (``evaluate``)."""

    def named(self, node, name: str | None, value):
        return value

    def output(self, node, value):
        return value

    def given(self, node, value):
        """A value the caller gives (a name function's result), refused where it is not finite."""
        name = node.func.id
        return self.checked(node, as_value(value, f"{name}(...)"), name, f"{name}(...)")


def _spd(dims, fill, rng):
    n = dims[0]
    g = rng.standard_normal((n, n))
    a = g @ g.T / n + np.eye(n)
    return 0.5 * (a + a.T)


_MAKERS = {
    "randn": lambda dims, fill, rng: rng.standard_normal(dims),
    "rand": lambda dims, fill, rng: rng.random(dims),
    "zeros": lambda dims, fill, rng: np.zeros(dims),
    "ones": lambda dims, fill, rng: np.ones(dims),
    "eye": lambda dims, fill, rng: np.eye(dims[0]),
    "full": lambda dims, fill, rng: np.full(dims, fill),
    "spd": _spd,
}

"""The one interpreter: a checked program's tree, walked once per run, in either interpretation.

The walk is the same for both (``domains.Abstract``, ``domains.Concrete``): statements, names,
whole numbers and control flow are the interpreter's; what a literal, an op, a name binding and a
comparison of values *mean* is the domain's. The abstract run comes first (``parse``): it checks
names, arities, shapes and every limit, so the concrete run (``build``) only ever does work that
was bounded before it began.

Whole numbers are the interpreter's own: loop counters, integer literals, names bound to them and
``+ - * % **`` of them stay Python ints, known in both runs, so ``range(n)``, ``x[i + 1]`` and
``zeros(n)`` are known before anything runs. An int used with a value becomes a constant.

Control flow:

* ``for i in range(...)`` runs its body once per iteration in both runs (the abstract one is cheap),
  with the total number of iterations checked before the first. Each iteration is a ``Frame``.
* ``if``: a condition on whole numbers is known in both runs. A condition on values is known only
  to the concrete run; the abstract run then runs *both* branches from the same state, keeps the
  larger count of each budget (the concrete run takes one of them), and joins the names: a name
  must have one shape whichever way the if goes, and a name bound in one branch only is unusable
  after it. So the bound holds for every input that flips the branch (what-if, training).
* A call of a ``def`` function binds its parameters in a fresh namespace (names it does not bind
  are read from the top level, bound above it: ``syntax`` checks that) and is a ``Frame``.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

import numpy as np

from ..errors import ExpressionError
from ..ops import FUNCTIONS as ENGINE_FUNCTIONS
from ..trace import Frame
from . import messages as M
from .domains import UNKNOWN, Shaped
from .syntax import CONSTRUCTOR_NAMES, HIDDEN, attr_value, bound_names, list_value, number, source

CONSTANTS = {"pi": np.float64(np.pi), "e": np.float64(np.e)}
FUNCTIONS = {name: public for name, public in sorted(ENGINE_FUNCTIONS.items())
             if name not in HIDDEN and not public.returns_tuple}
_MAX_WHOLE = 2 ** 53  # whole numbers stay exact in a float64 up to here
_WHOLE_OPS = {"add": int.__add__, "subtract": int.__sub__, "multiply": int.__mul__, "mod": int.__mod__,
              "power": int.__pow__}
_MISSING = object()


class Returned(NamedTuple):
    value: object


class Unbound(NamedTuple):
    """A name bound in one branch only of an if the abstract run could not decide, or (``failed``)
    by a statement of ``evaluate``'s text that failed: the name has no value to read."""

    line: int
    failed: bool = False


def in_context(exc: ExpressionError, where: str) -> ExpressionError:
    """The error, still located where it happened, with where in the run it happened appended:
    "... (in iteration i = 3 of the loop on line 4)"."""
    base = getattr(exc, "base_message", exc.message)
    places = getattr(exc, "places", ()) + (where,)
    new = ExpressionError(f"{base} ({', '.join(places)})", exc.line, exc.col, exc.end_col)
    new.base_message, new.places = base, places
    return new


class Interpreter:
    def __init__(self, program, domain, limits, given=None, name_functions=None):
        """``given``: names already bound to the domain's values (``evaluate``'s environment);
        ``name_functions``: function name -> ``f(names, error)``, called with its arguments as the
        names written out (``grad(loss, h)``) and returning a value; ``error(index, message)``
        makes an ExpressionError at argument ``index`` (None: the whole call)."""
        self.program, self.domain, self.limits = program, domain, limits
        self.globals: dict = dict(given or {})
        self.name_functions = name_functions or {}
        self.env = self.globals  # the namespace of the code running: the top level's, or a call's
        self.local_names: frozenset = frozenset()  # the names the running function binds
        self.functions: dict = {}  # defined so far
        self.inputs: dict = {}
        self.scope: tuple = ()
        self.frames = 0  # frames made so far: their ids
        self.calls: dict = {}  # function name -> calls so far
        self.local_sets: dict = {}  # function name -> the names it binds
        self.lists: dict = {}  # list literal -> its array (shared: the engine never writes into a value)
        self.parsed: dict = {}  # call -> (its operands' expressions, its attrs)
        self.iterations = self.steps = 0
        self.last_value = None

    def error(self, node, message: str) -> ExpressionError:
        return self.program.error(node, message)

    def step(self, node) -> None:
        self.steps += 1
        if self.steps > self.limits.max_steps:
            raise self.error(node, f"the program takes more than {self.limits.max_steps:,} steps to run (statements "
                                   "and expressions, loops unrolled); make its loops shorter")

    def enter(self, scope: tuple) -> None:
        self.scope = self.domain.scope = scope

    def frame(self, kind: str, label: str, line: int, name: str, index: int) -> Frame:
        self.frames += 1
        return Frame(self.frames, kind, label, line, name, index)

    # ---- statements ----------------------------------------------------------------------------

    def run(self):
        """Run the program; its output (the last line's value)."""
        for stmt in self.program.body:
            self.statement(stmt)
        last = self.program.body[-1]
        value = self.last_value if type(last) is ast.Expr else self.globals[self.program.output_name]
        if type(value) is tuple:
            raise self.error(last, "the output is one value; unpack what the function returns, like a, b = f(x)")
        return self.domain.output(last.value, self.value(value, last.value))

    def block(self, body):
        for stmt in body:
            result = self.statement(stmt)
            if result is not None:
                return result
        return None

    def statement(self, stmt):
        self.step(stmt)
        self.domain.begin(stmt)
        kind = type(stmt)
        if kind is ast.Assign:
            self.assign(stmt)
        elif kind is ast.AugAssign:
            name, symbol = M.BINARY[type(stmt.op)]
            left = self.lookup(stmt.target)
            self.bind(stmt.target.id, self.binary(stmt, name, symbol, left, self.expr(stmt.value),
                                                  (stmt.target, stmt.value)), stmt)
        elif kind is ast.Expr:
            self.last_value = self.expr(stmt.value)
        elif kind is ast.For:
            self.loop(stmt)
        elif kind is ast.If:
            return self.branch(stmt)
        elif kind is ast.FunctionDef:
            self.functions[stmt.name] = stmt
        elif kind is ast.Return:
            value = stmt.value
            return Returned(tuple(self.expr(e) for e in value.elts) if type(value) is ast.Tuple else self.expr(value))
        return None

    def assign(self, stmt) -> None:
        target = stmt.targets[0]
        if type(target) is ast.Subscript:  # a claim (only ``evaluate``'s texts have them): its value
            self.last_value = self.value(self.expr(stmt.value), stmt.value)
            return
        if stmt in self.program.input_set:
            value = self.inputs[target.id] = self.domain.input(stmt.value, target.id, lambda: self.expr(stmt.value))
            self.env[target.id] = value
            return
        value = self.expr(stmt.value)
        if type(target) is ast.Tuple:
            if type(value) is not tuple or len(value) != len(target.elts):
                got = f"{len(value)} values" if type(value) is tuple else "one value"
                raise self.error(stmt.value, f"this gives {got}, not {len(target.elts)}; unpacking works for what a "
                                             "function of the program returns, like a, b = f(x)")
            for name, item in zip(target.elts, value):
                self.bind(name.id, item, name)
            return
        if type(value) is tuple:
            raise self.error(stmt.value, f"this gives {len(value)} values: unpack them, like a, b = f(x)")
        self.bind(target.id, value, stmt.value)

    def bind(self, name: str, value, node) -> None:
        self.env[name] = value if type(value) is int else self.domain.named(node, name, value)

    def loop(self, stmt) -> None:
        bounds = [self.whole(arg, "range() needs whole numbers: written out, loop counters or names bound to "
                                  "whole numbers (not values)") for arg in stmt.iter.args]
        if len(bounds) == 3 and bounds[2] == 0:
            raise self.error(stmt.iter, "range() cannot step by 0")
        counters = range(*bounds)
        count, most = len(counters), self.limits.max_iterations
        if self.iterations + count > most:
            ran = f" ({self.iterations:,} have run before it)" if self.iterations else ""
            raise self.error(stmt.iter, f"this loop runs {count:,} times{ran}; a program may run {most:,} loop "
                                        "iterations in all")
        self.iterations += count
        var, outer = stmt.target.id, self.scope
        try:
            for counter in counters:
                self.env[var] = counter
                self.enter(outer + (self.frame("loop", f"for {var} = {counter} (line {stmt.lineno})",
                                               stmt.lineno, var, counter),))
                try:
                    self.block(stmt.body)
                except ExpressionError as exc:
                    raise in_context(exc, M.iteration(var, counter, stmt.lineno)) from None
        finally:
            self.enter(outer)

    def branch(self, stmt):
        truth = self.condition(stmt.test)
        if truth is UNKNOWN:
            return self.both_branches(stmt)
        return self.block(stmt.body if truth else stmt.orelse)

    def both_branches(self, stmt):
        """The abstract run of an if whose condition depends on values: both branches, joined."""
        line, env = stmt.lineno, self.env
        before, counters = dict(env), self.domain.snapshot()
        results = []
        for body, case in ((stmt.body, "holds"), (stmt.orelse, "does not hold")):
            env.clear()
            env.update(before)
            self.domain.restore(counters)
            try:
                results.append((self.block(body), dict(env), self.domain.snapshot()))
            except ExpressionError as exc:
                raise in_context(exc, f"if the condition on line {line} {case}") from None
        (first, env_1, counters_1), (second, env_2, counters_2) = results
        self.domain.restore(tuple(map(max, counters_1, counters_2)))
        env.clear()
        env.update({name: self.join(stmt, name, env_1.get(name, Unbound(line)), env_2.get(name, Unbound(line)))
                    for name in env_1.keys() | env_2.keys()})
        if first is None or second is None:
            return None
        return Returned(self.join(stmt, "the returned value", first.value, second.value))

    def join(self, stmt, name: str, a, b):
        if a is b or a == b and type(a) is type(b) is int:
            return a
        if type(a) is Unbound or type(b) is Unbound:
            return Unbound(stmt.lineno)
        if type(a) is tuple and type(b) is tuple and len(a) == len(b):
            return tuple(self.join(stmt, name, x, y) for x, y in zip(a, b))
        shapes = [() if type(v) is int else self.domain.shape(v) for v in (a, b)]
        if shapes[0] != shapes[1]:
            raise self.error(stmt, f"{name} has shape {shapes[0]} if the condition on line {stmt.lineno} holds and "
                                   f"{shapes[1]} if not; a name keeps its shape whichever way an if goes")
        # A whole number known only to the concrete run is a number here: no count, no index.
        return Shaped(shapes[0], all(type(v) is int or v.constant for v in (a, b)))

    # ---- conditions ----------------------------------------------------------------------------

    def condition(self, node):
        """True, False, or (abstract run, values compared) UNKNOWN."""
        kind = type(node)
        if kind is ast.BoolOp:
            decisive = type(node.op) is ast.Or  # or: the first True decides; and: the first False
            result = not decisive
            for value in node.values:
                truth = self.condition(value)
                if truth is decisive:
                    return truth
                if truth is UNKNOWN:
                    result = UNKNOWN
            return result
        if kind is ast.UnaryOp:
            truth = self.condition(node.operand)
            return truth if truth is UNKNOWN else not truth
        result, left = True, self.expr(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.expr(right_node)
            symbol = M.COMPARISONS[type(op)]
            if type(left) is int and type(right) is int:
                truth = M.COMPARE[symbol](left, right)
            else:
                truth = self.domain.compare(node, symbol, self.value(left, node.left), self.value(right, right_node))
            if truth is False:
                return False
            if truth is UNKNOWN:
                result = UNKNOWN
            left = right
        return result

    # ---- expressions ---------------------------------------------------------------------------

    def expr(self, node):
        self.step(node)
        rule = _EXPRESSIONS.get(type(node))
        if rule is None:  # a tuple where an array is expected, like f((a, b))
            kind = type(node).__name__
            raise self.error(node, M.REFUSED.get(kind, f"{kind} expressions are not allowed"))
        return rule(self, node)

    def constant(self, node):
        if type(node.value) is int:
            return node.value
        return self.domain.literal(node, np.float64(number(node, self.error)))

    def lookup(self, node):
        name = node.id
        value = self.env.get(name, _MISSING)
        if value is _MISSING and self.env is not self.globals and name not in self.local_names:
            value = self.globals.get(name, _MISSING)
        if type(value) is Unbound and value.failed:
            raise self.error(node, f"{name} has no value: line {value.line}, which binds it, failed")
        if type(value) is Unbound:
            raise self.error(node, f"{name} is bound in one branch only of the if on line {value.line} (which one runs "
                                   "depends on values); bind it before the if, or in both branches")
        if value is not _MISSING:
            return value
        if name in CONSTANTS:
            return self.domain.literal(node, CONSTANTS[name])
        if name in FUNCTIONS or name in CONSTRUCTOR_NAMES or name in self.program.defs or name in self.name_functions:
            raise self.error(node, f"'{name}' is a function; call it, like {name}(x)")
        if self.env is not self.globals:
            raise self.error(node, f"'{name}' is used before it is bound")
        if name in self.program.targets:
            raise self.error(node, f"'{name}' is used before it is bound (on line {self.program.targets[name]})")
        known = [n for n in self.globals if type(self.globals[n]) is not Unbound] + list(CONSTANTS)
        raise self.error(node, f"unknown name '{name}'{M.suggest(name, known)}")

    def unary(self, node):
        operand = self.expr(node.operand)
        if type(node.op) is ast.UAdd:
            return operand
        if type(operand) is int:
            return -operand
        return self.apply(node, ENGINE_FUNCTIONS["negative"], [operand], {}, (node.operand,), "unary -")

    def binop(self, node):
        name, symbol = M.BINARY[type(node.op)]
        left, right = self.expr(node.left), self.expr(node.right)
        return self.binary(node, name, symbol, left, right, (node.left, node.right))

    def binary(self, node, name: str, symbol: str, left, right, operand_nodes):
        if type(left) is int and type(right) is int and name in _WHOLE_OPS and (name != "power" or right >= 0):
            if name == "mod" and right == 0:
                raise self.error(node, "a modulo by zero")
            if name == "power" and abs(left) > 1 and right > 64:
                raise self.error(node, "this whole number is too large")
            return self.checked_whole(node, _WHOLE_OPS[name](left, right))
        return self.apply(node, ENGINE_FUNCTIONS[name], [left, right], {}, operand_nodes, symbol)

    def checked_whole(self, node, value: int) -> int:
        if abs(value) > _MAX_WHOLE:
            raise self.error(node, f"this whole number is too large (the limit is 2**53 = {_MAX_WHOLE:,})")
        return value

    def transpose(self, node):
        return self.apply(node, ENGINE_FUNCTIONS["transpose"], [self.expr(node.value)], {}, (node.value,), ".T")

    def subscript(self, node):
        value = self.expr(node.value)
        parts = node.slice.elts if type(node.slice) is ast.Tuple else [node.slice]
        index = tuple(slice(*(None if p is None else self.whole(p, M.INDEX)
                              for p in (part.lower, part.upper, part.step)))
                      if type(part) is ast.Slice else self.whole(part, M.INDEX) for part in parts)
        index = index if type(node.slice) is ast.Tuple else index[0]
        return self.apply(node, ENGINE_FUNCTIONS["getitem"], [value], {"index": index}, (node.value,), "[ ]")

    def whole(self, node, message: str) -> int:
        value = self.expr(node)
        if type(value) is not int:
            raise self.error(node, message)
        return self.checked_whole(node, value)

    def list_literal(self, node):
        # Read once per run: a long list in a loop would otherwise be read at every iteration.
        value = self.lists.get(node)
        if value is None:
            value = self.lists[node] = list_value(node, self.error)
        return self.domain.literal(node, value)

    def value(self, v, node):
        """An operand as the domain's value: a whole number becomes a constant."""
        if type(v) is int:
            return self.domain.literal(node, np.float64(v))
        if type(v) is tuple:
            raise self.error(node, f"this gives {len(v)} values: unpack them first, like a, b = f(x)")
        return v

    def apply(self, node, public, operands, attrs: dict, operand_nodes, symbol: str):
        values = tuple(self.value(v, n) for v, n in zip(operands, operand_nodes))
        return self.domain.apply(node, public, values, attrs, operand_nodes, symbol)

    # ---- calls ---------------------------------------------------------------------------------

    def call(self, node):
        name = node.func.id
        if name in CONSTRUCTOR_NAMES:
            return self.construct(node)
        if name in self.program.defs:
            return self.call_function(node)
        if name in self.name_functions:
            return self.call_by_names(node)
        if name == "range":
            raise self.error(node, "range(...) counts a for loop's iterations: for i in range(n):")
        if name in M.TUPLE_FUNCTIONS:
            raise self.error(node, M.TUPLE_FUNCTIONS[name])
        public = FUNCTIONS.get(name)
        if public is None:
            raise self.error(node.func, self.unknown_function(name))
        parsed = self.parsed.get(node)
        if parsed is None:  # read once per run, like lists: keyword values can be long lists too
            parsed = self.parsed[node] = self.arguments(node, public)
        operand_nodes, attrs = parsed
        operands = [self.expr(arg) for arg in operand_nodes]
        return self.apply(node, public, operands, attrs, operand_nodes, f"{name}(...)")

    def unknown_function(self, name: str) -> str:
        value = self.globals.get(name)
        if type(value) is Unbound and value.failed:
            return f"{name} has no value: line {value.line}, which binds it, failed"
        if name in self.env or name in self.globals:
            return f"'{name}' is a value, not a function"
        hint = M.suggest(name, list(FUNCTIONS) + list(CONSTRUCTOR_NAMES) + list(self.program.defs)
                         + list(self.name_functions))
        if hint:
            return f"'{name}' is not a function here{hint}"
        total = len(FUNCTIONS) + len(CONSTRUCTOR_NAMES)
        return f"'{name}' is not a function here; available: {', '.join(M.COMMON)}, … ({total} in all)"

    def arguments(self, node, public) -> tuple:
        """(the operands' expressions, the attrs) of a call of an engine function, as its kind of
        call takes them (``core.optable``), with every keyword checked against its attrs."""
        name, args = public.name, list(node.args)
        if public.call == "subscripts":
            first = args[0] if args else None
            if type(first) is not ast.Constant or type(first.value) is not str:
                raise self.error(node, f"{name}() takes its subscripts first, as a string: {name}('ij,jk->ik', A, B)")
            if len(args) < 2 or node.keywords:
                raise self.error(node, f"{name}() takes the subscripts and then one or more arrays, no keywords")
            return args[1:], {"subscripts": first.value}
        if public.call == "sequence":
            if not args or type(args[0]) not in (ast.List, ast.Tuple) or not args[0].elts:
                raise self.error(args[0] if args else node,
                                 f"{name}() takes a list of arrays first, like {name}([a, b])")
            operands, n = list(args[0].elts), 1
        else:
            operands, n = args[:len(public.operands)], len(public.operands)
        if not n <= len(args) <= n + len(public.attrs):
            count = len(public.operands)
            takes = f"{name}() takes {count} argument{'s' if count != 1 else ''} ({', '.join(public.operands)})"
            optional = f" and optionally {', '.join(public.attrs)}" if public.attrs else ""
            raise self.error(node, f"{takes}{optional}; got {len(args)}")
        try:
            attrs = {key: attr_value(arg, self.error) for key, arg in zip(public.attrs, args[n:])}
        except ExpressionError as exc:
            if name not in ("max", "min"):
                raise
            raise self.error(args[n], f"{name}(x) reduces one array; for the elementwise {name}imum of two, "
                                      f"write {name}imum(a, b)") from exc
        for kw in node.keywords:
            if kw.arg not in public.attrs:
                takes = f"it takes {', '.join(public.attrs)}" if public.attrs else "it takes none"
                raise self.error(kw.value, f"{name}() has no keyword '{kw.arg}'; {takes}")
            if kw.arg in attrs:
                raise self.error(kw.value, f"{name}() got {kw.arg} twice")
            attrs[kw.arg] = attr_value(kw.value, self.error)
        return operands, attrs

    def construct(self, node):
        name, args, limits = node.func.id, list(node.args), self.limits
        if node.keywords:
            raise self.error(node, f"{name}() takes no keywords: write {name}(3, 2)")
        fill = None
        if name == "full":
            if not args:
                raise self.error(node, "full(*shape, value) needs at least the value, like full(3, 2, 0.5)")
            fill = number(args.pop(), self.error, "the last argument of full(*shape, value) is the value, a number")
        if len(args) == 1 and type(args[0]) is ast.Tuple:
            args = args[0].elts
        dims = []
        for arg in args:
            n = self.whole(arg, f"the sizes given to {name}() must be whole numbers written out, like {name}(3, 2)")
            if n < 1:
                raise self.error(arg, f"sizes must be at least 1, not {n}")
            dims.append(n)
        if name in ("eye", "spd"):
            if len(dims) != 1:
                raise self.error(node, f"{name}(n) takes one size, like {name}(3)")
            dims *= 2
        if len(dims) > limits.max_dims:
            raise self.error(node, f"{name}() makes at most {limits.max_dims} axes")
        count = int(np.prod(dims, dtype=object)) if dims else 1
        if count > limits.max_elements:
            raise self.error(node, f"{name}() would make {count:,} numbers; the limit is {limits.max_elements:,} "
                                   "per array")
        return self.domain.construct(node, name, tuple(dims), fill)

    def call_by_names(self, node):
        """A call of one of the caller's name functions: its arguments are names, not values."""
        name = node.func.id
        if node.keywords or not node.args or any(type(arg) is not ast.Name for arg in node.args):
            raise self.error(node, f"{name}(...) takes names written out, like {name}(loss, h)")

        def error(index, message: str) -> ExpressionError:
            return self.error(node if index is None else node.args[index], message)

        value = self.name_functions[name](tuple(arg.id for arg in node.args), error)
        return self.domain.given(node, value)

    def call_function(self, node):
        name = node.func.id
        fn = self.functions.get(name)
        if fn is None:
            line = self.program.defs[name].lineno
            raise self.error(node.func, f"{name} is used before it is defined (on line {line})")
        params = [a.arg for a in fn.args.args]
        if node.keywords or len(node.args) != len(params):
            raise self.error(node, f"{name}() takes {len(params)} argument{'s' if len(params) != 1 else ''} "
                                   f"({', '.join(params)}), in order; got {len(node.args) + len(node.keywords)}")
        args = [self.expr(arg) for arg in node.args]
        if sum(frame.kind == "call" for frame in self.scope) >= self.limits.max_call_depth:
            raise self.error(node, f"functions call each other more than {self.limits.max_call_depth} deep here")
        number_ = self.calls[name] = self.calls.get(name, 0) + 1
        label = source(self.program.lines, node)
        saved = self.env, self.local_names, self.scope
        if name not in self.local_sets:
            self.local_sets[name] = frozenset(params + [n.id for s in fn.body for n in bound_names(s, True)])
        self.env, self.local_names = dict(zip(params, args)), self.local_sets[name]
        self.enter(self.scope + (self.frame("call", label, node.lineno, name, number_),))
        try:
            return self.block(fn.body).value
        except ExpressionError as exc:
            raise in_context(exc, M.call(label, number_, node.lineno)) from None
        except RecursionError:  # Python's own stack, from a deep caller: said here, not at line 1
            raise self.error(node, "calls and expressions are nested too deeply here to evaluate") from None
        finally:
            self.env, self.local_names = saved[:2]
            self.enter(saved[2])


_EXPRESSIONS = {
    ast.Constant: Interpreter.constant, ast.Name: Interpreter.lookup, ast.UnaryOp: Interpreter.unary,
    ast.BinOp: Interpreter.binop, ast.Attribute: Interpreter.transpose, ast.Subscript: Interpreter.subscript,
    ast.List: Interpreter.list_literal, ast.Call: Interpreter.call,
}

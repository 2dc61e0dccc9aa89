r"""A student's own derivation checked against the backward pass, node by node ("my gradient"),
and answers to "what will this step send?" (predict, then reveal).

**Claims.** The student writes, in the program language::

    dP = 2 * (P - Y) / 16                 # helper bindings: any names of their own
    grad(loss, P) = dP                    # a claim: grad(OUT, NAME) = expression
    grad(loss, W1) = X.T @ (grad(loss, H1) * (1 - H1 ** 2))

``check_claims(trace, text)`` evaluates each claim at the trace's values and compares it with the
engine's accumulated gradient of that node. In the text:

* a program name means its value in the trace: the value of the **last** node the program bound
  to that name (``h`` after ``for t in range(3): h = ...`` is ``h (t=2)``; an earlier iterate
  cannot be named: bind it to a name of its own outside the loop). The program's output name means
  the output, also when it is another name for a node (``root = x``). Counts and loop counters are
  not values (write the number).
* ``grad(OUT, NAME)`` is the engine's (final) gradient of that node, so a derivation can start from
  the step before, as one does by hand. OUT is the program's output name; NAME any node the
  program named (an input, a named intermediate, a named constant).
* A claim may only use gradients that are final **before** its own node's is (nodes nearer the
  output), directly or through helper names: ``grad(loss, W1) = grad(loss, W1)`` would be right by
  construction, and working back from a gradient computed later is not a derivation.
* The claim's value must have the node's shape (``shape`` otherwise); then it is ``right`` when
  every entry passes the checker's one tolerance law (``core.gradcheck.allowed``) with the output's
  value as ``|f|``::

      |yours − engine| ≤ 1e-7 · max(1, |f|) + 1e-5 · max(|yours|, |engine|)

The text goes through the language's ``evaluate``: the same whitelist, limits (``ANSWER_LIMITS``),
time budget and located errors as programs, with the claim's line and column. A claim that fails
gets status ``error`` with its located error; the others are still checked. The report orders the
claims as the backward pass reaches their nodes and names the first wrong one: a later claim is
often wrong only because it builds on it.

**Predictions.** ``check_prediction(trace, t, position, answer)`` compares an answer — a number, a
list (an array) or an expression, in the same environment — with the contribution backward step
``t`` sends along its edge ``position``. An answer may use ``grad(OUT, NAME)`` only for nodes whose
gradient is final before that step, and ``gbar``, the gradient ḡ of the node the step processes
(known before the step; the page shows it): so what an answer may refer to never gives it away,
and an answer can be the rule itself (``H1.T @ gbar``) rather than its numbers.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from . import gradcheck
from .errors import AutodiffError, ExpressionError
from .language import ANSWER_LIMITS, Limits, evaluate, read, split_lines
from .language.messages import suggest
from .trace import Trace

RIGHT, WRONG, SHAPE, ERROR = "right", "wrong", "shape", "error"
STATUSES = (RIGHT, WRONG, SHAPE, ERROR)
HEAD = "grad"  # claims are grad(OUT, NAME) = expression; grad(OUT, NAME) in an expression is the engine's
UPSTREAM = "gbar"  # in an answer: ḡ of the node the step processes (unless the program binds this name)
MAX_LISTED = 20  # entries that differ, listed (the worst first); Comparison.differing_count has them all
_SEVERITY = MappingProxyType({RIGHT: 0, ERROR: 1, WRONG: 2, SHAPE: 2})  # the mark a node with several claims gets
_MOST_NAMED = 8  # of the gradients an answer may use, named in a refusal


# ---- the comparison --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tolerance:
    """The checker's tolerance law as applied: ``|yours − engine| ≤ atol_used + rtol · max(|yours|,
    |engine|)`` entrywise, with ``atol_used = atol · max(1, |output_value|)``."""

    rtol: float
    atol: float
    output_value: float
    atol_used: float

    def __str__(self) -> str:
        return (f"|yours − engine| ≤ {self.atol:g}·max(1, |f|) + {self.rtol:g}·max(|yours|, |engine|), "
                f"with |f| = {abs(self.output_value):.4g}")


def tolerance_for(trace: Trace) -> Tolerance:
    """The tolerance of every comparison on this trace: the checker's, with the output's value."""
    output_value = float(np.reshape(trace.nodes[trace.output].value, -1)[0])
    return Tolerance(gradcheck.RTOL, gradcheck.ATOL, output_value, gradcheck.ATOL * max(1.0, abs(output_value)))


class Entry(NamedTuple):
    """One entry where yours and the engine's differ by more than allowed."""

    index: tuple  # () for a scalar
    yours: float
    engine: float
    difference: float  # yours − engine
    allowed: float


@dataclass(frozen=True, eq=False)
class Comparison:
    """A value the student wrote against the engine's. ``difference`` (yours − engine) and
    ``allowed`` have the node's shape, or are None when the shapes differ (``status == SHAPE``)."""

    status: str  # RIGHT, WRONG or SHAPE
    message: str  # one sentence: what differs, where, by how much
    yours: np.ndarray
    engine: np.ndarray
    difference: np.ndarray | None
    allowed: np.ndarray | None  # the tolerance law, entrywise
    differing: tuple  # Entry per entry outside the tolerance, worst first, at most MAX_LISTED
    differing_count: int
    max_abs_difference: float  # NaN when the shapes differ
    tolerance: Tolerance


def compare(yours, engine, tolerance: Tolerance, *, what: str = "gradient", title: str = "the node") -> Comparison:
    """Compare a student's value with the engine's by the checker's tolerance law (``what`` names
    the engine's value in the message: "gradient", "contribution")."""
    yours, engine = np.asarray(yours, dtype=np.float64), np.asarray(engine, dtype=np.float64)
    if yours.shape != engine.shape:
        message = f"you wrote {_a(yours.shape)} {what} for {title}, {_a(engine.shape)} node"
        if yours.ndim == engine.ndim == 2 and yours.shape == engine.shape[::-1]:
            message += f" (transposed? a {what} has the shape of its node)"
        elif yours.size == engine.size:
            message += f" (the same number of entries, but a {what} has the shape of its node)"
        return Comparison(SHAPE, message, yours, engine, None, None, (), 0, math.nan, tolerance)
    allowed = gradcheck.allowed(engine, yours, tolerance.output_value, tolerance.rtol, tolerance.atol)
    allowed = np.broadcast_to(allowed, engine.shape)
    difference = yours - engine
    size = np.abs(difference)
    outside = ~(size <= allowed)  # NaN is outside
    count = int(np.count_nonzero(outside))
    worst = np.where(outside, np.nan_to_num(size, nan=np.inf), -1.0).ravel()
    listed = [int(i) for i in np.argsort(-worst, kind="stable")[:min(count, MAX_LISTED)]]
    differing = tuple(Entry(tuple(int(i) for i in np.unravel_index(flat, engine.shape)), float(yours.flat[flat]),
                            float(engine.flat[flat]), float(difference.flat[flat]), float(allowed.flat[flat]))
                      for flat in listed)
    largest = float(np.max(size)) if size.size else 0.0
    status = RIGHT if count == 0 else WRONG
    return Comparison(status, _verdict(status, differing, count, engine, largest, what), yours, engine,
                      difference, allowed, differing, count, largest, tolerance)


def _verdict(status: str, differing: tuple, count: int, engine: np.ndarray, largest: float, what: str) -> str:
    if status == RIGHT:
        entries = "" if engine.ndim == 0 else f" in all {engine.size} entries"
        return f"it matches the engine's {what}{entries} (largest difference {largest:.2g})"
    worst = differing[0]
    if engine.ndim == 0:
        return f"you wrote {_number(worst.yours)}; the engine's {what} is {_number(worst.engine)}"
    where = ", ".join(map(str, worst.index))
    return (f"{count} of {engine.size} entries differ from the engine's {what}; the largest difference is "
            f"{_number(abs(worst.difference))}, at [{where}] (yours {_number(worst.yours)}, the engine's "
            f"{_number(worst.engine)})")


def _number(x: float) -> str:
    return f"{x + 0.0:.4g}"


def _a(shape: tuple) -> str:
    """'a scalar', 'a length-3', 'a 4×8', 'an 8×4', 'an 11×2': a shape with its article."""
    if not shape:
        return "a scalar"
    words = f"length-{shape[0]}" if len(shape) == 1 else "×".join(map(str, shape))
    vowel_sound = words.startswith("8") or len(shape) > 1 and shape[0] in (11, 18)  # an eight, an eleven
    return f"{'an' if vowel_sound else 'a'} {words}"


# ---- what a text may name ------------------------------------------------------------------------------


class _Names:
    """What a claim or an answer may name in a trace: the program's names (the last node bound to
    each), the output's name, and the engine's gradient of each node."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.nodes: dict = {}
        for node in trace.nodes:  # in the order the program made them: the last binding wins
            if node.name:
                self.nodes[node.name] = node.id
        program = None
        if trace.program is not None:
            try:
                program = read(trace.program)
            except AutodiffError:  # a trace run with larger limits than the defaults: names only
                program = None
        self.targets = dict(program.targets) if program is not None else {}
        output = trace.nodes[trace.output]
        self.output_name = program.output_name if program is not None else output.name
        if self.output_name:
            self.nodes[self.output_name] = trace.output
        self.nodes.pop(HEAD, None)  # a program may call a value grad; here grad(...) is the engine's
        self.values = MappingProxyType({name: trace.nodes[i].value for name, i in self.nodes.items()})
        self._known = None

    def error_if_unusable(self) -> AutodiffError | None:
        """Why nothing can be checked on this trace, or None."""
        if not self.trace.backward_steps:
            why = ("its output is not a single number: make it a scalar, like sum(...)" if self.trace.note else
                   "it computes nothing from its inputs")
            return AutodiffError(f"this program has no backward pass, so there are no gradients to compare with: {why}")
        if not self.output_name:
            return AutodiffError("the program's output has no name: end it with an assignment, like loss = ..., "
                                 "to write claims about it")
        return None

    def output(self, name: str, error) -> None:
        if not self.output_name:
            raise error("the program's output has no name: end the program with an assignment, like loss = ...")
        if name != self.output_name:
            raise error(f"the gradients here are of the program's output, {self.output_name}: write "
                        f"{HEAD}({self.output_name}, ...)")

    def node(self, name: str, error) -> int:
        node = self.nodes.get(name)
        if node is not None:
            return node
        line = self.targets.get(name)
        if line is not None:
            raise error(f"'{name}' (line {line} of the program) names no node of the graph of {self.output_name}: "
                        f"{self.output_name} does not depend on it, or it is a count or a loop counter, or another "
                        "name for a node named before (y = x makes no new node)")
        raise error(f"the program has no node named '{name}'{suggest(name, list(self.nodes))}")

    def gradient(self, node: int, error) -> np.ndarray:
        value = self.trace.grad_at(node, self.trace.t_end)
        if value is None or self.trace.final_at(node) is None:
            raise error(f"{self.trace.title(node)} needs no gradient: it is a constant (nothing the output's "
                        "gradient flows into)")
        return np.asarray(value, dtype=np.float64)

    def grad_function(self, before: int | None = None):
        """``grad(OUT, NAME)`` for ``evaluate``: the engine's gradient of the node, refused (when
        ``before`` is given) for a node whose gradient is not final before backward step ``before``."""

        def grad(names: tuple, error):
            if len(names) != 2:
                raise error(None, f"{HEAD}(...) names two nodes, the output and another: {HEAD}({self.output_name}, h)")
            self.output(names[0], lambda message: error(0, message))
            node = self.node(names[1], lambda message: error(1, message))
            value = self.gradient(node, lambda message: error(1, message))
            if before is not None and self.trace.final_at(node) >= before:
                usable = self.known_before(before)
                known = ", ".join(usable[:_MOST_NAMED]) + (", …" if len(usable) > _MOST_NAMED else "")
                raise error(1, f"{self.trace.title(node)}'s gradient is not known yet: it is final only after backward "
                               f"step {self.trace.final_at(node)}; an answer here may use the gradients of {known}")
            return value

        return grad

    def known_before(self, step: int) -> tuple:
        """The names whose gradient is final before backward step ``step``, nearest the output first."""
        if self._known is None:  # (the step it is final at, name), sorted: read once for a whole pass
            finals = ((self.trace.final_at(node), name) for name, node in self.nodes.items())
            self._known = sorted((k, name) for k, name in finals if k is not None)
        return tuple(name for _, name in self._known[:bisect.bisect_left(self._known, (step,))])

    def backward_order(self, node: int) -> tuple:
        """Where the backward pass reaches a node: the step that processes it; for an input or a
        named constant (never processed), just after the step that completes its gradient."""
        processed = self.trace.processed_at(node)
        if processed is not None:
            return (processed, 0, 0)
        final = self.trace.final_at(node)
        if final is None:
            return (math.inf, 0, 0)
        last = self.trace.received(node, self.trace.t_end)[-1][1]
        return (final, 1, last.position)


def _located(written, message: str) -> ExpressionError:
    return ExpressionError(message, written.line, written.col, written.end_col)


# ---- claims ------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ClaimResult:
    """One claim ``grad(OUT, NAME) = expression``, checked."""

    text: str  # the claim as written (its lines, stripped)
    line: int
    col: int
    end_line: int
    name: str | None  # NAME as written (None if the claim does not name two nodes)
    node: int | None  # the node's id, once NAME is known
    title: str | None  # the node as the graph titles it (trace.title): "h (t=2)"
    status: str  # RIGHT, WRONG, SHAPE or ERROR
    message: str  # one sentence
    comparison: Comparison | None  # None for ERROR
    error: ExpressionError | None  # located in the claims text, for ERROR
    final_at: int | None  # the backward step after which the node's gradient is final (0: the output)


@dataclass(frozen=True, eq=False)
class ClaimsReport:
    """Every claim of a text, checked, in backward order, and what to say about them."""

    claims: tuple  # ClaimResult, as the backward pass reaches their nodes (then claims naming no node, as written)
    first_wrong: ClaimResult | None  # the first WRONG or SHAPE claim in that order
    verdict: str  # "Your derivation first goes wrong at H1: ...", "All 4 claims are right ...", ...
    summary: str  # "3 of 4 right", "3 of 4 right, 1 could not be checked"
    problems: tuple  # ExpressionError of every other line that failed or is not a claim (helpers), as written
    error: AutodiffError | None  # the whole text refused (syntax, limits) or the trace unusable: nothing checked
    tolerance: Tolerance | None
    output_name: str | None

    @property
    def right(self) -> int:
        return sum(c.status == RIGHT for c in self.claims)

    @property
    def all_right(self) -> bool:
        return self.error is None and not self.problems and bool(self.claims) and self.right == len(self.claims)

    @property
    def marks(self) -> MappingProxyType:
        """node id -> the status to draw on it (a node with several claims: the worst of them)."""
        marks = {}
        for claim in self.claims:
            if claim.node is not None and (claim.node not in marks or
                                           _SEVERITY[claim.status] > _SEVERITY[marks[claim.node]]):
                marks[claim.node] = claim.status
        return MappingProxyType(marks)


def check_claims(trace: Trace, text: str, *, seed: int | None = None, limits: Limits = ANSWER_LIMITS) -> ClaimsReport:
    """Check a student's claims about the gradients of ``trace`` (see the module's docstring).

    ``seed`` draws the text's own random constructors (default: the trace's). Whatever the text,
    this returns a report; only a trace or limits of the wrong kind raise (``AutodiffError``)."""
    if not isinstance(trace, Trace):
        raise AutodiffError(f"claims are checked on a Trace, not {type(trace).__name__}")
    names = _Names(trace)
    unusable = names.error_if_unusable()
    if unusable is not None:
        return _refused(unusable, names.output_name)
    tolerance = tolerance_for(trace)
    try:
        statements = evaluate(text, names.values, name_functions={HEAD: names.grad_function()}, claim_heads=(HEAD,),
                              seed=(trace.seed or 0) if seed is None else seed, limits=limits)
    except ExpressionError as exc:
        return _refused(exc, names.output_name, tolerance)
    lines = split_lines(text)
    uses = _gradients_used(statements)
    results, problems = [], []
    for statement, used in zip(statements, uses):
        if statement.kind == "claim":
            results.append(_claim(trace, names, tolerance, statement, used, lines))
        elif statement.error is not None:
            problems.append(statement.error)
        elif statement.kind == "expression":
            problems.append(ExpressionError(f"this line is not a claim: write {HEAD}({names.output_name}, NAME) = "
                                            "expression, or bind it to a name of your own", statement.line,
                                            statement.col))
    # As the backward pass reaches their nodes; claims naming no node last; ties as written.
    ordered = sorted(enumerate(results), key=lambda item: (
        names.backward_order(item[1].node) if item[1].node is not None else (math.inf, 0, 0), item[0]))
    return _report(tuple(r for _, r in ordered), tuple(problems), tolerance, names.output_name)


def _refused(error: AutodiffError, output_name, tolerance=None) -> ClaimsReport:
    where = f"line {error.line}: " if isinstance(error, ExpressionError) and error.line else ""
    return ClaimsReport((), None, f"Nothing was checked: {where}{error.message}", "nothing checked", (), error,
                        tolerance, output_name)


def _gradients_used(statements: tuple) -> list:
    """Per statement, the ``grad(...)`` calls its value depends on: its own, and (through the names
    it reads) those of the statements that last bound those names before it, each with the helper
    name it came through (None for its own)."""
    latest, uses = {}, []
    for index, statement in enumerate(statements):
        used = {(call, None) for call in statement.calls if call.function == HEAD}
        for name in statement.reads:
            source = latest.get(name)
            if source is not None:
                used |= {(call, through or name) for call, through in uses[source]}
        uses.append(used)
        for name in statement.binds:
            latest[name] = index
    return uses


def _claim(trace: Trace, names: _Names, tolerance: Tolerance, statement, used: set, lines: tuple) -> ClaimResult:
    text = " ".join(line.strip() for line in lines[statement.line - 1:statement.end_line])
    where = (text, statement.line, statement.col, statement.end_line)
    arguments = statement.arguments

    def failed(error: ExpressionError, name=None, node=None) -> ClaimResult:
        title = trace.title(node) if node is not None else None
        final = trace.final_at(node) if node is not None else None
        return ClaimResult(*where, name, node, title, ERROR, error.message, None, error, final)

    if statement.refused:  # the whitelist's word comes first; the node is marked if the claim names one
        known = len(arguments) == 2 and arguments[0].text == names.output_name and arguments[1].text in names.nodes
        node = names.nodes[arguments[1].text] if known else None
        return failed(statement.error, arguments[1].text if known else None, node)
    if len(arguments) != 2:
        return failed(ExpressionError(f"a claim names two nodes, the output and another: {HEAD}({names.output_name}, "
                                      "h) = ...", statement.line, statement.col))
    out, name = arguments
    try:
        names.output(out.text, lambda message: _located(out, message))
        node = names.node(name.text, lambda message: _located(name, message))
    except ExpressionError as exc:
        return failed(exc, name.text)
    try:
        engine = names.gradient(node, lambda message: _located(name, message))
    except ExpressionError as exc:
        return failed(exc, name.text, node)
    if statement.error is not None:
        return failed(statement.error, name.text, node)
    circular = _circular(trace, names, node, used)
    if circular is not None:
        return failed(circular, name.text, node)
    comparison = compare(statement.value, engine, tolerance, title=trace.title(node))
    return ClaimResult(*where, name.text, node, trace.title(node), comparison.status, comparison.message, comparison,
                       None, trace.final_at(node))


def _circular(trace: Trace, names: _Names, node: int, used: set) -> ExpressionError | None:
    """Why the claim about ``node`` may not use one of the gradients it uses, or None: each must be
    final before the node's own (nearer the output)."""
    mine = trace.final_at(node)
    for call, through in sorted(used, key=lambda u: (u[0].line, u[0].col)):
        other = names.nodes.get(call.names[1]) if len(call.names) == 2 else None
        final = trace.final_at(other) if other is not None else None
        if final is None or final < mine:  # fine, or refused where it is called
            continue
        via = f" (through {through})" if through else ""
        if other == node:
            message = (f"this claim uses {HEAD}({names.output_name}, {call.names[1]}){via}, the very gradient it "
                       "claims, so it would be right whatever the derivation: derive it from the gradients of nodes "
                       "nearer the output")
        else:
            message = (f"this claim about {trace.title(node)} uses the gradient of {trace.title(other)}{via}, which "
                       f"is final only after {trace.title(node)}'s (after backward step {final}, not before step "
                       f"{mine}): a derivation works back from the output, so use the gradients of nodes nearer it")
        return ExpressionError(message, call.line, call.col, call.end_col)
    return None


def _report(claims: tuple, problems: tuple, tolerance: Tolerance, output_name: str) -> ClaimsReport:
    wrong = [c for c in claims if c.status in (WRONG, SHAPE)]
    errors = sum(c.status == ERROR for c in claims)
    right = sum(c.status == RIGHT for c in claims)
    summary = f"{right} of {len(claims)} right" + (f", {errors} could not be checked" if errors else "")
    first = wrong[0] if wrong else None
    if not claims:
        verdict = f"No claims yet: write one like {HEAD}({output_name}, x) = ..., one per line."
        summary = "no claims"
    elif first is not None:
        later = len(wrong) - 1
        verdict = f"Your derivation first goes wrong at {first.title}: {first.message}." + (
            f" {later} later claim{'s are' if later > 1 else ' is'} wrong too, perhaps because of it." if later else "")
    elif errors:
        verdict = f"The claims checked are right; {errors} could not be checked."
    else:
        verdict = (f"All {len(claims)} claims are right: your derivation matches the backward pass."
                   if len(claims) > 1 else "Your claim is right: it matches the backward pass.")
    return ClaimsReport(claims, first, verdict, summary, problems, None, tolerance, output_name)


# ---- predictions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prompt:
    """One question of predict-then-reveal: what backward step ``t`` will send along one edge."""

    t: int  # the step's position on the timeline (the page shows t − 1 and asks)
    step: int  # k = t − F, the backward step
    node: int  # the node the step processes
    node_title: str
    position: int  # which argument of the node the parent is (Contribution.position)
    parent: int
    parent_title: str
    shape: tuple  # of the answer: the parent's shape
    question: str  # "What does x receive from × #2?"
    may_use: tuple  # the names whose grad(OUT, NAME) an answer may use, nearest the output first
    upstream: str | None  # the name of the step's ḡ in an answer ("gbar"), None if the program took it


@dataclass(frozen=True, eq=False)
class PredictionResult:
    """An answer to a Prompt, marked."""

    t: int
    step: int
    node: int
    node_title: str
    position: int
    parent: int
    parent_title: str
    answer: str
    status: str  # RIGHT, WRONG, SHAPE or ERROR
    message: str
    revealed: np.ndarray  # the engine's contribution along this edge
    comparison: Comparison | None  # None for ERROR
    error: ExpressionError | None  # located in the answer's text, for ERROR


@dataclass(frozen=True)
class Score:
    """A running score over a pass: answers marked right, of answers marked (errors don't count)."""

    right: int = 0
    answered: int = 0

    def add(self, result: PredictionResult) -> Score:
        if result.status == ERROR:
            return self
        return Score(self.right + (result.status == RIGHT), self.answered + 1)

    def __str__(self) -> str:
        return f"{self.right} of {self.answered} right"


def _step_of(trace: Trace, t) -> int:
    if isinstance(t, bool) or not isinstance(t, int | np.integer) or not trace.t_forward_end < t <= trace.t_end:
        raise AutodiffError(f"t = {t!r} is not a backward step: they are t = {trace.t_forward_end + 1} … {trace.t_end}")
    return int(t) - trace.t_forward_end


def prediction_prompts(trace: Trace, t: int) -> tuple:
    """The questions for backward step ``t``: one Prompt per edge it sends along, in order."""
    names = _Names(trace)
    k = _step_of(trace, t)
    return _step_prompts(trace, k, names.known_before(k), None if UPSTREAM in names.values else UPSTREAM)


def pass_prompts(trace: Trace) -> dict:
    """Every backward step's questions, ``{t: (Prompt, ...)}``, as ``prediction_prompts`` gives them,
    with the program's names read once (per step, reading them would make a big pass quadratic)."""
    names = _Names(trace)
    upstream = None if UPSTREAM in names.values else UPSTREAM
    out = {}
    for k in range(1, len(trace.backward_steps) + 1):
        prompts = _step_prompts(trace, k, names.known_before(k), upstream)
        if prompts:
            out[trace.t_forward_end + k] = prompts
    return out


def _step_prompts(trace: Trace, k: int, may_use: tuple, upstream) -> tuple:
    t = trace.t_forward_end + k
    step = trace.backward_steps[k - 1]
    node_title = trace.title(step.node)
    return tuple(Prompt(int(t), k, step.node, node_title, c.position, c.parent, trace.title(c.parent),
                        trace.nodes[c.parent].shape, f"What does {trace.title(c.parent)} receive from {node_title}?",
                        may_use, upstream)
                 for c in step.contributions)


def check_prediction(trace: Trace, t: int, position: int, answer: str, *, seed: int | None = None,
                     limits: Limits = ANSWER_LIMITS) -> PredictionResult:
    """Mark ``answer`` against what backward step ``t`` sends along its edge ``position`` (the
    argument index, as in ``Contribution.position``; ``a + a`` sends along 0 and 1).

    The answer is a text in the language: a number, a list, or an expression of the program's
    names, of ``gbar`` (the ḡ of the node this step processes) and of ``grad(OUT, NAME)`` for nodes
    whose gradient is final before this step; helper lines may come first, the last line is the
    answer. Whatever the answer, this returns a result;
    a ``t`` or ``position`` the trace does not have raises ``AutodiffError``."""
    names = _Names(trace)
    k = _step_of(trace, t)
    step = trace.backward_steps[k - 1]
    sent = [c for c in step.contributions if c.position == position]
    if not sent:
        positions = ", ".join(str(c.position) for c in step.contributions) or "none"
        raise AutodiffError(f"backward step {k} sends nothing along position {position!r}; its positions: {positions}")
    c = sent[0]
    node_title, parent_title = trace.title(step.node), trace.title(c.parent)
    written = answer if isinstance(answer, str) else ""
    made = (int(t), k, step.node, node_title, position, c.parent, parent_title, written)

    def failed(error: ExpressionError) -> PredictionResult:
        return PredictionResult(*made, ERROR, error.message, np.asarray(c.value), None, error)

    values = {UPSTREAM: step.grad, **names.values}  # a program's own gbar wins
    try:
        statements = evaluate(answer, values, name_functions={HEAD: names.grad_function(before=k)},
                              seed=(trace.seed or 0) if seed is None else seed, limits=limits)
    except ExpressionError as exc:
        return failed(exc)
    if not statements:
        return failed(ExpressionError("write an answer: a number, a list like [1.0, -2.0], or an expression like "
                                      f"{HEAD}({names.output_name}, {_name_of(trace, step.node)}) * 2", 1, 1))
    problem = next((s.error for s in statements if s.error is not None), None)
    if problem is not None:
        return failed(problem)
    last = statements[-1]
    if last.kind != "expression":
        return failed(ExpressionError("an answer ends with an expression, whose value is the answer: like 0.5, "
                                      "[1.0, -1.0] or an expression of the program's names", last.line, last.col))
    comparison = compare(last.value, c.value, tolerance_for(trace), what="contribution", title=parent_title)
    return PredictionResult(*made, comparison.status, comparison.message, np.asarray(c.value), comparison, None)


def _name_of(trace: Trace, node: int) -> str:
    return trace.nodes[node].name or "z"

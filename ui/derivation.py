"""A student's own derivation against the pass, for the page: the jobs that check claims and
predictions (``core.claims`` does the checking; these run it in a job worker, within the tools'
time and memory), and what the step view is sent of their results.

No Streamlit here: the job functions run in worker processes (``ui/jobs.py``), and a worker gets
the program's text, not its trace, so it runs the program again (a program the page shows has
already run within the same budget; sending its trace could mean hundreds of megabytes)."""

from __future__ import annotations

from typing import NamedTuple

from core import claims
from core.second_order import program_trace
from core.trace import Trace

MAX_ANSWER_CHARS = claims.ANSWER_LIMITS.max_chars
STATUS_MARKS = {claims.RIGHT: "✓", claims.WRONG: "✗", claims.SHAPE: "✗", claims.ERROR: "?"}


def check_claims_job(program: str, seed: int, text: str) -> claims.ClaimsReport:
    """The claims of ``text`` checked on ``program``'s pass (a job function)."""
    return claims.check_claims(program_trace(program, seed), text, seed=seed)


def check_answers_job(program: str, seed: int, second: str | None, t: int, answers: tuple) -> tuple:
    """Each ``(position, answer)`` marked against what backward step ``t`` sends along that edge
    (a job function). Positions the step does not have raise ``AutodiffError``."""
    trace = program_trace(program, seed, second)
    return tuple(claims.check_prediction(trace, t, position, answer, seed=seed) for position, answer in answers)


# ---- what the step view receives -------------------------------------------------------------------


def prompts(trace: Trace) -> dict:
    """The questions of predict-then-reveal, for every backward step: ``{t: [hint, [[position,
    parent, question, what to type], ...]]}`` (part of the program's payload, so asking costs no
    round trip)."""
    out = {}
    output = trace.nodes[trace.output].name or "out"
    for t, asked in claims.pass_prompts(trace).items():
        gbar = f", {claims.UPSTREAM} (ḡ of {asked[0].node_title})" if asked[0].upstream is not None else ""
        hint = (f"Type a number, an array as a list, or an expression of the program's names{gbar} and "
                f"{claims.HEAD}({output}, NAME) of nodes already ✓. Enter reveals.")
        out[str(t)] = [hint, [[p.position, p.parent, p.question, _what_to_type(p.shape)] for p in asked]]
    return out


def _what_to_type(shape: tuple) -> str:
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a vector of {shape[0]}: [a, b, …]"
    if len(shape) == 2:
        return f"a {shape[0]}×{shape[1]} matrix: [[…], […]]"
    return f"a {'×'.join(map(str, shape))} array"


class PageClaims(NamedTuple):
    """The claims as the step view draws them: ``[[node, status, mark, message], ...]`` and the
    node the derivation first goes wrong at (or None)."""

    marks: list
    first_wrong: int | None


NO_CLAIMS = PageClaims([], None)


def page_claims(report: claims.ClaimsReport | None) -> PageClaims:
    if report is None:
        return NO_CLAIMS
    marks = []
    for node, status in report.marks.items():  # a node with several claims: the worst one's message
        claim = next(c for c in report.claims if c.node == node and c.status == status)
        marks.append([node, status, STATUS_MARKS[status], f"line {claim.line}: {claim.message}"])
    first = report.first_wrong.node if report.first_wrong is not None else None
    return PageClaims(marks, first)


def page_predictions(results: dict) -> dict:
    """``{t: [[position, status, mark, message], ...]}`` of the answers marked so far
    (``state.Marked``s)."""
    return {str(t): [[r.position, r.status, STATUS_MARKS[r.status], r.message] for r in marked]
            for t, marked in results.items()}


def valid_answers(trigger, trace: Trace) -> tuple | None:
    """The browser's answers ``{"t", "program", "items": [[position, text], ...]}`` as (t,
    ((position, text), ...)), or None when they are not for a backward step of this trace (an old
    program's, or not answers at all). Empty answers are left out: revealing without answering."""
    if not isinstance(trigger, dict):
        return None
    t, items = trigger.get("t"), trigger.get("items")
    if isinstance(t, bool) or not isinstance(t, int) or not trace.t_forward_end < t <= trace.t_end:
        return None
    if not isinstance(items, list):
        return None
    answers = []
    for item in items[:64]:
        if (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int) and not isinstance(item[0], bool)
                and isinstance(item[1], str) and item[1].strip()):
            answers.append((item[0], item[1][:MAX_ANSWER_CHARS]))
    return t, tuple(answers)


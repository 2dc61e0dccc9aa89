"""The page model: its fields in session state (``names.Model``), the callbacks that change them,
and the share link.

Every function takes the state as a plain mapping (``st.session_state`` in the app, a dict in
tests), so all of this runs and is tested without Streamlit. Widgets have keys of their own
(``names.Widget``); their callbacks copy values into the model before the rerun draws the page.

The step lives in the browser (the step view steps without the server, ``ui/studio.py``) and is
reported back; ``Model.T`` is the last step reported. When the server itself moves the step (a
new program, a link, what-if) it bumps ``Model.REVISION`` and puts the view it wants shown into
``Model.REQUEST``; the browser takes a request once per revision.

The link contract (lecturers put these links in slides; don't break it):
``?program=<text>&t=<int or "end">&seed=<int>``, plus, when they are on, ``node=<id>``,
``rankdir=LR``, ``present=1`` (presentation mode), ``autoplay=1`` (with ``speed=<seconds per
step>``), ``second=<input>`` (the gradient's own graph), ``collapsed=<frame ids>``,
``mine=<claims>`` (the student's derivation) and ``predict=1`` (predict-then-reveal); opening it
reproduces the screen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import NamedTuple

from core.claims import ERROR, Score
from core.errors import AutodiffError
from core.examples import load_examples
from core.language import input_span, run
from core.second_order import gradient_trace

from .names import Link, Model, Widget

MAX_SEED = 2**31 - 1
SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)  # seconds per step for autoplay
DEFAULT_SPEED = 1.0
TOOL_CACHE_ENTRIES = 16  # results of the tool tabs kept per session (oldest dropped first)


@dataclass(frozen=True)
class ProgramError:
    """A program that did not run: the message, and where (1-based), for the caret display."""

    message: str
    line: int | None = None
    col: int | None = None


def _parse_seed(text) -> int:
    try:
        seed = int(str(text).strip())
    except (TypeError, ValueError):
        return 0
    return min(max(seed, 0), MAX_SEED)


def _parse_speed(text) -> float:
    try:
        speed = float(text)
    except (TypeError, ValueError):
        return DEFAULT_SPEED
    return min(SPEEDS, key=lambda s: abs(s - speed))


def _parse_collapsed(text) -> frozenset | None:
    """"1,2,5" -> the frames collapsed, "none" -> none, anything else -> None (the default)."""
    if text is None:
        return None
    text = str(text).strip()
    if text == "none":
        return frozenset()
    try:
        return frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        return None


def _parse_node(text):
    try:
        return int(str(text))
    except (TypeError, ValueError):
        return None


def init(state, query_params, run_program=run, make_gradient_trace=gradient_trace) -> None:
    """First run of a session: the program, seed, step and modes from the link, else the first
    example. ``run_program(text, seed)`` makes the Trace (the app passes its shared, bounded one),
    ``make_gradient_trace(text, seed, wrt)`` the gradient's own graph."""
    if state.get(Model.INITIALIZED):
        return
    program = query_params.get(Link.PROGRAM) or load_examples()[0].program
    # The editor starts from the link, but through its default value, not its session-state value:
    # a value set by the server would replace what the browser holds (after a server restart, the
    # text a user typed but had not run yet).
    state[Model.INITIAL_TEXT] = program
    state[Model.EDITOR_UNSEEN] = True
    state[Model.SEED] = state[Widget.SEED] = _parse_seed(query_params.get(Link.SEED, 0))
    state[Model.RANKDIR] = state[Widget.RANKDIR] = "LR" if query_params.get(Link.RANKDIR) == "LR" else "TB"
    state[Model.PRESENT] = state[Widget.PRESENT] = query_params.get(Link.PRESENT) == "1"
    state[Model.PLAYING] = query_params.get(Link.AUTOPLAY) == "1"
    state[Model.SPEED] = _parse_speed(query_params.get(Link.SPEED))
    state[Model.TRACE] = state[Model.SECOND] = state[Model.SECOND_TRACE] = None
    state[Model.T], state[Model.NODE], state[Model.REVISION] = 0, None, 0
    example = next((e for e in load_examples() if e.program == program), None)
    state[Widget.EXAMPLE] = example.title if example is not None else None
    mine = query_params.get(Link.MINE)
    state[Model.MINE_INITIAL] = mine if mine is not None else (example.claims or "" if example is not None else "")
    state[Model.PREDICT] = query_params.get(Link.PREDICT) == "1"
    run_editor(state, run_program)
    state[Model.COLLAPSED] = _parse_collapsed(query_params.get(Link.COLLAPSED))
    wanted_second = query_params.get(Link.SECOND)
    trace = state.get(Model.TRACE)
    if wanted_second and trace is not None and wanted_second in trace.inputs:
        set_second_order(state, wanted_second, make_gradient_trace)  # an unknown name in a link is ignored, not echoed
    trace = active_trace(state)
    if trace is not None:
        wanted = str(query_params.get(Link.T, "0")).strip()
        if wanted == "end":
            t = trace.t_end
        else:
            try:
                t = min(max(int(wanted), 0), trace.t_end)
            except ValueError:
                t = 0
        node = _parse_node(query_params.get(Link.NODE))
        node = node if node is not None and 0 <= node < len(trace.nodes) else None
        request_view(state, t=t, node=node)
    state[Model.INITIALIZED] = True


def active_trace(state):
    """The trace on screen: the program's, or (after "differentiate again") its gradient's."""
    return state.get(Model.SECOND_TRACE) or state.get(Model.TRACE)


def request_view(state, **changes) -> None:
    """The server moves the view itself: a new revision, which the browser takes once."""
    for field, key in (("t", Model.T), ("node", Model.NODE), ("playing", Model.PLAYING), ("speed", Model.SPEED),
                       ("predict", Model.PREDICT)):
        if field in changes:
            state[key] = changes[field]
    state[Model.REVISION] = state.get(Model.REVISION, 0) + 1
    state[Model.REQUEST] = view_of(state)


def view_of(state) -> dict:
    return {"t": state.get(Model.T, 0), "node": state.get(Model.NODE), "playing": bool(state.get(Model.PLAYING)),
            "speed": state.get(Model.SPEED, DEFAULT_SPEED), "predict": bool(state.get(Model.PREDICT))}


def apply_view_report(state, report) -> bool:
    """The browser's report of its view ({t, node, playing, speed, revision, collapsed, predict}).
    A report made for an older revision (before a new program reached the browser) is ignored.
    Turning predict-then-reveal on starts a new score. Returns whether the model changed."""
    trace = active_trace(state)
    if not isinstance(report, dict) or trace is None or report.get("revision") != state.get(Model.REVISION):
        return False
    before = view_of(state)
    t = report.get("t")
    if isinstance(t, int) and not isinstance(t, bool):
        state[Model.T] = min(max(t, 0), trace.t_end)
    node = report.get("node")
    state[Model.NODE] = node if isinstance(node, int) and not isinstance(node, bool) and 0 <= node < len(trace.nodes) \
        else None
    state[Model.PLAYING] = report.get("playing") is True
    speed = report.get("speed")
    if isinstance(speed, (int, float)) and not isinstance(speed, bool):
        state[Model.SPEED] = _parse_speed(speed)
    predict = report.get("predict") is True
    if predict and not state.get(Model.PREDICT):
        state.pop(Model.PREDICTIONS, None)
    state[Model.PREDICT] = predict
    collapsed = report.get("collapsed")
    changed = False
    if isinstance(collapsed, list) and all(isinstance(f, int) and not isinstance(f, bool) for f in collapsed):
        changed = frozenset(collapsed) != state.get(Model.COLLAPSED)
        state[Model.COLLAPSED] = frozenset(collapsed)
    return changed or view_of(state) != before


def editor_text(state) -> str:
    return state.get(Widget.EDITOR, state.get(Model.INITIAL_TEXT, ""))


def set_editor_text(state, text: str) -> None:
    """Put ``text`` in the editor (an example, a what-if edit) through the editor's default value:
    the widget takes it as a new default, and nothing set through its session-state key can later
    replace what a browser holds that was typed and not yet run."""
    state[Model.INITIAL_TEXT] = text
    state.pop(Widget.EDITOR, None)


def run_editor(state, run_program=run, fresh: bool = False) -> None:
    """Run the editor's text. On an error keep the text and the last good trace (marked stale).
    A rerun of the same program shape (a seed or a number changed) stays at the same step, unless
    ``fresh`` (a new example starts at its beginning)."""
    text = editor_text(state)
    seed = state.get(Model.SEED, 0)
    try:
        trace = run_program(text, seed)
    except AutodiffError as exc:  # an ExpressionError also says where: line and column
        state[Model.ERROR] = ProgramError(exc.message, getattr(exc, "line", None), getattr(exc, "col", None))
        state[Model.STALE] = state.get(Model.TRACE) is not None
        return
    old = state.get(Model.TRACE) if state.get(Model.SECOND_TRACE) is None and not fresh else None
    old_t = state.get(Model.T, 0)
    at_end = old is not None and old_t == old.t_end
    same_shape = old is not None and old.t_end == trace.t_end
    state[Model.SECOND] = state[Model.SECOND_TRACE] = None  # a new program: back to its own graph
    if not same_shape:
        state[Model.COLLAPSED] = None  # and its frames as a program of its size starts
    state[Model.TRACE] = trace
    state[Model.PROGRAM] = text
    state[Model.ERROR] = None
    state[Model.STALE] = False
    t = trace.t_end if at_end else (min(old_t, trace.t_end) if same_shape else 0)
    request_view(state, t=t, node=state.get(Model.NODE) if same_shape else None)


def adopt_editor(state, text: str, run_program=run) -> None:
    """The editor's value, the first time the session draws it. A browser that reconnects to a new
    server (a restart) sends what its editor holds, typed and maybe never run; the session's first
    run started from the link, and no change callback fires for a widget the session has not drawn
    yet. Run that text so the graph, the link and the editor agree."""
    if state.pop(Model.EDITOR_UNSEEN, False) and text != state.get(Model.INITIAL_TEXT):
        run_editor(state, run_program)  # not what init ran (it failed or not: no second run of it)


# ---- callbacks ---------------------------------------------------------------------------------------


def on_example(state, run_program=run) -> None:
    chosen = chosen_example(state)
    if chosen is None:
        return
    set_editor_text(state, chosen.program)
    set_mine_text(state, chosen.claims or "")  # a "find the bug" example comes with its wrong derivation
    run_editor(state, run_program, fresh=True)


def on_seed(state, run_program=run) -> None:
    state[Model.SEED] = _parse_seed(state.get(Widget.SEED, 0))
    run_editor(state, run_program)


def on_present(state) -> None:
    state[Model.PRESENT] = bool(state.get(Widget.PRESENT))


def on_rankdir(state) -> None:
    state[Model.RANKDIR] = "LR" if state.get(Widget.RANKDIR) == "LR" else "TB"


def chosen_example(state):
    """The gallery example chosen in the selector, or None."""
    return next((e for e in load_examples() if e.title == state.get(Widget.EXAMPLE)), None)


def shown_example(state):
    """The chosen example while the editor still holds it, else None."""
    chosen = chosen_example(state)
    return chosen if chosen is not None and editor_text(state).strip() == chosen.program.strip() else None


def example_note(state) -> str | None:
    """The gallery note of the chosen example, while the editor still holds that example."""
    shown = shown_example(state)
    return None if shown is None else shown.note


# ---- second order and what-if -------------------------------------------------------------------------


def set_second_order(state, wrt: str | None, make_gradient_trace=gradient_trace) -> None:
    """Show the graph that computes ∂out/∂wrt (None: back to the program's own graph)."""
    state[Model.SECOND], state[Model.SECOND_TRACE] = None, None
    if wrt and state.get(Model.PROGRAM) is not None:
        try:
            state[Model.SECOND_TRACE] = make_gradient_trace(state[Model.PROGRAM], state.get(Model.SEED, 0), wrt)
            state[Model.SECOND] = wrt
            state[Model.ERROR] = None
        except AutodiffError as exc:
            state[Model.ERROR] = ProgramError(f"differentiate again: {exc}")
    request_view(state, t=0, node=None)


def set_input_value(state, name: str, value: float, run_program=run) -> None:
    """What-if: put a new number into the program's line ``name = <number>`` and rerun at the
    same step. The text is edited, not hidden state, so the link and the editor show it."""
    if state.get(Model.STALE):
        state[Model.ERROR] = ProgramError("The editor holds a program with an error: fix it or run it first, "
                                          "so that changing an input here does not overwrite what you typed.")
        return
    text = state.get(Model.PROGRAM) or editor_text(state)
    edited = replace_input_literal(text, name, value)
    if edited is None:
        state[Model.ERROR] = ProgramError(f"could not find the number that {name} is bound to in the program")
        return
    set_editor_text(state, edited)
    run_editor(state, run_program)


def replace_input_literal(text: str, name: str, value: float) -> str | None:
    """The program with the right-hand side of ``name = ...`` replaced by ``value`` (found
    through the language's own parse, so comments, ``;`` and spacing are kept), or None."""
    try:
        span = input_span(text, name)
    except AutodiffError:
        return None
    if span is None:
        return None
    start, end = span
    return f"{text[:start]}{float(value)!r}{text[end:]}"


def remember(state, key: tuple, compute):
    """compute() once per key in this session, for the tool tabs; an AutodiffError is kept and
    shown, not raised. At most TOOL_CACHE_ENTRIES results are kept, the oldest dropped first."""
    cache = state.setdefault(Model.TOOL_CACHE, {})
    if key not in cache:
        while len(cache) >= TOOL_CACHE_ENTRIES:
            cache.pop(next(iter(cache)))
        try:
            cache[key] = ("ok", compute())
        except AutodiffError as exc:
            cache[key] = ("error", str(exc))
    return cache[key]


# ---- the student's derivation ("My gradient") and predictions ------------------------------------------


def mine_key(state) -> str:
    """The claims editor's widget key: named after the text the server last put in it. A message
    from the browser that was on its way when the server changed the text (a step report sent a
    moment after "Show a correct derivation") still carries the old text, under the old key, and
    is dropped instead of putting that text back."""
    digest = hashlib.sha256(state.get(Model.MINE_INITIAL, "").encode()).hexdigest()[:10]
    return f"{Widget.MINE}-{digest}"


def mine_text(state) -> str:
    return state.get(mine_key(state), state.get(Model.MINE_INITIAL, ""))


def set_mine_text(state, text: str) -> None:
    """Put ``text`` in the claims editor (a new default, under a new key: see ``mine_key``)."""
    state.pop(mine_key(state), None)
    state[Model.MINE_INITIAL] = text


def claims_report(state, check):
    """("ok", ClaimsReport) or ("error", sentence) for the claims editor's text on the program on
    screen, or None when there are no claims; ``check(program, seed, text)`` checks them (the page
    runs it in a bounded job) once per program, seed and text."""
    text, program = mine_text(state), state.get(Model.PROGRAM)
    if not text.strip() or program is None:
        return None
    key = (program, state.get(Model.SEED, 0), text)
    kept = state.get(Model.CLAIMS)
    if kept is None or kept[0] != key:
        try:
            kept = (key, ("ok", check(*key)))
        except AutodiffError as exc:
            kept = (key, ("error", str(exc)))
        state[Model.CLAIMS] = kept
    return kept[1]


def predictions_key(state) -> tuple:
    return state.get(Model.PROGRAM), state.get(Model.SEED, 0), state.get(Model.SECOND)


def predictions(state) -> dict:
    """{t: (Marked, ...)} of the answers marked on the trace on screen."""
    kept = state.get(Model.PREDICTIONS)
    return kept["results"] if kept is not None and kept["key"] == predictions_key(state) else {}


def mark_answers(state, t: int, answers: tuple, check) -> None:
    """Mark the answers the browser sent for backward step ``t`` (``((position, text), ...)``);
    ``check(program, seed, second, t, answers)`` gives their PredictionResults (the page runs it in
    a bounded job). A step answered again is marked again."""
    results = dict(predictions(state))
    if answers:
        try:
            marked = tuple(Marked(r.position, r.status, r.message) for r in check(*predictions_key(state), t, answers))
        except AutodiffError as exc:  # past the job's time, say: every answer says why
            marked = tuple(Marked(position, ERROR, f"could not be marked: {exc}") for position, _ in answers)
        results[t] = marked
    state[Model.PREDICTIONS] = {"key": predictions_key(state), "results": results}


class Marked(NamedTuple):
    """An answer as marked: its edge's position, its status (core.claims.STATUSES) and why."""

    position: int
    status: str
    message: str


def score(state):
    """The score over the pass: answers marked right, of answers marked (core.claims.Score)."""
    total = Score()
    for marked in predictions(state).values():
        for result in marked:
            total = total.add(result)
    return total


# ---- the share link --------------------------------------------------------------------------------


def link_params(state) -> dict:
    """The query parameters that reproduce the screen."""
    trace = active_trace(state)
    t = state.get(Model.T, 0)
    params = {Link.PROGRAM: state.get(Model.PROGRAM) or editor_text(state),
              Link.SEED: str(state.get(Model.SEED, 0))}
    params[Link.T] = "end" if trace is not None and t == trace.t_end and t > 0 else str(t)
    if state.get(Model.NODE) is not None:
        params[Link.NODE] = str(state[Model.NODE])
    if state.get(Model.RANKDIR) == "LR":
        params[Link.RANKDIR] = "LR"
    if state.get(Model.PRESENT):
        params[Link.PRESENT] = "1"
    if state.get(Model.PLAYING):
        params[Link.AUTOPLAY] = "1"
        params[Link.SPEED] = repr(state.get(Model.SPEED, DEFAULT_SPEED))
    if state.get(Model.SECOND):
        params[Link.SECOND] = state[Model.SECOND]
    collapsed = state.get(Model.COLLAPSED)
    if collapsed is not None:
        params[Link.COLLAPSED] = ",".join(map(str, sorted(collapsed))) or "none"
    if mine_text(state).strip():
        params[Link.MINE] = mine_text(state)
    if state.get(Model.PREDICT):
        params[Link.PREDICT] = "1"
    return params


def sync_query_params(state, query_params) -> None:
    """Write the link into the address bar, touching only what changed (each write is a message
    to the browser)."""
    wanted = link_params(state)
    for key, value in wanted.items():
        if query_params.get(key) != value:
            query_params[key] = value
    for key in list(query_params.keys()):
        if key not in wanted and key in Link.OPTIONAL:
            del query_params[key]

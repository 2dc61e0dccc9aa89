"""Session state: its keys, the callbacks that change it, and the share link.

Every function takes the state as a plain mapping (``st.session_state`` in the app, a dict in
tests), so all of this runs and is tested without Streamlit. Widget callbacks change the state
*before* the rerun draws the page, which is what removes the one-click lag of reading buttons.

The link contract (lecturers put these links in slides; don't break it):
``?program=<text>&t=<int or "end">&seed=<int>``, plus, when they are on, ``rankdir=LR``,
``present=1`` (presentation mode), ``autoplay=1`` (with ``speed=<seconds per step>``) and
``second=<input>`` (the gradient's own graph); opening it reproduces the screen.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from core.errors import AutodiffError
from core.examples import load_examples
from core.language import input_span, run

EDITOR, PROGRAM, SEED, T, TRACE, ERROR, STALE, EXAMPLE, RANKDIR, FIT = (
    "editor", "program", "seed", "t", "trace", "error", "stale", "example", "rankdir", "fit",
)
PRESENT, PLAYING, SPEED, SECOND, SECOND_TRACE, LAST_TICK = (
    "present", "playing", "speed", "second", "second_trace", "last_tick",
)
INITIALIZED = "initialized"
MAX_SEED = 2**31 - 1
SPEEDS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)  # seconds per step for autoplay
DEFAULT_SPEED = 1.0


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


def init(state, query_params) -> None:
    """First run of a session: the program, seed and step from the link, else the first example."""
    if state.get(INITIALIZED):
        return
    program = query_params.get("program") or load_examples()[0].program
    state[EDITOR] = program
    state[SEED] = _parse_seed(query_params.get("seed", 0))
    state[RANKDIR] = "LR" if query_params.get("rankdir") == "LR" else "TB"
    state[TRACE] = None
    state[EXAMPLE] = next((e.title for e in load_examples() if e.program == program), None)
    state[PRESENT] = query_params.get("present") == "1"
    state[PLAYING] = query_params.get("autoplay") == "1"
    state[SPEED] = _parse_speed(query_params.get("speed"))
    state[SECOND] = None
    run_editor(state)
    wanted_second = query_params.get("second")
    if wanted_second and state.get(TRACE) is not None and wanted_second in state[TRACE].inputs:
        set_second_order(state, wanted_second)  # an unknown name in a link is ignored, not echoed
    if state[PLAYING]:
        state[LAST_TICK] = time.monotonic()  # show the linked step for one interval first
    trace = active_trace(state)
    wanted = str(query_params.get("t", "0")).strip()
    if trace is not None:
        if wanted == "end":
            state[T] = trace.t_end
        else:
            try:
                state[T] = min(max(int(wanted), 0), trace.t_end)
            except ValueError:
                state[T] = 0
    state[INITIALIZED] = True


def _parse_speed(text) -> float:
    try:
        speed = float(text)
    except (TypeError, ValueError):
        return DEFAULT_SPEED
    return min(SPEEDS, key=lambda s: abs(s - speed))


def active_trace(state):
    """The trace on screen: the program's, or (after "differentiate again") its gradient's."""
    return state.get(SECOND_TRACE) or state.get(TRACE)


WIDGET_KEYS = (EDITOR, SEED, EXAMPLE, RANKDIR, FIT, T, PLAYING, SPEED, PRESENT)
STEP_VIEW_WIDGET_KEYS = (T, RANKDIR, FIT)  # the widgets drawn inside the step view's fragment


def persist_widget_values(state, keys: tuple = WIDGET_KEYS) -> None:
    """Keep widget values across runs that don't draw their widget. Streamlit forgets the value
    of a widget that a run did not draw (the editor in presentation mode, the slider while
    playing); writing it back as plain state makes it survive."""
    for key in keys:
        if key in state:
            state[key] = state[key]


def run_editor(state) -> None:
    """Run the editor's text. On an error keep the text and the last good trace (marked stale)."""
    text = state.get(EDITOR, "")
    seed = state.get(SEED, 0)
    try:
        trace = run(text, seed=seed)
    except AutodiffError as exc:  # an ExpressionError also says where: line and column
        state[ERROR] = ProgramError(exc.message, getattr(exc, "line", None), getattr(exc, "col", None))
        state[STALE] = state.get(TRACE) is not None
        return
    old = state.get(TRACE) if state.get(SECOND_TRACE) is None else None
    old_t, at_end = state.get(T, 0), old is not None and state.get(T, 0) == old.t_end
    state[SECOND] = state[SECOND_TRACE] = None  # a new program: back to its own graph
    state[TRACE] = trace
    state[PROGRAM] = text
    state[ERROR] = None
    state[STALE] = False
    # A rerun of the same program shape (a seed or a number changed) stays at the same step.
    same_shape = old is not None and old.t_end == trace.t_end
    state[T] = trace.t_end if at_end else (min(old_t, trace.t_end) if same_shape else 0)


# ---- callbacks ---------------------------------------------------------------------------------------


def on_example(state) -> None:
    title = state.get(EXAMPLE)
    chosen = next((e for e in load_examples() if e.title == title), None)
    if chosen is None:
        return
    state[EDITOR] = chosen.program
    state[T] = 0
    run_editor(state)


def step_to(state, where: str) -> None:
    """first / prev / next / last: move along the timeline, clamped to it."""
    trace = active_trace(state)
    if trace is None:
        return
    t = state.get(T, 0)
    t = {"first": 0, "prev": t - 1, "next": t + 1, "last": trace.t_end}[where]
    state[T] = min(max(t, 0), trace.t_end)


# ---- autoplay ------------------------------------------------------------------------------------------


def on_play_toggled(state, now: float | None = None) -> None:
    """Autoplay switched on: the current step stays on screen for one interval; at the end of
    the timeline it starts again from the beginning."""
    trace = active_trace(state)
    if state.get(PLAYING) and trace is not None and state.get(T, 0) >= trace.t_end:
        state[T] = 0
    state[LAST_TICK] = time.monotonic() if now is None else now


def tick(state, now: float) -> bool:
    """One autoplay frame: advance a step if a step's time has passed. Returns whether it moved.
    At the end it stays there (still 'playing', parked) until autoplay is switched off."""
    trace = active_trace(state)
    if not state.get(PLAYING) or trace is None or state.get(T, 0) >= trace.t_end:
        return False
    if now - state.get(LAST_TICK, 0.0) < 0.9 * state.get(SPEED, DEFAULT_SPEED):
        return False
    state[T] = min(state.get(T, 0) + 1, trace.t_end)
    state[LAST_TICK] = now
    return True


# ---- second order and what-if -------------------------------------------------------------------------


def set_second_order(state, wrt: str | None) -> None:
    """Show the graph that computes ∂out/∂wrt (None: back to the program's own graph)."""
    from core.second_order import gradient_trace

    state[SECOND], state[SECOND_TRACE], state[T] = None, None, 0
    if not wrt or state.get(PROGRAM) is None:
        return
    try:
        state[SECOND_TRACE] = gradient_trace(state[PROGRAM], state.get(SEED, 0), wrt)
        state[SECOND] = wrt
        state[ERROR] = None
    except AutodiffError as exc:
        state[ERROR] = ProgramError(f"differentiate again: {exc}")


def set_input_value(state, name: str, value: float) -> None:
    """What-if: put a new number into the program's line ``name = <number>`` and rerun at the
    same step. The text is edited, not hidden state, so the link and the editor show it."""
    if state.get(STALE):
        state[ERROR] = ProgramError("The editor holds a program with an error: fix it or run it first, "
                                    "so that changing an input here does not overwrite what you typed.")
        return
    text = state.get(PROGRAM) or state.get(EDITOR, "")
    edited = replace_input_literal(text, name, value)
    if edited is None:
        state[ERROR] = ProgramError(f"could not find the number that {name} is bound to in the program")
        return
    state[EDITOR] = edited
    run_editor(state)


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


# ---- the share link --------------------------------------------------------------------------------


def link_params(state) -> dict:
    """The query parameters that reproduce the screen."""
    trace = active_trace(state)
    t = state.get(T, 0)
    params = {"program": state.get(PROGRAM) or state.get(EDITOR, ""), "seed": str(state.get(SEED, 0))}
    params["t"] = "end" if trace is not None and t == trace.t_end and t > 0 else str(t)
    if state.get(RANKDIR) == "LR":
        params["rankdir"] = "LR"
    if state.get(PRESENT):
        params["present"] = "1"
    if state.get(PLAYING):
        params["autoplay"] = "1"
        params["speed"] = repr(state.get(SPEED, DEFAULT_SPEED))
    if state.get(SECOND):
        params["second"] = state[SECOND]
    return params


def sync_query_params(state, query_params) -> None:
    """Write the link into the address bar, touching only what changed (each write is a message
    to the browser)."""
    wanted = link_params(state)
    for key, value in wanted.items():
        if query_params.get(key) != value:
            query_params[key] = value
    for key in list(query_params.keys()):
        if key not in wanted and key in OPTIONAL_PARAMS:
            del query_params[key]


OPTIONAL_PARAMS = ("rankdir", "present", "autoplay", "speed", "second")

"""Session state: its keys, the callbacks that change it, and the share link.

Every function takes the state as a plain mapping (``st.session_state`` in the app, a dict in
tests), so all of this runs and is tested without Streamlit. Widget callbacks change the state
*before* the rerun draws the page, which is what removes the one-click lag of reading buttons.

The link contract (lecturers put these links in slides; don't break it):
``?program=<text>&t=<int or "end">&seed=<int>`` (plus ``rankdir``); opening it reproduces the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import AutodiffError, ExpressionError
from core.examples import load_examples
from core.language import run

EDITOR, PROGRAM, SEED, T, TRACE, ERROR, STALE, EXAMPLE, RANKDIR, FIT = (
    "editor", "program", "seed", "t", "trace", "error", "stale", "example", "rankdir", "fit",
)
INITIALIZED = "initialized"
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class ProgramError:
    """A program that did not run: the message, and where (1-based), for the caret display."""

    message: str
    line: int | None = None
    col: int | None = None


def examples():
    return load_examples()


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
    program = query_params.get("program") or examples()[0].program
    state[EDITOR] = program
    state[SEED] = _parse_seed(query_params.get("seed", 0))
    state[RANKDIR] = "LR" if query_params.get("rankdir") == "LR" else "TB"
    state[TRACE] = None
    state[EXAMPLE] = next((e.title for e in examples() if e.program == program), None)
    run_editor(state)
    trace = state[TRACE]
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


def run_editor(state) -> None:
    """Run the editor's text. On an error keep the text and the last good trace (marked stale)."""
    text = state.get(EDITOR, "")
    seed = state.get(SEED, 0)
    try:
        trace = run(text, seed=seed)
    except ExpressionError as exc:
        state[ERROR] = ProgramError(exc.message, exc.line, exc.col)
        state[STALE] = state.get(TRACE) is not None
        return
    except AutodiffError as exc:
        state[ERROR] = ProgramError(str(exc))
        state[STALE] = state.get(TRACE) is not None
        return
    old = state.get(TRACE)
    old_t, at_end = state.get(T, 0), old is not None and state.get(T, 0) == old.t_end
    state[TRACE] = trace
    state[PROGRAM] = text
    state[ERROR] = None
    state[STALE] = False
    # A rerun of the same program shape (a seed or a number changed) stays at the same step.
    same_shape = old is not None and old.t_end == trace.t_end
    state[T] = trace.t_end if at_end and old is not None else (min(old_t, trace.t_end) if same_shape else 0)


# ---- callbacks ---------------------------------------------------------------------------------------


def on_example(state) -> None:
    title = state.get(EXAMPLE)
    chosen = next((e for e in examples() if e.title == title), None)
    if chosen is None:
        return
    state[EDITOR] = chosen.program
    state[T] = 0
    run_editor(state)


def step_to(state, where: str) -> None:
    """first / prev / next / last: move along the timeline, clamped to it."""
    trace = state.get(TRACE)
    if trace is None:
        return
    t = state.get(T, 0)
    t = {"first": 0, "prev": t - 1, "next": t + 1, "last": trace.t_end}[where]
    state[T] = min(max(t, 0), trace.t_end)


# ---- the share link --------------------------------------------------------------------------------


def link_params(state) -> dict:
    """The query parameters that reproduce the screen."""
    trace = state.get(TRACE)
    t = state.get(T, 0)
    params = {"program": state.get(PROGRAM) or state.get(EDITOR, ""), "seed": str(state.get(SEED, 0))}
    params["t"] = "end" if trace is not None and t == trace.t_end and t > 0 else str(t)
    if state.get(RANKDIR) == "LR":
        params["rankdir"] = "LR"
    return params


def sync_query_params(state, query_params) -> None:
    """Write the link into the address bar, touching only what changed (each write is a message
    to the browser)."""
    wanted = link_params(state)
    for key, value in wanted.items():
        if query_params.get(key) != value:
            query_params[key] = value
    for key in list(query_params.keys()):
        if key not in wanted and key in ("rankdir",):
            del query_params[key]

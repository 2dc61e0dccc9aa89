"""The Streamlit panels. Each reads the page model and draws; the logic lives elsewhere (``state``
changes the model, ``studio`` builds what the step view shows, ``shared`` computes it once for
all sessions)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.examples import load_examples
from core.language import caret_excerpt

from . import export as exporting
from . import names, shared, studio
from . import state as S
from .names import Model, Widget

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CSS = (ASSETS / "style.css").read_text()
STEP_VIEW = st.components.v2.component(names.COMPONENT, js=(studio.STATIC / "studio" / "loader.js").read_text())


def run_program(text: str, seed: int):
    """The Trace of a program, prepared once for all sessions in a bounded job (ui/shared.py)."""
    return shared.prepared(text, seed, None, st.session_state.get(Model.RANKDIR, "TB")).trace


def gradient_trace(text: str, seed: int, wrt: str):
    return shared.prepared(text, seed, wrt, st.session_state.get(Model.RANKDIR, "TB")).trace


def style() -> None:
    st.html(f"<style>{CSS}</style>")


def init() -> None:
    S.init(st.session_state, st.query_params, run_program, gradient_trace)


def presentation_toggle() -> None:
    st.toggle("Presentation mode", key=Widget.PRESENT, on_change=S.on_present, args=(st.session_state,),
              help="The graph fills the screen, the step's formula beside it, large. Keys: → / PageDown next, "
                   "← / PageUp previous, Home / End, space plays.")


def editor() -> None:
    state = st.session_state
    titles = [e.title for e in load_examples()]
    left, right = st.columns([3, 2])
    with left:
        # persist_state: what was typed survives the runs that don't draw the editor (presentation mode).
        st.text_area("Program", value=state[Model.INITIAL_TEXT], key=Widget.EDITOR, height=150,
                     on_change=S.run_editor, args=(state, run_program),
                     help="One statement per line; the last one is the output. Ctrl+Enter runs it.",
                     persist_state="session")
        run, seed, _ = st.columns([1, 2, 3], vertical_alignment="bottom")
        run.button("Run", icon=":material/play_arrow:", key=Widget.RUN, on_click=S.run_editor,
                   args=(state, run_program), type="primary", width="stretch")
        seed.number_input("Seed (randn, rand, spd)", min_value=0, max_value=S.MAX_SEED, step=1, key=Widget.SEED,
                          on_change=S.on_seed, args=(state, run_program), persist_state="session")
        error = state.get(Model.ERROR)
        if error is not None:
            st.error(_located_message(S.editor_text(state), error), icon=":material/error:")
    with right:
        st.selectbox("Example", titles, key=Widget.EXAMPLE, index=None, placeholder="Choose an example…",
                     on_change=S.on_example, args=(state, run_program), persist_state="session")
        note = S.example_note(state)
        if note is not None:
            st.info(note, icon=":material/school:")


def _located_message(text: str, error: S.ProgramError) -> str:
    where = f"Line {error.line}, column {error.col}: " if error.line else ""
    excerpt = caret_excerpt(text, error.line, error.col)
    return f"{where}{error.message}" + (f"\n\n```text\n{excerpt}\n```" if excerpt else "")


def second_order_banner() -> None:
    state = st.session_state
    if state.get(Model.SECOND_TRACE) is None:
        return
    trace = state[Model.SECOND_TRACE]
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.info(f"Showing the graph that computes **{trace.title(trace.output)}**, the gradient of the output "
              f"with respect to **{state[Model.SECOND]}**. Its backward pass gives that row of the Hessian.",
              icon=":material/functions:")
    right.button("Back to the program", key=Widget.SECOND_BACK, on_click=S.set_second_order,
                 args=(state, None, gradient_trace), width="stretch")


def step_view() -> None:
    """The step view component. Its report (the step, the picked node, autoplay) reruns only the
    fragment this is called from: the model and the link follow, nothing else is redrawn."""
    state = st.session_state
    # The browser's last report, before anything is drawn: it may open or close a frame, which
    # changes what is laid out.
    S.apply_view_report(state, (state.get(Widget.STUDIO) or {}).get(names.VIEW_STATE))
    if state.get(Model.STALE):
        st.warning("Showing the last program that ran: the editor's text has an error (see above).",
                   icon=":material/history:")
    key = (state[Model.PROGRAM], state.get(Model.SEED, 0), state.get(Model.SECOND), state.get(Model.RANKDIR, "TB"),
           state.get(Model.COLLAPSED))
    shown = state.get(Model.SHOWN)
    if shown is None or shown[0] != key:  # the session keeps what it shows, whatever the store drops
        shown = state[Model.SHOWN] = (key, shared.prepared(*key))
    payload = shown[1].payload
    page = studio.page_part(program=payload.key, revision=state[Model.REVISION], request=state[Model.REQUEST],
                            present=bool(state.get(Model.PRESENT)))
    result = STEP_VIEW(key=Widget.STUDIO, data=studio.payload(page, payload), default={names.VIEW_STATE: None},
                       on_view_change=lambda: None)
    S.apply_view_report(state, result.get(names.VIEW_STATE))
    S.sync_query_params(state, st.query_params)


def layout_choice() -> None:
    st.radio("Layout", ["TB", "LR"], key=Widget.RANKDIR, horizontal=True, on_change=S.on_rankdir,
             args=(st.session_state,), format_func=lambda d: "top to bottom" if d == "TB" else "left to right",
             persist_state="session")


def export(trace) -> None:
    """Downloads of what is on screen. ``on_click="ignore"``: a click downloads and reruns
    nothing, so the next button's file is never one a rerun has already replaced."""
    state = st.session_state
    t = state.get(Model.T, 0)
    left, middle, right = st.columns(3)
    rankdir = state.get(Model.RANKDIR, "TB")
    # Every file is made when its button is clicked, not on every step (the DOT of the step shown
    # when the button was drawn: the last one the browser reported).
    left.download_button("Graph as DOT", lambda: exporting.export_dot(trace, t, rankdir),
                         f"backprop-t{t}.dot", mime="text/vnd.graphviz", icon=":material/account_tree:",
                         key=Widget.DOWNLOAD_DOT, on_click="ignore", width="stretch")
    middle.download_button("Trace as JSON", lambda: exporting.export_json(trace), "trace.json",
                           mime="application/json", icon=":material/data_object:", key=Widget.DOWNLOAD_JSON,
                           on_click="ignore", width="stretch")
    right.download_button("Python script", lambda: exporting.export_python(trace), "backprop.py",
                          mime="text/x-python", icon=":material/code:", key=Widget.DOWNLOAD_SCRIPT,
                          on_click="ignore", width="stretch")
    st.caption("The SVG of the graph at this step is the ⤓ button above the graph. The script reproduces the "
               "computation with `import core as ad` (install this project with `pip install .` to run it "
               "anywhere); the JSON format is in docs/trace-format.md.")

"""The Streamlit panels. Each reads the session state and draws; the logic lives elsewhere
(``state`` changes the state, ``render``/``explain``/``figures`` compute what is drawn)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import streamlit as st

from core.examples import load_examples
from core.language import caret_excerpt

from . import state as S
from .explain import explain_step
from .figures import SVG_MAX_CELLS, heatmap, heatmap_svg
from .render import GraphOptions, contribution_rows, fmt, graph_dot, legend_html, tape_rows

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CSS = (ASSETS / "style.css").read_text()
PAGE_JS = (ASSETS / "page.js").read_text()
PRESENT_CSS = (ASSETS / "present.css").read_text()
PRESENT_GRAPH_INCHES = (11.0, 7.0)  # the graph column of a 1920×1080 projector, in Graphviz inches
PRESENT_FIT_MAX_NODES = 40


def style() -> None:
    st.html(f"<style>{CSS}</style>")
    if st.session_state.get(S.PRESENT):
        st.html(f"<style>{PRESENT_CSS}</style>")


def page_script() -> None:
    """Arrow keys, PageUp/PageDown (what presentation clickers send), Home and End step the
    timeline, and a big graph's scroll box follows the current node. A few lines of our own
    JavaScript (assets/page.js), no package and nothing fetched, installed once per page."""
    st.iframe(f"<script>{PAGE_JS}</script>", height=1)


def presentation_toggle() -> None:
    st.toggle("Presentation mode", key=S.PRESENT, help="Only the timeline, the graph and the step, in big type. "
              "Keys: → / PageDown next, ← / PageUp previous, Home / End.")


def second_order_banner() -> None:
    state = st.session_state
    if state.get(S.SECOND_TRACE) is None:
        return
    trace = state[S.SECOND_TRACE]
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.info(f"Showing the graph that computes **{trace.title(trace.output)}**, the gradient of the output "
              f"with respect to **{state[S.SECOND]}**. Its backward pass gives that row of the Hessian.",
              icon=":material/functions:")
    right.button("Back to the program", on_click=S.set_second_order, args=(state, None), width="stretch",
                 key="second_back")


def editor() -> None:
    state = st.session_state
    titles = [e.title for e in load_examples()]
    left, right = st.columns([3, 2])
    with right:
        st.selectbox("Example", titles, key=S.EXAMPLE, index=None, placeholder="Choose an example…",
                     on_change=S.on_example, args=(state,))
        chosen = next((e for e in load_examples() if e.title == state.get(S.EXAMPLE)), None)
        if chosen is not None:
            st.info(chosen.note, icon=":material/school:")
        st.number_input("Seed (for randn, rand, spd)", min_value=0, max_value=S.MAX_SEED, step=1, key=S.SEED,
                        on_change=S.run_editor, args=(state,))
    with left:
        st.text_area("Program", key=S.EDITOR, height=200, on_change=S.run_editor, args=(state,),
                     help="One statement per line; the last one is the output. Ctrl+Enter runs it.")
        st.button("Run", icon=":material/play_arrow:", on_click=S.run_editor, args=(state,), type="primary")
        error = state.get(S.ERROR)
        if error is not None:
            st.error(_located_message(state.get(S.EDITOR, ""), error), icon=":material/error:")


def _located_message(text: str, error: S.ProgramError) -> str:
    where = f"Line {error.line}, column {error.col}: " if error.line else ""
    excerpt = caret_excerpt(text, error.line, error.col)
    return f"{where}{error.message}" + (f"\n\n```text\n{excerpt}\n```" if excerpt else "")


def timeline(trace) -> None:
    state = st.session_state
    t, t_end, forward_end = state[S.T], trace.t_end, trace.t_forward_end
    buttons = st.columns([1.1, 1.4, 1.1, 1.1, 5], vertical_alignment="center")
    # Material icons ship with Streamlit's front end: they render offline, unlike emoji fonts.
    for column, (label, icon, where, disabled) in zip(buttons, [
        ("First", ":material/first_page:", "first", t == 0),
        ("Previous", ":material/chevron_left:", "prev", t == 0),
        ("Next", ":material/chevron_right:", "next", t == t_end),
        ("Last", ":material/last_page:", "last", t == t_end),
    ]):
        column.button(label, icon=icon, key=f"step_{where}", on_click=S.step_to, args=(state, where),
                      disabled=disabled, width="stretch")
    with buttons[4]:
        st.markdown(f"<div class='phase'>{trace.phase_label(t)}</div>", unsafe_allow_html=True)
    if t_end == 0:
        return
    if state.get(S.PLAYING):
        # No slider while playing: a slider's value from the browser could be one frame old and
        # would pull the step back. A progress bar sends nothing.
        st.progress(t / t_end)
    else:
        st.slider("Step", 0, t_end, key=S.T, label_visibility="collapsed",
                  help=f"0 = nothing computed · 1–{forward_end} forward · {forward_end + 1}–{t_end} backward")


def player() -> None:
    """Autoplay on/off and its speed. Outside the step view on purpose: switching it reruns the
    whole page, which is what (re)creates the step view's timer."""
    state = st.session_state
    left, right, _ = st.columns([1.3, 1.2, 6], vertical_alignment="center")
    left.toggle("Autoplay", key=S.PLAYING, on_change=S.on_play_toggled, args=(state,),
                help="Walk the timeline by itself; it stops at the end. Pressing it at the end starts over.")
    right.selectbox("Speed", S.SPEEDS, key=S.SPEED, format_func=lambda s: f"{s:g} s/step",
                    label_visibility="collapsed", help="Autoplay: seconds per step")


def autoplay_interval() -> float | None:
    """Seconds between the step view's automatic reruns, or None when not playing."""
    state = st.session_state
    return state.get(S.SPEED, S.DEFAULT_SPEED) if state.get(S.PLAYING) else None


def advance_autoplay() -> None:
    """Called at the top of the step view: one autoplay frame. At the end the timer keeps
    running (doing nothing) until the toggle is switched off: stopping it would need a rerun of
    the whole page started by the server, with widget values that may be a frame old."""
    S.tick(st.session_state, time.monotonic())


def graph(trace) -> None:
    state = st.session_state
    if state.get(S.STALE):
        st.warning("Showing the last program that ran: the editor's text has an error (see above).",
                   icon=":material/history:")
    presenting = bool(state.get(S.PRESENT))
    # On a projector a small graph is scaled up to fill its column; a big one keeps its natural
    # size and scrolls (scaled down it could not be read from the back of the hall anyway).
    fit = PRESENT_GRAPH_INCHES if presenting and len(trace.nodes) <= PRESENT_FIT_MAX_NODES else None
    options = GraphOptions(rankdir=state.get(S.RANKDIR, "TB"), large=presenting, fit=fit)
    # "graph_fit" shrinks a big graph to the column (an overview); otherwise it keeps its natural
    # size in a scroll box (style.css), readable however many nodes it has.
    with st.container(key="graph_fit" if state.get(S.FIT) else "graph_scroll"):
        st.graphviz_chart(graph_dot(trace, state[S.T], options), width="content")
    st.html(legend_html())
    if presenting:
        return
    left, right = st.columns(2)
    left.radio("Layout", ["TB", "LR"], key=S.RANKDIR, horizontal=True,
               format_func=lambda d: "top to bottom" if d == "TB" else "left to right")
    right.toggle("Fit the whole graph to the column", key=S.FIT,
                 help="An overview of a big graph. Off: natural size, scrolling, following the current node.")
    if trace.note:
        st.info(trace.note)


def explanation(trace) -> None:
    text = explain_step(trace, st.session_state[S.T])
    st.markdown(text.sentence)
    for formula in text.formulas:
        st.latex(formula)


def inspector(trace) -> None:
    state = st.session_state
    t = state[S.T]
    ids = [n.id for n in trace.nodes if n.kind != "constant"]
    if not ids:
        st.caption("This graph holds only constants: nothing to inspect.")
        return
    default = trace.explain(t).node
    index = ids.index(default) if default in ids else len(ids) - 1
    node_id = st.selectbox("Inspect node", ids, index=index, format_func=lambda i: trace.title(i),
                           key=f"inspect_{t}")
    node = trace.nodes[node_id]
    value, grad = trace.value_at(node_id, t), trace.grad_at(node_id, t)
    what = f"op {node.op}" if node.op else node.kind
    st.caption(f"{what} · shape {node.shape} · {trace.status_at(node_id, t)}")
    if node.shape == () or value is None:
        left, right = st.columns(2)
        left.metric("value", fmt(value, 6))
        right.metric("gradient ḡ", fmt(grad, 6))
    else:
        _matrix(value, "value", node_id, t)
        if grad is not None:
            _matrix(grad, "gradient ḡ", node_id, t, diverging=True)
    received = contribution_rows(trace, node_id, t)
    if received:
        st.dataframe(received, hide_index=True, width="stretch")


def _matrix(value, title: str, node_id: int, t: int, diverging: bool = False) -> None:
    """An inline SVG heatmap (cheap to redraw on every step); plotly for very large arrays."""
    if np.size(value) <= SVG_MAX_CELLS:
        st.markdown(heatmap_svg(value, title, diverging=diverging), unsafe_allow_html=True)  # numbers only
    else:
        st.plotly_chart(heatmap(value, title, diverging=diverging), width="stretch", key=f"{title}_{node_id}_{t}")


def tape(trace) -> None:
    t = st.session_state[S.T]
    rows = tape_rows(trace, t)
    st.dataframe(rows, hide_index=True, width="stretch")

"""Backprop Studio: type a program, watch the forward and the backward pass step by step.

Run: streamlit run streamlit_app.py
"""

import streamlit as st

from ui import panels, tools
from ui import state as S

st.set_page_config(page_title="Backprop Studio", page_icon="∂", layout="wide")
S.init(st.session_state, st.query_params)
S.persist_widget_values(st.session_state)
panels.style()
panels.page_script()

title, toggle = st.columns([5, 1], vertical_alignment="bottom")
title.title("∂ Backprop Studio")
with toggle:
    panels.presentation_toggle()
presenting = st.session_state.get(S.PRESENT)
if not presenting:
    st.caption("Reverse-mode automatic differentiation, one node at a time.")
    panels.editor()
panels.second_order_banner()
if st.session_state.get(S.TRACE) is not None:
    panels.player()


@st.fragment(run_every=panels.autoplay_interval())
def step_view():
    """Everything that changes with the step. A fragment: stepping (and autoplay) reruns only this."""
    S.persist_widget_values(st.session_state, S.STEP_VIEW_WIDGET_KEYS)
    panels.advance_autoplay()
    trace = S.active_trace(st.session_state)
    if trace is None:
        return
    panels.timeline(trace)
    graph_column, side_column = st.columns([3, 2])
    with graph_column:
        panels.graph(trace)
    with side_column:
        st.subheader("This step")
        panels.explanation(trace)
        if not presenting:
            st.subheader("Node inspector")
            panels.inspector(trace)
    if not presenting:
        tape, export = st.tabs(["Tape", "Export"])
        with tape:
            panels.tape(trace)
        with export:
            tools.export(trace)
    S.sync_query_params(st.session_state, st.query_params)


step_view()

if not presenting and st.session_state.get(S.TRACE) is not None:
    st.divider()
    what_if, check, function, second = st.tabs(["What if…", "Gradient check", "Function view", "Second order"])
    with what_if:
        tools.what_if()
    with check:
        tools.gradient_check()
    with function:
        tools.function_view()
    with second:
        tools.second_order()

"""Backprop Studio: type a program, watch the forward and the backward pass step by step.

Run: streamlit run streamlit_app.py
"""

import streamlit as st

from ui import panels, shared, tools
from ui import state as S
from ui.names import Model, Widget

st.set_page_config(page_title="Backprop Studio", page_icon="∂", layout="wide")
shared.memory_janitor()  # once per server: hands back the memory of sessions that ended
panels.style()
panels.init()
state = st.session_state
presenting = bool(state.get(Model.PRESENT))

title, toggle = st.columns([5, 1], vertical_alignment="center")
if not presenting:  # a projector's height goes to the graph
    title.markdown("## ∂ Backprop Studio <small>reverse-mode automatic differentiation, one node at a time</small>",
                   unsafe_allow_html=True)
with toggle:
    panels.presentation_toggle()
if not presenting:
    panels.editor()
    panels.claims_verdict()
panels.second_order_banner()


@st.fragment
def step_view():
    """The step view steps in the browser; its report of the step reruns only this fragment."""
    panels.step_view()
    if not presenting:
        with st.expander("Export", icon=":material/download:"):
            panels.export(S.active_trace(state))


if state.get(Model.TRACE) is not None:
    step_view()
    if not presenting:
        panels.layout_choice()

if not presenting and state.get(Model.TRACE) is not None:
    st.divider()
    # Only the open tab runs (on_change="rerun"): a big program's sweeps and Hessian wait until asked.
    tabs = st.tabs(["What if…", "Gradient check", "Function view", "Second order", "Training"], key=Widget.TOOLS,
                   on_change="rerun")
    for tab, draw in zip(tabs, (tools.what_if, tools.gradient_check, tools.function_view, tools.second_order,
                                tools.training)):
        if tab.open:
            with tab:
                draw()

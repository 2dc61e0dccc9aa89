"""Backprop Studio: type a program, watch the forward and the backward pass step by step.

Run: streamlit run streamlit_app.py
"""

import streamlit as st

from ui import panels
from ui import state as S

st.set_page_config(page_title="Backprop Studio", page_icon="∂", layout="wide")
panels.style()
S.init(st.session_state, st.query_params)

st.title("∂ Backprop Studio")
st.caption("Reverse-mode automatic differentiation, one node at a time.")
panels.editor()


@st.fragment
def step_view():
    """Everything that changes with the step. A fragment: stepping reruns only this part."""
    trace = st.session_state.get(S.TRACE)
    if trace is None:
        return
    panels.timeline(trace)
    graph_column, side_column = st.columns([3, 2])
    with graph_column:
        panels.graph(trace)
    with side_column:
        st.subheader("This step")
        panels.explanation(trace)
        st.subheader("Node inspector")
        panels.inspector(trace)
    st.subheader("Tape")
    panels.tape(trace)
    S.sync_query_params(st.session_state, st.query_params)


step_view()

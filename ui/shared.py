"""What every session shares: the trace and the step view's payload of a program, computed once.

A lecture is 200 students opening one link: the program runs, and its graph is laid out, once for
all of them. Both caches are ``st.cache_resource`` (the results are immutable: a Trace is frozen
data, a payload is bytes) and bounded in entries, so no cache grows with the programs typed.
"""

from __future__ import annotations

import streamlit as st

from core.language import run
from core.second_order import gradient_trace

from .studio import ProgramPayload, compressed_payload

SHARED_PROGRAMS = 24  # traces and payloads kept for all sessions (least recently used dropped)


@st.cache_resource(max_entries=SHARED_PROGRAMS, show_spinner=False)
def trace_of(program: str, seed: int):
    """The Trace of a program (an AutodiffError is raised, not cached)."""
    return run(program, seed=seed)


@st.cache_resource(max_entries=SHARED_PROGRAMS, show_spinner=False)
def second_trace_of(program: str, seed: int, wrt: str):
    return gradient_trace(program, seed, wrt)


@st.cache_resource(max_entries=SHARED_PROGRAMS, show_spinner="Laying out the graph…")
def payload_of(program: str, seed: int, second: str | None, rankdir: str) -> ProgramPayload:
    trace = second_trace_of(program, seed, second) if second else trace_of(program, seed)
    return compressed_payload(trace, rankdir)

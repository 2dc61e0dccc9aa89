"""The page with the memory janitor started the way streamlit_app.py is to start it (see
ui/memory.py): what tests/test_session_memory.py and bench/memory.py serve until the page does
it itself. ``BACKPROP_JANITOR_SECONDS`` shortens the janitor's interval for the test."""

import os
import sys
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from ui import memory  # noqa: E402


@st.cache_resource(show_spinner=False)
def memory_janitor() -> memory.MemoryJanitor:
    return memory.MemoryJanitor.start(float(os.environ.get("BACKPROP_JANITOR_SECONDS", memory.DEFAULT_INTERVAL)))


memory_janitor()
PAGE = ROOT / "streamlit_app.py"
exec(compile(PAGE.read_text(), str(PAGE), "exec"), {"__name__": "__main__", "__file__": str(PAGE)})

"""The page, driven headlessly by Streamlit's AppTest: what a user does, and what they see."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.examples import load_examples

SEED_PROGRAM = "x = 2.0\ny = 3.0\nz = x * y + x\n"
TIMEOUT = 60  # CI machines are slow and noisy
APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def app(**query) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def dot(at: AppTest) -> str:
    return at.get("graphviz_chart")[0].proto.spec


def test_loads_with_the_first_example_and_no_exception():
    at = app()
    assert not at.exception
    assert at.text_area(key="editor").value == load_examples()[0].program
    assert "digraph" in dot(at)
    assert at.session_state["t"] == 0
    assert at.query_params["program"] == [load_examples()[0].program] or \
        at.query_params["program"] == load_examples()[0].program


def test_pick_an_example():
    at = app()
    mlp = next(e for e in load_examples() if "MLP" in e.title)
    at.selectbox(key="example").select(mlp.title).run()
    assert not at.exception
    assert at.text_area(key="editor").value == mlp.program
    assert "W1" in dot(at) and "loss" in dot(at)
    assert any(mlp.note[:30] in info.value for info in at.info)


def test_type_a_program_and_step_forward_back_and_to_the_end():
    at = app()
    at.text_area(key="editor").input(SEED_PROGRAM).run()
    trace = at.session_state["trace"]
    assert trace.t_end == 4
    at.button(key="step_next").click().run()
    assert at.session_state["t"] == 1
    assert any("Forward 1 of 2" in m.value for m in at.markdown)
    at.button(key="step_last").click().run()
    assert at.session_state["t"] == 4
    assert "ḡ 4 ✓" in dot(at)
    at.button(key="step_prev").click().run()
    assert at.session_state["t"] == 3
    assert "ḡ 1 (1 of 2)" in dot(at)
    at.button(key="step_first").click().run()
    assert at.session_state["t"] == 0
    at.slider(key="t").set_value(2).run()
    assert at.session_state["t"] == 2 and not at.exception


def test_an_error_keeps_the_text_and_the_last_graph():
    at = app()
    at.text_area(key="editor").input(SEED_PROGRAM).run()
    good = dot(at)
    broken = "x = 2.0\ny = 3.0\nz = x * * y\n"
    at.text_area(key="editor").input(broken).run()
    assert not at.exception
    assert at.text_area(key="editor").value == broken
    assert at.error and "Line 3" in at.error[0].value and "^" in at.error[0].value
    assert dot(at) == good
    assert any("last program that ran" in w.value for w in at.warning)
    at.text_area(key="editor").input(SEED_PROGRAM.replace("2.0", "5.0")).run()
    assert not at.error and not at.warning


def test_share_link_reproduces_the_step():
    at = app(program=SEED_PROGRAM, t="end", seed="0")
    assert at.text_area(key="editor").value == SEED_PROGRAM
    assert at.session_state["t"] == 4 and "ḡ 4 ✓" in dot(at)
    at = app(program=SEED_PROGRAM, t="3")
    assert at.session_state["t"] == 3
    at = app(program=SEED_PROGRAM, t="999")
    assert at.session_state["t"] == 4
    at = app(program=SEED_PROGRAM, t="nonsense", seed="-5")
    assert at.session_state["t"] == 0 and at.session_state["seed"] == 0 and not at.exception


def test_the_address_bar_follows_the_screen():
    at = app(program=SEED_PROGRAM)
    at.button(key="step_next").click().run()
    params = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert params["t"] == "1" and params["program"] == SEED_PROGRAM and params["seed"] == "0"
    at.button(key="step_last").click().run()
    params = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert params["t"] == "end"


@pytest.mark.parametrize("program", ["", "import os", "x = ones(10**9)", "x = (" * 5000, "\x00"])
def test_bad_programs_never_crash_the_page(program):
    at = app(program=program) if program else app()
    if not program:
        at.text_area(key="editor").input("   ").run()
    assert not at.exception

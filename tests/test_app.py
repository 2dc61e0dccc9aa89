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


# ---- lecture and self-study tools --------------------------------------------------------------------


def test_presentation_mode_hides_the_editor_and_keeps_the_step():
    at = app(program=SEED_PROGRAM, t="3")
    at.toggle(key="present").set_value(True).run()
    assert not at.exception
    assert not at.text_area and at.session_state["t"] == 3
    assert "fontsize=28" in dot(at)  # the graph's type is enlarged too
    assert any("Backward 1 of 2" in m.value for m in at.markdown)
    assert at.query_params["present"] in ("1", ["1"])
    at.toggle(key="present").set_value(False).run()
    assert at.text_area(key="editor").value == SEED_PROGRAM  # nothing typed is lost
    at = app(program=SEED_PROGRAM, present="1")
    assert not at.text_area


def test_autoplay_toggle_and_speed():
    at = app(program=SEED_PROGRAM, t="end")
    at.selectbox(key="speed").select(0.5).run()
    at.toggle(key="playing").set_value(True).run()
    assert not at.exception and at.session_state["playing"]
    assert at.session_state["t"] == 0  # switched on at the end: starts over
    assert not at.slider  # no slider while playing (a progress bar instead)
    assert at.query_params["autoplay"] in ("1", ["1"]) and at.query_params["speed"] in ("0.5", ["0.5"])
    at.button(key="step_next").click().run()
    at.button(key="step_next").click().run()
    assert at.session_state["t"] >= 1  # the step survives runs that draw no slider
    at.toggle(key="playing").set_value(False).run()
    assert not at.session_state["playing"] and at.slider


def test_what_if_changes_the_program_at_the_same_step():
    at = app(program=SEED_PROGRAM, t="3")
    (x_input,) = [w for w in at.number_input if w.label == "x"]
    x_input.set_value(5.0).run()
    assert not at.exception
    assert at.text_area(key="editor").value.startswith("x = 5.0\n")
    assert at.session_state["t"] == 3
    assert float(at.session_state["trace"].grads["x"]) == 4.0  # y + 1, whatever x is
    assert "= 20" in dot(at) or at.session_state["trace"].nodes[-1].value == 20.0


def check_table(at: AppTest):
    (table,) = [d.value for d in at.dataframe if "result" in d.value.columns]
    return table


def test_gradient_check_tab_runs_on_request():
    at = app(program=SEED_PROGRAM)
    at.button(key="run_check").click().run()
    assert not at.exception
    table = check_table(at)
    assert list(table["input"]) == ["x", "y"]
    assert list(table["result"]) == ["✓ pass", "✓ pass"]


def test_gradient_check_of_a_million_entries_uses_directions():
    at = app(program="W = randn(1000, 1000)\nloss = sum(W * W)\n")
    at.button(key="run_check").click().run()
    assert not at.exception and not at.error
    table = check_table(at)
    assert list(table["method"]) == ["directions"] and list(table["result"]) == ["✓ pass"]


def test_function_view_and_its_bad_ranges():
    at = app(program="x = 0.5\ny = sin(x) * x\n")
    assert not at.exception
    assert any(chart.proto.spec for chart in at.get("plotly_chart"))
    at.number_input(key="sweep_lo_x").set_value(3.0).run()
    at.number_input(key="sweep_hi_x").set_value(-3.0).run()
    assert not at.exception
    assert any("minimum must be less than its maximum" in e.value for e in at.error)
    at = app(program="W = randn(3, 2)\nloss = sum(W * W)\n")
    at.multiselect(key="sweep_inputs").select("W").run()
    assert not at.exception and any("scalar input" in e.value for e in at.error)


def test_second_order_opens_the_gradient_graph_and_comes_back():
    at = app(program="x = 1.5\ny = 0.5\nz = sin(x) * y + x * x * y\n")
    at.button(key="differentiate_again").click().run()
    assert not at.exception
    assert "dz_dx" in dot(at) and at.session_state["second"] == "x"
    assert any("Hessian" in m.value for m in at.markdown)
    at.button(key="second_back").click().run()
    assert at.session_state["second"] is None and "dz_dx" not in dot(at)


def test_export_offers_dot_json_script_and_svg():
    at = app(program=SEED_PROGRAM, t="end")
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Graph as DOT", "Trace as JSON", "Python script"} <= set(labels)
    at.button(key="render_svg").click().run()
    assert not at.exception and not at.error
    assert "Download SVG" in [b.proto.label for b in at.get("download_button")]


def test_constant_only_programs_and_unused_array_inputs_do_not_break_the_tabs():
    at = app(program="y = 2 * 3\n")
    assert not at.exception
    at = app(program="x = 2.0\nW = randn(2, 2)\nz = x * x\n")
    assert not at.exception
    assert any("Hessian-vector product" in m.value for m in at.markdown)

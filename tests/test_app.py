"""The page, driven headlessly by Streamlit's AppTest: what a user does, and what they see.

AppTest runs the script, not the browser: the step view is a components-v2 element it cannot
draw, so these tests read what the page sends it (the payload) and play the browser's part by
writing its report ({t, node, playing, speed, revision}) where the component's state lives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.examples import load_examples
from tests.page_model import SEED_PROGRAM, decode
from ui import state as S
from ui.names import COMPONENT, VIEW_STATE, Model, Widget

TIMEOUT = 60  # CI machines are slow and noisy
APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def app(**query) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def step_view(at: AppTest):
    (element,) = [e for e in at.get("bidi_component") if e.proto.component_name == COMPONENT]
    return element


def payload(at: AppTest) -> tuple:
    """(page part, program part) as the browser receives them."""
    return decode(step_view(at).proto.bytes)


def report(at: AppTest, **view) -> AppTest:
    """The browser reports its view (for the revision it has been given), with the frames its
    payload draws collapsed, as the step view always does."""
    state = at.session_state
    collapsed = [frame[0] for frame in payload(at)[1].get("frames", []) if frame[4]]
    full = {"t": state[Model.T], "node": state[Model.NODE], "playing": state[Model.PLAYING],
            "speed": state[Model.SPEED], "revision": state[Model.REVISION], "collapsed": collapsed, **view}
    at.session_state[Widget.STUDIO] = {VIEW_STATE: full}
    return at.run()


def link(at: AppTest) -> dict:
    return {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def node_titles(program: dict) -> list:
    return [title for kind, title, *_ in program["nodes"]]


def test_loads_with_the_first_example():
    at = app()
    assert not at.exception
    assert at.text_area(key=Widget.EDITOR).value == load_examples()[0].program
    page, program = payload(at)
    assert node_titles(program) == ["x", "y", "× #2", "z +"]
    assert program["tEnd"] == 4 and "<svg" in program["svg"]
    assert page["request"]["t"] == 0 and page["state"] == VIEW_STATE
    assert link(at)["program"] == load_examples()[0].program and link(at)["t"] == "0"


def test_pick_an_example():
    at = app()
    mlp = next(e for e in load_examples() if "MLP" in e.title)
    at.selectbox(key=Widget.EXAMPLE).select(mlp.title).run()
    assert not at.exception
    assert at.text_area(key=Widget.EDITOR).value == mlp.program
    _, program = payload(at)
    assert {"W1", "loss"} <= {title.split()[0] for title in node_titles(program)}
    assert any(mlp.note[:30] in info.value for info in at.info)


def test_the_browser_reports_its_step_and_the_link_follows():
    at = app(program=SEED_PROGRAM)
    revision = at.session_state[Model.REVISION]
    report(at, t=3, node=0)
    assert at.session_state[Model.T] == 3 and link(at)["t"] == "3" and link(at)["node"] == "0"
    page, _ = payload(at)
    assert page["revision"] == revision and page["request"]["t"] == 0  # no new request: the browser leads
    report(at, t=4, node=None)
    assert link(at)["t"] == "end" and "node" not in link(at)


def test_stepping_reuses_the_prepared_program():
    """The first report sends back the frames the payload drew collapsed (the program's default,
    resolved): the same prepared program, not a second run, layout and payload of it."""
    rnn = next(e for e in load_examples() if "RNN" in e.title).program
    for program in (SEED_PROGRAM, rnn):
        at = app(program=program)
        shown = at.session_state[Model.SHOWN][1]
        report(at, t=2)
        report(at, t=3)
        assert at.session_state[Model.SHOWN][1] is shown
        assert at.session_state[Model.T] == 3


def test_a_report_for_an_old_program_is_ignored():
    at = app(program=SEED_PROGRAM)
    old = at.session_state[Model.REVISION]
    at.text_area(key=Widget.EDITOR).input("a = 1.5\nb = a * a\n").run()
    at.session_state[Widget.STUDIO] = {VIEW_STATE: {"t": 3, "node": None, "playing": False, "speed": 1.0,
                                                     "revision": old}}
    at.run()
    assert at.session_state[Model.T] == 0 and link(at)["t"] == "0"


def test_type_a_program():
    at = app()
    at.text_area(key=Widget.EDITOR).input("a = 3.0\nb = a + a\n").run()
    page, program = payload(at)
    assert node_titles(program) == ["a", "b +"] and program["tEnd"] == 2
    assert page["request"]["t"] == 0 and link(at)["program"] == "a = 3.0\nb = a + a\n"


def test_an_error_keeps_the_text_and_the_last_graph():
    at = app(program=SEED_PROGRAM)
    good = step_view(at).proto.bytes
    broken = "x = 2.0\ny = 3.0\nz = x * * y\n"
    at.text_area(key=Widget.EDITOR).input(broken).run()
    assert not at.exception
    assert at.text_area(key=Widget.EDITOR).value == broken
    assert at.error and "Line 3" in at.error[0].value and "^" in at.error[0].value
    assert step_view(at).proto.bytes == good
    assert any("last program that ran" in w.value for w in at.warning)
    at.text_area(key=Widget.EDITOR).input(SEED_PROGRAM.replace("2.0", "5.0")).run()
    assert not at.error and not at.warning


def test_share_link_reproduces_the_step():
    at = app(program=SEED_PROGRAM, t="end", seed="0", node="1")
    assert at.text_area(key=Widget.EDITOR).value == SEED_PROGRAM
    page, program = payload(at)
    assert page["request"] == {"t": 4, "node": 1, "playing": False, "speed": 1.0, "predict": False}
    assert program["looks"][0][-1][4] == "ḡ 4 ✓"  # x's last look: its gradient, complete
    assert payload(app(program=SEED_PROGRAM, t="3"))[0]["request"]["t"] == 3
    assert payload(app(program=SEED_PROGRAM, t="999"))[0]["request"]["t"] == 4
    at = app(program=SEED_PROGRAM, t="nonsense", seed="-5")
    assert payload(at)[0]["request"]["t"] == 0 and at.session_state[Model.SEED] == 0


BAD_PROGRAMS = [
    ("import os", "import"),
    ("x = ones(1000000000)", "limit"),
    ("x = ones(2.5)", "written out"),
    ("x = " + "(" * 1000 + "1" + ")" * 1000, "nested"),
    ("\x00", "character"),
    ("x = log(-1.0)\n", "NaN"),
]


@pytest.mark.parametrize(("program", "words"), BAD_PROGRAMS, ids=[w for _, w in BAD_PROGRAMS])
def test_bad_programs_show_where_and_why(program, words):
    at = app(program=program)
    assert not at.exception
    assert at.error and words.lower() in at.error[0].value.lower()
    assert at.text_area(key=Widget.EDITOR).value == program  # nothing typed is lost
    assert not at.get("bidi_component")  # no program ran yet: no graph to show


def test_an_empty_editor_shows_an_error():
    at = app()
    at.text_area(key=Widget.EDITOR).input("   ").run()
    assert at.error and "empty" in at.error[0].value.lower()


# ---- lecture and self-study tools --------------------------------------------------------------------


def test_presentation_mode_hides_the_editor_and_keeps_the_step():
    at = app(program=SEED_PROGRAM, t="3")
    report(at, t=3)
    at.toggle(key=Widget.PRESENT).set_value(True).run()
    assert not at.exception
    assert not at.text_area and at.session_state[Model.T] == 3
    page, _ = payload(at)
    assert page["present"] is True and link(at)["present"] == "1"
    at.toggle(key=Widget.PRESENT).set_value(False).run()
    assert at.text_area(key=Widget.EDITOR).value == SEED_PROGRAM  # nothing typed is lost
    assert payload(at)[0]["present"] is False and "present" not in link(at)
    assert not app(program=SEED_PROGRAM, present="1").text_area


def test_autoplay_is_in_the_link_both_ways():
    at = app(program=SEED_PROGRAM, t="end")
    report(at, t=0, playing=True, speed=0.5)
    assert link(at)["autoplay"] == "1" and link(at)["speed"] == "0.5"
    page, _ = payload(app(**link(at)))
    assert page["request"]["playing"] is True and page["request"]["speed"] == 0.5
    report(at, playing=False)
    assert "autoplay" not in link(at) and "speed" not in link(at)


def test_layout_direction_lays_the_graph_out_again():
    at = app(program=SEED_PROGRAM)
    _, top_down = payload(at)
    at.radio(key=Widget.RANKDIR).set_value("LR").run()
    _, left_right = payload(at)
    assert link(at)["rankdir"] == "LR" and top_down["svg"] != left_right["svg"]
    assert top_down["looks"] == left_right["looks"]


def test_what_if_changes_the_program_at_the_same_step():
    at = app(program=SEED_PROGRAM, t="3")
    (x_input,) = [w for w in at.number_input if w.label == "x"]
    x_input.set_value(5.0).run()
    assert not at.exception
    assert at.text_area(key=Widget.EDITOR).value.startswith("x = 5.0\n")
    page, program = payload(at)
    assert page["request"]["t"] == 3
    assert float(at.session_state[Model.TRACE].grads["x"]) == 4.0  # y + 1, whatever x is
    assert program["looks"][3][-1][3] == "= 20"


def open_tab(at: AppTest, label: str) -> AppTest:
    """Open a tool tab (only the open one runs)."""
    at.session_state[Widget.TOOLS] = label
    return at.run()


def check_table(at: AppTest):
    (table,) = [d.value for d in at.dataframe if "input" in d.value.columns and "result" in d.value.columns]
    return table


def test_gradient_check_tab_runs_on_request():
    at = open_tab(app(program=SEED_PROGRAM), "Gradient check")
    assert not [d for d in at.dataframe if "input" in d.value.columns]  # nothing until asked
    at.button(key=Widget.CHECK_RUN).click().run()
    table = check_table(at)
    assert list(table["input"]) == ["x", "y"]
    assert list(table["result"]) == ["✓ pass", "✓ pass"]
    (x_entries,) = [d.value for d in at.dataframe if "entry" in d.value.columns and list(d.value["entry"]) == ["x"]]
    assert float(x_entries["engine"][0]) == 4.0 and abs(float(x_entries["finite differences"][0]) - 4.0) < 1e-6


def test_gradient_check_of_a_million_entries_uses_directions():
    at = open_tab(app(program="W = randn(1000, 1000)\nloss = sum(W * W)\n"), "Gradient check")
    at.button(key=Widget.CHECK_RUN).click().run()
    assert not at.error
    table = check_table(at)
    assert list(table["method"]) == ["directions"] and list(table["result"]) == ["✓ pass"]


def test_function_view_and_its_bad_ranges():
    at = app(program="x = 0.5\ny = sin(x) * x\n")
    assert not at.get("plotly_chart")  # a closed tab computes nothing
    open_tab(at, "Function view")
    assert any('"x"' in chart.proto.spec for chart in at.get("plotly_chart"))
    at.number_input(key=f"{Widget.SWEEP_LOW}x_0.5").set_value(3.0).run()
    at.number_input(key=f"{Widget.SWEEP_HIGH}x_0.5").set_value(-3.0).run()
    assert any("minimum must be less than its maximum" in e.value for e in at.error)
    at = open_tab(app(program="W = randn(3, 2)\nloss = sum(W * W)\n"), "Function view")
    at.multiselect(key=Widget.SWEEP_INPUTS).select("W").run()
    assert any("scalar input" in e.value for e in at.error)


def test_second_order_opens_the_gradient_graph_and_comes_back():
    at = open_tab(app(program="x = 1.5\ny = 0.5\nz = sin(x) * y + x * x * y\n"), "Second order")
    revision = at.session_state[Model.REVISION]
    at.button(key=Widget.SECOND_GO).click().run()
    assert not at.exception
    page, program = payload(at)
    assert any(title.startswith("dz_dx") for title in node_titles(program))
    assert at.session_state[Model.SECOND] == "x" and link(at)["second"] == "x"
    assert page["revision"] > revision and page["request"]["t"] == 0
    assert any("Hessian" in m.value for m in at.markdown)
    at.button(key=Widget.SECOND_BACK).click().run()
    assert at.session_state[Model.SECOND] is None
    assert not any(title.startswith("dz_dx") for title in node_titles(payload(at)[1]))


@pytest.fixture
def media_managers(monkeypatch) -> list:
    """The media managers AppTest makes, one per run, kept until the test ends: AppTest drops its
    run's runtime afterwards, a reference cycle that the garbage collector frees at any moment
    (finding the manager with gc.get_objects() failed whenever a collection came first)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    made, init = [], MediaFileManager.__init__

    def keep(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(MediaFileManager, "__init__", keep)
    return made


def download(at: AppTest, managers: list, label: str) -> bytes:
    """What clicking a download button sends: its file is made when clicked (a deferred callable,
    which the run's media manager runs as the server's would)."""
    (button,) = [b for b in at.get("download_button") if b.proto.label == label]
    file_id = button.proto.deferred_file_id
    (manager,) = [m for m in managers if file_id in m._deferred_callables]
    url = manager.execute_deferred(file_id)
    return manager._storage.get_file(url.rsplit("/", 1)[-1].split(".")[0]).content


def test_export_offers_dot_json_and_script_of_the_step_on_screen(media_managers):
    at = app(program=SEED_PROGRAM)
    report(at, t=3)
    buttons = {b.proto.label: b for b in at.get("download_button")}
    assert {"Graph as DOT", "Trace as JSON", "Python script"} <= set(buttons)
    assert all(b.proto.ignore_rerun for b in buttons.values())  # a download reruns nothing
    assert b"the graph at t = 3 of 4" in download(at, media_managers, "Graph as DOT")
    report(at, t=4)
    dot = download(at, media_managers, "Graph as DOT").decode()
    assert "the graph at t = 4 of 4" in dot and "ḡ 4 ✓" in dot
    assert json.loads(download(at, media_managers, "Trace as JSON"))["format"] == "backprop-studio/trace"
    assert b"import core as ad" in download(at, media_managers, "Python script")


def test_constant_only_programs_and_unused_array_inputs_do_not_break_the_tabs():
    at = app(program="y = 2 * 3\n")
    assert not at.exception and payload(at)[1]["tEnd"] == 0
    at = open_tab(app(program="x = 2.0\nW = randn(2, 2)\nz = x * x\n"), "Second order")
    assert any("Hessian-vector product" in m.value for m in at.markdown)


def test_what_if_with_hundreds_of_inputs_offers_a_few_at_a_time():
    from bench.programs import neuron_layer_program

    at = app(program=neuron_layer_program(10, 3))  # 40 scalar inputs
    boxes = [w for w in at.number_input if w.key and w.key.startswith(Widget.WHAT_IF)]
    assert len(boxes) == 8 and at.multiselect(key=Widget.WHAT_IF_INPUTS).value[:2] == ["x0", "x1"]


def test_opening_and_closing_a_frame_lays_the_graph_out_again():
    rnn = next(e for e in load_examples() if "RNN" in e.title).program
    at = app(program=rnn, t="10")
    _, program = payload(at)
    assert not any(f[4] for f in program["frames"]) and len(program["frames"]) == 4
    report(at, t=12, collapsed=[2])
    page, program = payload(at)
    assert [f[0] for f in program["frames"] if f[4]] == [2] and "f2" in program["svg"]
    assert link(at)["collapsed"] == "2" and at.session_state[Model.T] == 12
    assert page["request"]["t"] == 10  # the browser keeps its own step: no new request
    report(at, collapsed=[])
    assert not any(f[4] for f in payload(at)[1]["frames"]) and link(at)["collapsed"] == "none"


def test_training_draws_the_loss_and_opens_an_iterate_in_the_step_view():
    program = "w = 3.0\nb = -1.0\nloss = (w * 2.0 + b - 1.0) ** 2\n"
    at = open_tab(app(program=program), "Training")
    assert not at.get("plotly_chart")  # nothing until asked
    at.button(key=Widget.TRAIN_RUN).click().run()
    assert not at.exception and not at.error
    (chart,) = at.get("plotly_chart")
    assert "loss" in chart.proto.spec
    (caption,) = [c.value for c in at.caption if c.value.startswith("Loss")]
    assert "after 100 steps" in caption
    at.slider(key=Widget.TRAIN_ITERATE).set_value(1).run()
    at.button(key=Widget.TRAIN_OPEN).click().run()
    assert not at.exception and at.session_state[Model.ERROR] is None
    text = at.text_area(key=Widget.EDITOR).value
    assert not text.startswith("w = 3.0\n") and text.endswith("loss = (w * 2.0 + b - 1.0) ** 2\n")
    w1 = 3.0 - 0.1 * 2 * (3.0 * 2.0 - 1.0 - 1.0) * 2.0  # one step of gradient descent by hand
    trace = at.session_state[Model.TRACE]
    assert float(trace.nodes[trace.inputs["w"]].value) == pytest.approx(w1)


def test_training_a_program_without_a_scalar_output_says_why():
    at = open_tab(app(program="W = randn(2, 2)\nY = W @ W\n"), "Training")
    assert any("one number as its output" in i.value for i in at.info)


def mine_editor(at: AppTest):
    return at.text_area(key=S.mine_key(at.session_state))


@pytest.mark.parametrize("example", [e for e in load_examples() if e.claims], ids=lambda e: e.title[:30])
def test_find_the_bug_flags_the_first_wrong_node_and_the_solution_turns_green(example):
    at = app(program=SEED_PROGRAM)
    at.selectbox(key=Widget.EXAMPLE).select(example.title).run()
    assert mine_editor(at).value == example.claims
    (verdict,) = [e.value for e in at.error if "first goes wrong at" in e.value]
    page, _ = payload(at)
    first = page["firstWrong"]
    assert f"first goes wrong at {at.session_state[Model.TRACE].title(first)}:" in verdict
    assert [status for node, status, *_ in page["marks"] if node == first] == ["wrong"]
    assert link(at)["mine"] == example.claims
    at.button(key=Widget.MINE_SOLUTION).click().run()
    assert not at.exception and mine_editor(at).value == example.solution
    assert any("your derivation matches the backward pass" in s.value for s in at.success)
    page, _ = payload(at)
    assert page["firstWrong"] is None and {status for _, status, *_ in page["marks"]} == {"right"}


def test_a_claim_that_does_not_parse_keeps_its_text_and_shows_a_caret():
    at = app(program=SEED_PROGRAM)
    mine_editor(at).input("grad(z, x) = y +\n").run()
    assert not at.exception and mine_editor(at).value == "grad(z, x) = y +\n"
    (message,) = [e.value for e in at.error if e.value.startswith("My gradient")]
    assert "line 1" in message and "^" in message


def test_no_memory_janitor_runs_without_a_server():
    """AppTest's runtime is a mock: a janitor started on it would fail every round."""
    import threading

    app(program=SEED_PROGRAM)
    assert not [t for t in threading.enumerate() if t.name == "memory-janitor" and t.is_alive()]

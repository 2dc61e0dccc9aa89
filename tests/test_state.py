"""The page model on a plain dict: init from a link, running, the browser's reports, the server's
view requests, what-if edits, second order and the link itself."""

from __future__ import annotations

from tests.page_model import SEED_PROGRAM, fresh, report
from ui import state as S
from ui.names import Link, Model, Widget


def test_link_round_trip():
    state = fresh(program=SEED_PROGRAM, t="end", seed="7", rankdir="LR", present="1", node="1")
    assert state[Model.T] == 4 and state[Model.SEED] == 7 and state[Model.PRESENT] and state[Model.NODE] == 1
    assert state[Model.REQUEST] == {"t": 4, "node": 1, "playing": False, "speed": 1.0, "predict": False}
    params = S.link_params(state)
    assert params == {"program": SEED_PROGRAM, "seed": "7", "t": "end", "node": "1", "rankdir": "LR", "present": "1"}
    again = fresh(**params)
    assert again[Model.T] == state[Model.T] and S.editor_text(again) == SEED_PROGRAM


def test_bad_link_values_fall_back():
    state = fresh(program=SEED_PROGRAM, t="999", seed="-5", node="77", speed="fast")
    assert state[Model.T] == 4 and state[Model.SEED] == 0 and state[Model.NODE] is None
    assert state[Model.SPEED] == S.DEFAULT_SPEED
    assert fresh(program=SEED_PROGRAM, t="nonsense")[Model.T] == 0


def test_reports_move_the_model_and_the_link():
    state = fresh(program=SEED_PROGRAM)
    assert report(state, t=3, node=0)
    assert state[Model.T] == 3 and state[Model.NODE] == 0
    assert S.link_params(state)[Link.T] == "3" and S.link_params(state)[Link.NODE] == "0"
    assert report(state, t=4, node=None, playing=True, speed=0.5)
    assert S.link_params(state) == {"program": SEED_PROGRAM, "seed": "0", "t": "end", "autoplay": "1", "speed": "0.5"}
    assert not report(state)  # the same view again: nothing changes


def test_reports_are_clamped_and_checked():
    state = fresh(program=SEED_PROGRAM)
    report(state, t=99, node=42, speed=7)
    assert state[Model.T] == 4 and state[Model.NODE] is None and state[Model.SPEED] == 3.0
    report(state, t="2", node=True)  # not integers: t stays, node cleared
    assert state[Model.T] == 4 and state[Model.NODE] is None
    assert not S.apply_view_report(state, "garbage") and not S.apply_view_report(state, None)


def test_a_report_from_before_the_last_request_is_ignored():
    state = fresh(program=SEED_PROGRAM, t="3")
    old_revision = state[Model.REVISION]
    state[Widget.EDITOR] = "a = 1.0\nb = a * a\n"
    S.run_editor(state)  # a new program: the server asks for t = 0 at a new revision
    assert state[Model.REVISION] == old_revision + 1 and state[Model.REQUEST]["t"] == 0
    stale = {"t": 3, "node": None, "playing": False, "speed": 1.0, "revision": old_revision}
    assert not S.apply_view_report(state, stale) and state[Model.T] == 0


def test_same_program_shape_keeps_the_step_and_the_end_stays_the_end():
    state = fresh(program=SEED_PROGRAM, t="3")
    state[Widget.EDITOR] = SEED_PROGRAM.replace("2.0", "5.0")
    S.run_editor(state)
    assert state[Model.REQUEST]["t"] == 3
    report(state, t=4)
    state[Widget.EDITOR] = "x = 1.0\nz = x * x * x\n"
    S.run_editor(state)
    assert state[Model.REQUEST]["t"] == state[Model.TRACE].t_end


def test_what_if_edits_the_program_and_keeps_the_step():
    state = fresh(program="x = 2.0  # the input\ny = 3.0\nz = x * y + x\n", t="3")
    revision = state[Model.REVISION]
    S.set_input_value(state, "x", 5.0)
    assert S.editor_text(state) == "x = 5.0  # the input\ny = 3.0\nz = x * y + x\n"
    assert state[Model.REQUEST]["t"] == 3 and state[Model.REVISION] == revision + 1
    assert float(state[Model.TRACE].grads["x"]) == 4.0
    assert float(state[Model.TRACE].nodes[state[Model.TRACE].output].value) == 20.0
    assert S.replace_input_literal("xx = 1.0\nx = 2.0\n", "x", 3.0) == "xx = 1.0\nx = 3.0\n"


def test_second_order_view_and_back():
    state = fresh(program=SEED_PROGRAM, t="end")
    S.set_second_order(state, "x")
    trace = S.active_trace(state)
    assert trace is state[Model.SECOND_TRACE] and state[Model.REQUEST]["t"] == 0
    assert S.link_params(state)["second"] == "x"
    assert fresh(**S.link_params(state))[Model.SECOND] == "x"
    S.set_second_order(state, None)
    assert S.active_trace(state) is state[Model.TRACE]
    S.set_second_order(state, "nope")
    assert state[Model.ERROR] is not None and S.active_trace(state) is state[Model.TRACE]


def test_errors_keep_the_last_trace():
    state = fresh(program=SEED_PROGRAM)
    good, revision = state[Model.TRACE], state[Model.REVISION]
    state[Widget.EDITOR] = "x = = 2"
    S.run_editor(state)
    assert state[Model.TRACE] is good and state[Model.STALE] and state[Model.ERROR].line == 1
    assert state[Model.REVISION] == revision  # the browser keeps its step on the old graph


def test_what_if_on_one_line_programs_and_with_an_error_in_the_editor():
    state = fresh(program="x = 2.0; y = 3.0; z = x*y + x  # comment\n")
    S.set_input_value(state, "x", 5.0)
    assert S.editor_text(state) == "x = 5.0; y = 3.0; z = x*y + x  # comment\n"
    assert float(state[Model.TRACE].nodes[state[Model.TRACE].output].value) == 20.0
    state[Widget.EDITOR] = "x = 5.0; y = = 3"
    S.run_editor(state)
    S.set_input_value(state, "y", 1.0)
    assert S.editor_text(state) == "x = 5.0; y = = 3" and "fix it" in state[Model.ERROR].message
    assert S.replace_input_literal("x = 2.0\nz = x\n", "nope", 1.0) is None


def test_an_unknown_second_order_name_in_a_link_is_ignored():
    state = fresh(program=SEED_PROGRAM, second="[click](https://example.com)")
    assert state[Model.SECOND] is None and state[Model.ERROR] is None


def test_the_example_note_hides_when_the_program_no_longer_matches():
    state = fresh()
    assert state[Widget.EXAMPLE] is not None and S.example_note(state)
    state[Widget.EDITOR] = S.editor_text(state) + "w = 1.0\n"
    assert S.example_note(state) is None


def test_the_tool_cache_keeps_only_the_newest_results():
    state = {}
    for k in range(S.TOOL_CACHE_ENTRIES + 5):
        S.remember(state, ("tool", k), lambda k=k: k)
    cache = state[Model.TOOL_CACHE]
    assert len(cache) == S.TOOL_CACHE_ENTRIES and ("tool", 0) not in cache
    assert ("tool", S.TOOL_CACHE_ENTRIES + 4) in cache
    calls = []
    S.remember(state, ("tool", S.TOOL_CACHE_ENTRIES + 4), lambda: calls.append(1))
    assert not calls  # a kept result is not computed again


def test_collapsed_frames_are_in_the_link_and_in_the_reports():
    state = fresh(program=SEED_PROGRAM, collapsed="2,1")
    assert state[Model.COLLAPSED] == frozenset({1, 2}) and S.link_params(state)[Link.COLLAPSED] == "1,2"
    assert fresh(program=SEED_PROGRAM, collapsed="none")[Model.COLLAPSED] == frozenset()
    assert fresh(program=SEED_PROGRAM, collapsed="x,y")[Model.COLLAPSED] is None  # the default
    state = fresh(program=SEED_PROGRAM)
    assert Link.COLLAPSED not in S.link_params(state)
    assert report(state, collapsed=[3])
    assert state[Model.COLLAPSED] == frozenset({3}) and S.link_params(state)[Link.COLLAPSED] == "3"
    report(state, collapsed=[])
    assert S.link_params(state)[Link.COLLAPSED] == "none"
    report(state, collapsed="all")  # not a list of frame ids: ignored
    assert state[Model.COLLAPSED] == frozenset()


def test_a_reconnecting_browsers_editor_text_runs_once_and_the_links_program_not_again():
    """After a server restart the session starts from the link; the editor the browser still holds
    may have more in it (typed, not run), which runs when the editor is first drawn."""
    from core.errors import AutodiffError
    from core.language import run

    ran = []

    def counting(text, seed):
        ran.append(text)
        return run(text, seed=seed)

    state = {}
    S.init(state, {"program": SEED_PROGRAM, "t": "3"}, run_program=counting)
    assert state[Model.T] == 3 and ran == [SEED_PROGRAM]
    state[Widget.EDITOR] = SEED_PROGRAM + "w = z * 2\n"  # what the browser sent
    S.adopt_editor(state, state[Widget.EDITOR], counting)
    assert ran[-1] == SEED_PROGRAM + "w = z * 2\n" and state[Model.PROGRAM] == ran[-1] and state[Model.T] == 0
    S.adopt_editor(state, state[Widget.EDITOR], counting)  # only the first drawing
    assert len(ran) == 2

    same = {}
    S.init(same, {"program": SEED_PROGRAM, "t": "3"}, run_program=counting)
    S.adopt_editor(same, SEED_PROGRAM, counting)  # the link's own text: no second run
    assert len(ran) == 3 and same[Model.T] == 3

    def failing(text, seed):  # a program stopped by its time budget costs that time once, not twice
        ran.append(text)
        raise AutodiffError("stopped after 10 s")

    slow = {}
    S.init(slow, {"program": SEED_PROGRAM}, run_program=failing)
    S.adopt_editor(slow, SEED_PROGRAM, failing)
    assert len(ran) == 4 and slow[Model.ERROR] is not None


def test_an_example_that_fails_to_run_keeps_the_last_graph_and_one_that_runs_starts_at_its_beginning():
    from core.errors import AutodiffError
    from core.examples import load_examples
    from core.language import run

    state = fresh(program=SEED_PROGRAM, t="end")
    before = state[Model.TRACE]

    def busy(text, seed):
        raise AutodiffError("the server is busy")

    example = load_examples()[1]
    state[Widget.EXAMPLE] = example.title
    S.on_example(state, busy)
    assert state[Model.TRACE] is before and state[Model.STALE] and state[Model.ERROR] is not None
    S.on_example(state, lambda text, seed: run(text, seed=seed))
    assert state[Model.PROGRAM] == example.program and state[Model.T] == 0 and not state[Model.STALE]
    state[Model.T] = 3  # choosing it again, the same shape as the graph shown: still from its beginning
    S.on_example(state, lambda text, seed: run(text, seed=seed))
    assert state[Model.T] == 0

"""The session-state logic, on a plain dict: init from a link, running, stepping, autoplay,
what-if edits, second order and the link itself."""

from __future__ import annotations

from ui import state as S

SEED_PROGRAM = "x = 2.0\ny = 3.0\nz = x * y + x\n"


def fresh(**query) -> dict:
    state = {}
    S.init(state, query)
    return state


def test_link_round_trip():
    state = fresh(program=SEED_PROGRAM, t="end", seed="7", rankdir="LR", present="1")
    assert state[S.T] == 4 and state[S.SEED] == 7 and state[S.PRESENT]
    params = S.link_params(state)
    assert params == {"program": SEED_PROGRAM, "seed": "7", "t": "end", "rankdir": "LR", "present": "1"}
    again = fresh(**params)
    assert again[S.T] == state[S.T] and again[S.EDITOR] == SEED_PROGRAM


def test_stepping_is_clamped():
    state = fresh(program=SEED_PROGRAM)
    S.step_to(state, "prev")
    assert state[S.T] == 0
    S.step_to(state, "last")
    S.step_to(state, "next")
    assert state[S.T] == 4


def test_autoplay_advances_one_step_per_interval_and_parks_at_the_end():
    state = fresh(program=SEED_PROGRAM, autoplay="1", speed="0.5")
    assert state[S.PLAYING] and state[S.SPEED] == 0.5
    start = state[S.LAST_TICK]  # the link's own step is shown for one interval first
    assert not S.tick(state, now=start + 0.1) and state[S.T] == 0
    assert S.tick(state, now=start + 0.5) and state[S.T] == 1
    assert not S.tick(state, now=start + 0.6) and state[S.T] == 1  # too soon
    assert S.tick(state, now=start + 1.0) and state[S.T] == 2
    S.tick(state, now=start + 1.5)
    S.tick(state, now=start + 2.0)
    assert not S.tick(state, now=start + 2.5)  # at the end: parked
    assert state[S.T] == 4 and state[S.PLAYING]
    assert S.link_params(state)["autoplay"] == "1"
    S.on_play_toggled(state)  # switched on again at the end: from the start
    assert state[S.T] == 0
    state[S.PLAYING] = False
    assert not S.tick(state, now=start + 100.0) and "autoplay" not in S.link_params(state)


def test_what_if_edits_the_program_and_keeps_the_step():
    state = fresh(program="x = 2.0  # the input\ny = 3.0\nz = x * y + x\n", t="3")
    S.set_input_value(state, "x", 5.0)
    assert state[S.EDITOR] == "x = 5.0  # the input\ny = 3.0\nz = x * y + x\n"
    assert state[S.T] == 3 and float(state[S.TRACE].grads["x"]) == 4.0
    assert float(state[S.TRACE].nodes[state[S.TRACE].output].value) == 20.0
    assert S.replace_input_literal("xx = 1.0\nx = 2.0\n", "x", 3.0) == "xx = 1.0\nx = 3.0\n"


def test_second_order_view_and_back():
    state = fresh(program=SEED_PROGRAM, t="end")
    S.set_second_order(state, "x")
    trace = S.active_trace(state)
    assert trace is state[S.SECOND_TRACE] and state[S.T] == 0
    assert S.link_params(state)["second"] == "x"
    assert fresh(**S.link_params(state))[S.SECOND] == "x"
    S.set_second_order(state, None)
    assert S.active_trace(state) is state[S.TRACE]
    S.set_second_order(state, "nope")
    assert state[S.ERROR] is not None and S.active_trace(state) is state[S.TRACE]


def test_errors_keep_the_last_trace():
    state = fresh(program=SEED_PROGRAM)
    good = state[S.TRACE]
    state[S.EDITOR] = "x = = 2"
    S.run_editor(state)
    assert state[S.TRACE] is good and state[S.STALE] and state[S.ERROR].line == 1


def test_an_autoplay_link_shows_its_own_step_first():
    import time

    state = fresh(program=SEED_PROGRAM, t="2", autoplay="1")
    assert not S.tick(state, now=time.monotonic()) and state[S.T] == 2
    assert S.link_params(state)["t"] == "2"


def test_what_if_on_one_line_programs_and_with_an_error_in_the_editor():
    state = fresh(program="x = 2.0; y = 3.0; z = x*y + x  # comment\n")
    S.set_input_value(state, "x", 5.0)
    assert state[S.EDITOR] == "x = 5.0; y = 3.0; z = x*y + x  # comment\n"
    assert float(state[S.TRACE].nodes[state[S.TRACE].output].value) == 20.0
    state[S.EDITOR] = "x = 5.0; y = = 3"
    S.run_editor(state)
    S.set_input_value(state, "y", 1.0)
    assert state[S.EDITOR] == "x = 5.0; y = = 3" and "fix it" in state[S.ERROR].message
    assert S.replace_input_literal("x = 2.0\nz = x\n", "nope", 1.0) is None


def test_an_unknown_second_order_name_in_a_link_is_ignored():
    state = fresh(program=SEED_PROGRAM, second="[click](https://example.com)")
    assert state[S.SECOND] is None and state[S.ERROR] is None

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
    assert S.tick(state, now=100.0) and state[S.T] == 1
    assert not S.tick(state, now=100.1) and state[S.T] == 1  # too soon
    assert S.tick(state, now=100.6) and state[S.T] == 2
    S.tick(state, now=101.2)
    S.tick(state, now=101.8)
    assert not S.tick(state, now=102.4)  # at the end: parked
    assert state[S.T] == 4 and state[S.PLAYING]
    assert S.link_params(state)["autoplay"] == "1"
    S.on_play_toggled(state)  # switched on again at the end: from the start
    assert state[S.T] == 0
    state[S.PLAYING] = False
    assert not S.tick(state, now=200.0) and "autoplay" not in S.link_params(state)


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

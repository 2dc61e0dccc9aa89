"""The page model on a plain dict, as the state and derivation tests drive it: a session opened
from a link, and the step view's report of its view."""

from __future__ import annotations

from ui import state as S
from ui.names import Model

SEED_PROGRAM = "x = 2.0\ny = 3.0\nz = x * y + x\n"


def fresh(**query) -> dict:
    state = {}
    S.init(state, query)
    return state


def report(state, **view) -> bool:
    """What the step view sends back, for the revision it has."""
    full = {"t": state[Model.T], "node": state[Model.NODE], "playing": state[Model.PLAYING],
            "speed": state[Model.SPEED], "revision": state[Model.REVISION], **view}
    return S.apply_view_report(state, full)

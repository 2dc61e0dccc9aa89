"""The page model as the tests drive it: a session opened from a link, on a plain dict, the step
view's report of its view, and the step view's payload decoded as the browser reads it."""

from __future__ import annotations

import gzip
import json

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


def decode(data: bytes) -> tuple:
    """The page part and the program part of a payload, as the browser reads them."""
    head, body = data.split(b"\n", 1)
    return json.loads(head), expanded(json.loads(gzip.decompress(body)))


def expanded(data: dict) -> dict:
    """Looks with the lines carried over from the entry before (None in the payload)."""
    for looks in data["looks"]:
        for k in range(1, len(looks)):
            looks[k] = [looks[k - 1][i] if v is None else v for i, v in enumerate(looks[k])]
    return data

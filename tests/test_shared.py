"""The store of prepared programs that all sessions share: bounded in bytes and in idle time,
each program prepared once however many sessions ask at once, failures never kept."""

from __future__ import annotations

import threading
import time

import pytest

from core.errors import AutodiffError
from ui.shared import ProgramStore
from ui.studio import Prepared


def prepared(nbytes: int) -> Prepared:
    return Prepared(trace=None, payload=None, nbytes=nbytes)


def test_the_least_recently_used_go_first_past_the_budget():
    store = ProgramStore(budget=100)
    a = store.get(("a",), lambda: prepared(40))
    store.get(("b",), lambda: prepared(40))
    assert store.get(("a",), lambda: pytest.fail("kept: not prepared again")) is a  # a is now the newest
    store.get(("c",), lambda: prepared(40))  # 120 > 100: b, the least recently used, goes
    assert store.nbytes == 80 and len(store) == 2
    calls = []
    store.get(("b",), lambda: calls.append(1) or prepared(10))
    assert calls == [1]


def test_one_entry_bigger_than_the_budget_is_still_served():
    store = ProgramStore(budget=10)
    big = store.get(("big",), lambda: prepared(50))
    assert big.nbytes == 50 and len(store) == 1


def test_idle_entries_are_dropped():
    now = [0.0]
    store = ProgramStore(budget=1000, idle_seconds=30, clock=lambda: now[0])
    store.get(("a",), lambda: prepared(10))
    now[0] = 20.0
    store.get(("b",), lambda: prepared(10))
    now[0] = 40.0
    assert store.drop_idle() == 1 and len(store) == 1 and store.nbytes == 10
    now[0] = 100.0
    assert store.drop_idle() == 1 and len(store) == 0


def test_a_program_is_prepared_once_for_many_sessions_at_once():
    store = ProgramStore(budget=1000)
    calls, results = [], []

    def slow():
        calls.append(1)
        time.sleep(0.2)
        return prepared(1)

    threads = [threading.Thread(target=lambda: results.append(store.get(("lecture",), slow))) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 20 and len({id(r) for r in results}) == 1


def test_failures_are_not_kept():
    store = ProgramStore(budget=1000)

    def broken():
        raise AutodiffError("no")

    with pytest.raises(AutodiffError):
        store.get(("p",), broken)
    assert len(store) == 0 and store.get(("p",), lambda: prepared(1)).nbytes == 1

"""What every session shares: prepared programs, the job workers, the memory janitor.

A lecture is 200 students opening one link: the program runs, and its graph is laid out, once for
all of them, in a job worker (``ui/jobs.py``) within a time and a memory budget, so that one
session's program never holds the server. Prepared programs (trace and payload) live in one store
per server with a byte budget, the least recently used dropped first; a session keeps only the
one or two it shows. Everything here is created once per server process through
``st.cache_resource``, never as a module global.

Budgets (documented in docs/architecture.md):

- running a program and preparing its step view: ``RUN_SECONDS`` of wall time and ``RUN_MEMORY``
  in the worker; the pass it keeps at most ``studio.MAX_TRACE_BYTES``;
- the tools (gradient check, sweeps, Hessian): ``TOOL_SECONDS`` each;
- the store of prepared programs: ``STORE_BYTES`` in all, each entry dropped once nobody asked
  for it for ``STORE_IDLE_SECONDS`` (a session keeps what it shows: at most its program and its
  gradient's graph, so a session holds at most 2 × ``studio.MAX_TRACE_BYTES``; when the sessions
  have ended, the memory janitor gives the memory back).
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict

import streamlit as st

from . import memory, studio
from .jobs import JobPool

RUN_SECONDS = 10.0
RUN_MEMORY = 1 << 30
TOOL_SECONDS = 8.0
STORE_BYTES = 1536 << 20
STORE_IDLE_SECONDS = 30.0  # a prepared program nobody asked for this long is dropped


class ProgramStore:
    """Prepared programs by (program, seed, second, rankdir), within ``budget`` bytes in all.

    Thread-safe, and a key is prepared once however many sessions ask at the same moment (200
    students opening one link); a failure is raised to every caller and not kept."""

    def __init__(self, budget: int, idle_seconds: float = STORE_IDLE_SECONDS, clock=time.monotonic):
        self.budget = budget
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._entries: OrderedDict = OrderedDict()
        self._used: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self._key_locks: dict = {}

    def get(self, key: tuple, prepare) -> studio.Prepared:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._used[key] = self._clock()
                return self._entries[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._entries:
                    return self._entries[key]
            try:
                prepared = prepare()
            finally:
                with self._lock:
                    self._key_locks.pop(key, None)
            with self._lock:
                self._entries[key] = prepared
                self._used[key] = self._clock()
                self._bytes += prepared.nbytes
                while self._bytes > self.budget and len(self._entries) > 1:
                    self._drop(next(iter(self._entries)))
            return prepared

    def drop_idle(self) -> int:
        """Drop the entries nobody asked for in ``idle_seconds``; returns how many."""
        with self._lock:
            now = self._clock()
            idle = [key for key, used in self._used.items() if now - used > self.idle_seconds]
            for key in idle:
                self._drop(key)
            return len(idle)

    def _drop(self, key) -> None:
        self._bytes -= self._entries.pop(key).nbytes
        del self._used[key]

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


@st.cache_resource(show_spinner=False)
def job_pool() -> JobPool:
    return JobPool()


@st.cache_resource(show_spinner=False)
def program_store() -> ProgramStore:
    # BACKPROP_STORE_IDLE_SECONDS: a shorter idle time for the session-memory test.
    return ProgramStore(STORE_BYTES, float(os.environ.get("BACKPROP_STORE_IDLE_SECONDS", STORE_IDLE_SECONDS)))


@st.cache_resource(show_spinner=False)
def memory_janitor() -> memory.MemoryJanitor | None:
    from streamlit import config
    from streamlit.runtime import Runtime

    # AppTest runs the page without a server (its runtime is a mock): no sessions to look after.
    if not Runtime.exists() or config.get_option("global.appTest"):
        return None
    # BACKPROP_JANITOR_SECONDS: a shorter round for the session-memory test.
    interval = float(os.environ.get("BACKPROP_JANITOR_SECONDS", memory.DEFAULT_INTERVAL))
    return memory.MemoryJanitor.start(interval, sweepers=(program_store().drop_idle,))


def prepared(program: str, seed: int, second: str | None, rankdir: str, collapsed=None) -> studio.Prepared:
    """The program prepared for the step view, with the frames ``collapsed`` (None: the program's
    default), run in a job worker the first time anyone asks."""
    collapsed = None if collapsed is None else frozenset(collapsed)
    return program_store().get((program, seed, second, rankdir, collapsed), lambda: job_pool().run(
        studio.prepare, program, seed, second, rankdir, collapsed, seconds=RUN_SECONDS, memory_bytes=RUN_MEMORY))


def bounded(fn, *args, **kwargs):
    """A tool's computation in a job worker, within TOOL_SECONDS."""
    return job_pool().run(fn, *args, seconds=TOOL_SECONDS, memory_bytes=RUN_MEMORY, **kwargs)

"""Give memory back when sessions end: Streamlit alone keeps it (issue 12).

What keeps a closed session's memory in a Streamlit 1.67 server, measured with
``tests/test_session_memory.py`` (three sessions of a 230 MB trace each: 187 MB before, 1.57 GB
after they closed):

1. **Disconnected sessions are stored for a reconnect** (``server.disconnectedSessionTTL``,
   120 s by default, up to 128 sessions), with their whole ``st.session_state``: traces included.
   Worse, the store (a ``TTLCache``) only drops an expired session when something *writes* to it,
   i.e. when another session disconnects: after the last student leaves, the last sessions stay
   forever (1.57 GB still held 20 s after the TTL had passed). And a session dropped that way is
   never shut down, so its media files (download buttons: exports) stay in the media store.
2. **Reference cycles** among a session's objects wait for a full collection, which may not come
   soon (and none at all after the last script run if ``runner.postScriptGC`` is off).
3. **glibc keeps freed memory** in its per-thread arenas (each session's script thread allocates
   from its own): after the sessions were dropped and collected, RSS stayed ~400 MB above its
   start until ``malloc_trim(0)`` handed the free pages back.

``MemoryJanitor`` fixes all three from one background thread, every ``interval`` seconds: it
shuts down stored sessions whose TTL has passed (on the server's event loop, as Streamlit closes
sessions), then, if any session ended since its last round, runs ``gc.collect()`` and
``malloc_trim(0)``. An idle server costs nothing. With the short TTL of ``.streamlit/config.toml``
(``disconnectedSessionTTL = 30``: a network blip shorter than that resumes the session; after
longer, the page is rebuilt from the link), memory is back near its start about 40 s after the
last session closed.

Where the page starts it (once per server process, held by ``st.cache_resource``, never a module
global)::

    @st.cache_resource
    def memory_janitor() -> memory.MemoryJanitor:
        return memory.MemoryJanitor.start()

    memory_janitor()   # at the top of streamlit_app.py, after set_page_config

It reads Streamlit internals (``Runtime._session_mgr._session_storage._cache``, the event
loop), guarded: if a Streamlit upgrade moves them, it logs once and keeps doing the rest; the
session-memory test then fails, which is the signal to look here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import threading

_LOG = logging.getLogger(__name__)
DEFAULT_INTERVAL = 10.0
SETTLE_ROUNDS = 2  # rounds that still collect after a session ended


def release_heap() -> None:
    """Hand free heap pages of every glibc arena back to the OS (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _shut_down_expired_sessions(session_manager) -> int:
    """On the event loop: drop the stored disconnected sessions whose TTL has passed, shutting
    each down as Streamlit does for a closed one (uploaded and media files, session caches, its
    script thread). Returns how many."""
    storage_cache = session_manager._session_storage._cache  # streamlit.runtime.caching.ttl_cache.TTLCache
    with session_manager._storage_lock:
        now = storage_cache.timer()
        expired = [info for key, info in storage_cache._data.items() if storage_cache._expirations[key] <= now]
        storage_cache.expire(now)
    for info in expired:
        with contextlib.suppress(Exception):
            info.session.shutdown()
            _empty(info.session)
    return len(expired)


def _empty(session) -> None:
    """Drop what a shut-down session holds. It can still be referenced: Streamlit's message loop
    keeps the last session it flushed in a loop variable of its coroutine until a message for
    another session comes. ``SessionState.clear()`` leaves the widgets' metadata, whose callbacks
    and ``format_func`` closures can hold a trace, so that goes too."""
    state = session.session_state
    state.clear()
    metadata = getattr(getattr(state, "_new_widget_state", None), "widget_metadata", None)
    if isinstance(metadata, dict):
        metadata.clear()


class MemoryJanitor:
    """A daemon thread that returns the memory of ended sessions to the OS (see the module)."""

    def __init__(self, runtime, interval: float = DEFAULT_INTERVAL):
        self._runtime = runtime
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-janitor", daemon=True)
        self._active = None
        self._rounds_to_release = 0
        self._warned = False
        self.rounds = self.sessions_shut_down = self.releases = 0  # for tests and logs
        self.sweepers: tuple = ()

    @classmethod
    def start(cls, interval: float = DEFAULT_INTERVAL, sweepers: tuple = ()) -> MemoryJanitor:
        """A running janitor for this Streamlit server. ``sweepers`` are called every round too,
        each returning how many things it let go (the page's store of prepared programs drops
        the ones nobody used for a while)."""
        from streamlit.runtime import Runtime

        janitor = cls(Runtime.instance(), interval)
        janitor.sweepers = tuple(sweepers)
        janitor._thread.start()
        return janitor

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - the janitor must never take the server down
                _LOG.exception("memory janitor: sweep failed")

    def sweep(self) -> None:
        """One round: shut down expired stored sessions; if a session ended in this round or in
        the last ``SETTLE_ROUNDS``, collect garbage and trim the heap. (A session shut down now
        is often still referenced by its finishing script thread or a pending callback: it
        becomes garbage a moment later, so one collection right away is not enough.)"""
        self.rounds += 1
        manager = self._runtime._session_mgr
        ended = self._shut_down_expired(manager) + sum(sweep() for sweep in self.sweepers)
        active = manager.num_active_sessions()
        if self._active is not None and active < self._active:
            ended += self._active - active
        self._active = active
        if ended:
            self._rounds_to_release = SETTLE_ROUNDS + 1
        if self._rounds_to_release:
            self._rounds_to_release -= 1
            gc.collect()
            release_heap()
            self.releases += 1

    def _shut_down_expired(self, manager) -> int:
        """Run ``_shut_down_expired_sessions`` on the server's event loop and wait for it."""
        try:
            loop = self._runtime._get_async_objs().eventloop
            future = asyncio.run_coroutine_threadsafe(_call(_shut_down_expired_sessions, manager), loop)
            count = future.result(timeout=10)
        except Exception as exc:  # noqa: BLE001 - Streamlit internals moved, or the loop is gone
            if not self._warned:
                _LOG.warning("memory janitor: cannot reach Streamlit's session store (%s); "
                             "stored sessions expire only when another session disconnects", exc)
                self._warned = True
            return 0
        self.sessions_shut_down += count
        return count


async def _call(function, *args):
    return function(*args)

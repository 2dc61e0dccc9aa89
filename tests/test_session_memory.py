"""Sessions that end give their memory back: the real server, protocol-level sessions, its RSS.

Three sessions each run a program whose trace holds about 230 MB, then close. Streamlit alone
keeps their memory (stored for a reconnect, then held by its message loop and glibc's arenas:
see ui/memory.py); with the memory janitor the server's RSS must come back within 100 MB of
where it was before they came. bench/memory.py does the same with 200 sessions.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.protocol import AppServer, StreamlitSession

# 8 arrays of 10⁶ numbers: about 230 MB of values, contributions and running sums in its trace.
BIG_PROGRAM = ("A = randn(1000, 1000)\nB = A * A\nC = B * A\nD = C * B\nE = D * C\nF = E * D\nG = F * E\n"
               "H = G * F\ns = sum(H)\n")
MB = 1 << 20


async def sessions_come_and_go(url: str, count: int) -> list:
    """Open ``count`` sessions of BIG_PROGRAM at once, run the page in each, close them all."""
    # A seed each: sessions of one program share its trace, these must each hold their own.
    sessions = [StreamlitSession(url, query={"program": BIG_PROGRAM, "seed": seed, "t": 0})
                for seed in range(100, 100 + count)]
    for session in sessions:
        await session.connect()
    try:
        return await asyncio.gather(*[session.rerun() for session in sessions])
    finally:
        for session in sessions:
            await session.close()


def settled_rss(server: AppServer, timeout: float, below: float | None = None) -> int:
    """The server's RSS once it stops falling (or drops under ``below``), within ``timeout``."""
    deadline = time.monotonic() + timeout
    previous = server.rss_bytes()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        current = server.rss_bytes()
        if (below is not None and current <= below) or (below is None and abs(current - previous) < 2 * MB):
            return current
        previous = current
    return server.rss_bytes()


@pytest.mark.slow
def test_memory_returns_after_sessions_end():
    # A 1 s reconnect window and a janitor round every 0.5 s, so the test takes seconds, not minutes.
    with AppServer("--server.disconnectedSessionTTL", "1", app="streamlit_app.py",
                   env={"BACKPROP_JANITOR_SECONDS": "0.5", "BACKPROP_STORE_IDLE_SECONDS": "1"}) as server:
        asyncio.run(sessions_come_and_go(server.url, 1))  # imports and first-use caches
        before = settled_rss(server, 10)
        results = asyncio.run(sessions_come_and_go(server.url, 3))
        peak = server.rss_bytes()
        assert [r.exceptions for r in results] == [[], [], []]
        assert all(r.status == "FINISHED_SUCCESSFULLY" for r in results)
        assert peak - before > 300 * MB, "the sessions did not hold their traces: nothing was measured"
        after = settled_rss(server, 15, below=before + 100 * MB)
        assert after - before < 100 * MB, (
            f"RSS {before / MB:.0f} MB before, {peak / MB:.0f} MB with the sessions, {after / MB:.0f} MB after")

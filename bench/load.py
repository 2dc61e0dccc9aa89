"""Load: N protocol-level students each open the MLP example and step once a second (issue 12).

    python bench/load.py                              # 1, 10, 50, 100, 200 students, 20 steps each
    python bench/load.py --users 1,10 --steps 5
    python bench/load.py --heavy                      # each count also beside users opening the costliest program
    python bench/load.py --url http://127.0.0.1:8501  # a server already running (else one is started)

The page steps in the browser: what reaches the server is the step view's report of its step
(``ui/names.py VIEW_STATE``: t, node, playing, speed and the revision it was given), debounced, one
per step when a student steps once a second. So a student here sends exactly that report, as the
browser's component does, and times one round trip: the report sent to ``script_finished``
received (the fragment's rerun that moves the model and the link). Students start spread over the
first second; each waits out the rest of its second after a step. Printed per user count: steps
timed, median and p95 in ms, errors (failed connections, exception elements, timeouts).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.programs import costliest_program  # noqa: E402
from bench.protocol import AppServer, StreamlitSession  # noqa: E402
from core.examples import load_examples  # noqa: E402


async def student(url: str, program: str, args, times: list, errors: list) -> None:
    await asyncio.sleep(random.random())
    try:
        async with StreamlitSession(url, query={"program": program, "seed": 0, "t": 0}) as session:
            await session.rerun()
            for t in range(1, args.steps + 1):
                start = time.perf_counter()
                result = await session.report_step(t)
                times.append(result.seconds)
                errors.extend(result.exceptions)
                await asyncio.sleep(max(0.0, 1.0 - (time.perf_counter() - start)))
    except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
        errors.append(repr(exc))


async def heavy_loop(url: str, stop: asyncio.Event, runs: list) -> None:
    """One user after another opening the costliest program with a new seed: each is a new run of
    it in a job worker (a rerun of the same session would reuse its trace)."""
    heavy, seed = costliest_program(), 0
    while not stop.is_set():
        seed += 1
        with contextlib.suppress(Exception):
            async with StreamlitSession(url, query={"program": heavy, "seed": seed, "t": 0}) as session:
                result = await session.rerun()
                runs.append(result.seconds)


async def run_users(url: str, program: str, users: int, args, heavy: bool) -> tuple:
    times, errors, stop, runs = [], [], asyncio.Event(), []
    background = asyncio.create_task(heavy_loop(url, stop, runs)) if heavy else None
    await asyncio.gather(*[student(url, program, args, times, errors) for _ in range(users)])
    stop.set()
    if background is not None:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await background
    return times, errors, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="1,10,50,100,200")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--heavy", action="store_true")
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    program = next(e.program for e in load_examples() if "MLP" in e.title)
    with contextlib.ExitStack() as stack:
        url = args.url or stack.enter_context(AppServer(timeout=90)).url
        p95s = {}
        for users in [int(u) for u in args.users.split(",")]:
            for heavy in (False, True) if args.heavy else (False,):
                times, errors, runs = asyncio.run(run_users(url, program, users, args, heavy))
                times.sort()
                p95 = times[int(0.95 * (len(times) - 1))] if times else float("nan")
                median = statistics.median(times) if times else float("nan")
                p95s[users, heavy] = p95
                line = (f"users {users:4d}{' +heavy' if heavy else '       '}: {len(times)} steps, "
                        f"median {1000 * median:.0f} ms, p95 {1000 * p95:.0f} ms, errors {len(errors)} {errors[:2]}")
                if heavy:
                    opened = f"{statistics.median(runs):.1f} s median" if runs else "none finished"
                    line += (f"; the costliest program opened {len(runs)} times ({opened}); "
                             f"p95 {p95 / p95s[users, False]:.2f}x without it")
                print(line, flush=True)


if __name__ == "__main__":
    main()

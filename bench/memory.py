"""Server memory before and after many sessions with big traces have come and gone (issue 12:
within 100 MB of its value before, after 200 sessions).

    python bench/memory.py                      # 200 sessions of the 230 MB-trace program, 8 at a time
    python bench/memory.py --program sum100 --sessions 10 --concurrency 1 --ttl 5   # 1.5 GB: now refused
    python bench/memory.py --sessions 20 --concurrency 4      # a quicker look

Runs the real server (``streamlit_app.py`` by default: the page, which starts the memory janitor; as
ui/memory.py asks the page to start it) with the repo's ``.streamlit/config.toml`` (reconnect
TTL 30 s, janitor every 10 s), opens sessions through the protocol client in waves of
``--concurrency``, each loading a share link of the program and closing, then waits for the
server's RSS to settle and prints before / peak / after.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.protocol import AppServer, StreamlitSession  # noqa: E402

PROGRAMS = {
    # 8 arrays of 10⁶ numbers multiplied in a chain: about 230 MB of trace
    "big": "A = randn(1000, 1000)\nB = A * A\nC = B * A\nD = C * B\nE = D * C\nF = E * D\nG = F * E\nH = G * F\n"
           "s = sum(H)\n",
    # a 1000×1000 matrix summed 100 times (issue 12): 100 gradients of 8 MB and their running sums
    "sum100": "A = randn(1000, 1000)\n" + "".join(f"s{i} = sum(A)\n" for i in range(100))
              + "".join(f"u{i} = {'s0' if i == 0 else f'u{i - 1}'} + s{i + 1}\n" for i in range(99)),
}
MB = 1 << 20


async def wave(url: str, program: str, count: int, first_seed: int) -> list:
    # A seed each: sessions of one program and seed share one trace; these must each hold their own.
    sessions = [StreamlitSession(url, query={"program": program, "seed": first_seed + k, "t": 0})
                for k in range(count)]
    try:
        for session in sessions:
            await session.connect()
        results = await asyncio.gather(*[session.rerun() for session in sessions], return_exceptions=True)
    finally:
        for session in sessions:
            await session.close()
    return [r if isinstance(r, BaseException) else (r.exceptions or None) for r in results]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--program", choices=sorted(PROGRAMS), default="big")
    parser.add_argument("--app", default="streamlit_app.py")
    parser.add_argument("--settle", type=float, default=90.0, help="seconds to wait for the memory to come back")
    parser.add_argument("--ttl", type=int, default=None,
                        help="server.disconnectedSessionTTL (default: .streamlit/config.toml's 30 s); the peak "
                             "holds every session closed in the last TTL seconds")
    args = parser.parse_args()
    program = PROGRAMS[args.program]

    flags = () if args.ttl is None else ("--server.disconnectedSessionTTL", str(args.ttl))
    with AppServer(*flags, app=args.app, timeout=90) as server:
        asyncio.run(wave(server.url, program, 1, 10**6))  # imports and first-use caches
        time.sleep(45)  # past the reconnect TTL and a janitor round: the warm-up session is gone
        before = server.rss_bytes()
        ttl = "30 (config.toml)" if args.ttl is None else args.ttl
        print(f"{args.sessions} sessions of '{args.program}', {args.concurrency} at a time, "
              f"app {args.app}, TTL {ttl} s")
        print(f"before: {before / MB:.0f} MB")
        start, peak, errors, done = time.monotonic(), before, [], 0
        while done < args.sessions:
            count = min(args.concurrency, args.sessions - done)
            errors += [e for e in asyncio.run(wave(server.url, program, count, done)) if e is not None]
            done += count
            peak = max(peak, server.rss_bytes())
        print(f"{done} sessions in {time.monotonic() - start:.0f} s, errors: {len(errors)} {errors[:2]}")
        print(f"peak (sampled between waves): {peak / MB:.0f} MB")
        closed = time.monotonic()
        after = server.rss_bytes()
        while time.monotonic() - closed < args.settle:
            time.sleep(5)
            after = server.rss_bytes()
            print(f"  {time.monotonic() - closed:3.0f} s after the last session closed: {after / MB:.0f} MB")
            if after - before < 50 * MB:
                break
        verdict = "within" if after - before <= 100 * MB else "NOT within"
        print(f"after: {after / MB:.0f} MB, {(after - before) / MB:+.0f} MB: {verdict} 100 MB of before")


if __name__ == "__main__":
    main()

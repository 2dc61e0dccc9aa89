"""Check deploy/nginx.conf for real: two replicas of the app and nginx in front, on localhost.

    apt-get install -y nginx-light && python deploy/check_proxy.py

Starts two Streamlit replicas on free ports and nginx with deploy/nginx.conf (its upstream lines
pointed at them, its listen port, pid and logs moved to a temporary directory), then plays
``--browsers`` browsers through the proxy with the protocol client: the first request without a
cookie, as a browser opening the link; then the websocket with the route cookie it got; the
page's run; two clicks on Next; a reconnect. It reads nginx's access log and checks that every
request of one browser reached one replica, that the replicas shared the browsers, and that the
websockets were upgraded (101) and stepped. Everything it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.protocol import AppServer, StreamlitSession, free_port  # noqa: E402

CONF = Path(__file__).resolve().parent / "nginx.conf"
PROGRAM = "x = 2.0\ny = 3.0\nz = x * y + x\n"


def local_conf(replicas: list, port: int, workdir: Path) -> str:
    """deploy/nginx.conf with its replicas, listen port, pid file and logs moved here."""
    text = CONF.read_text()
    servers = "".join(f"        server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;\n" for p in replicas)
    text, count = re.subn(r"(?m)^\s*server app\d:8501[^\n]*\n", "", text)
    assert count >= 2, "deploy/nginx.conf no longer lists app1, app2... replicas"
    text = text.replace("hash $backprop_route consistent;\n", "hash $backprop_route consistent;\n" + servers)
    text = text.replace("listen 80;", f"listen 127.0.0.1:{port};")
    text = text.replace("/run/nginx-backprop.pid", str(workdir / "nginx.pid"))
    text = text.replace("/var/log/nginx/backprop-access.log", str(workdir / "access.log"))
    return f"error_log {workdir / 'error.log'};\n" + text


async def browser(base: str, index: int) -> dict:
    """One browser: open the page, run it over the websocket, step twice, reconnect."""
    with urllib.request.urlopen(f"{base}/?program=x", timeout=10) as response:
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]  # backprop_route=...
    route = cookie.split("=", 1)[1]
    headers = {"Cookie": cookie}
    query = {"program": PROGRAM, "seed": 0, "t": 0}
    async with StreamlitSession(base, query=query, headers=headers) as session:
        first = await session.rerun()
        steps = [await session.report_step(t) for t in (1, 2)]  # stepping twice in the browser
    for _ in range(3):  # ordinary requests, as the page's assets
        request = urllib.request.Request(f"{base}/_stcore/health", headers=headers)
        urllib.request.urlopen(request, timeout=10).close()
    async with StreamlitSession(base, query=query, headers=headers) as again:  # a reconnect
        await again.rerun()
    return {"route": route, "statuses": [first.status] + [s.status for s in steps],
            "t": session.query_string.rsplit("t=", 1)[-1], "exceptions": session.exceptions + again.exceptions}


async def browsers(base: str, count: int) -> list:
    return await asyncio.gather(*[browser(base, i) for i in range(count)])


def main() -> int:
    parser = argparse.ArgumentParser(description="Check deploy/nginx.conf with two local replicas")
    parser.add_argument("--browsers", type=int, default=12)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    with tempfile.TemporaryDirectory() as tmp, AppServer() as one, AppServer() as two:
        workdir = Path(tmp)
        port = free_port()
        (workdir / "nginx.conf").write_text(local_conf([one.port, two.port], port, workdir))
        proxy = subprocess.Popen([nginx, "-c", str(workdir / "nginx.conf"), "-p", str(workdir),
                                  "-g", "daemon off;"], stderr=subprocess.STDOUT, stdout=subprocess.PIPE)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(50):
                try:
                    urllib.request.urlopen(f"{base}/_stcore/health", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.2)
            results = asyncio.run(browsers(base, args.browsers))
        finally:
            proxy.terminate()
            proxy.wait(10)
        log = (workdir / "access.log").read_text().splitlines()
    upstreams_by_route = defaultdict(set)
    websockets_by_route = defaultdict(list)
    for line in log:
        route = re.search(r"route=(\S+)", line).group(1)
        upstream = re.search(r"upstream=(\S+)", line).group(1)
        upstreams_by_route[route].add(upstream)
        if "/_stcore/stream" in line:
            websockets_by_route[route].append(line.split('" ', 1)[1].split()[0])
    replicas = {f"127.0.0.1:{one.port}", f"127.0.0.1:{two.port}"}
    problems = []
    for r in results:
        upstreams = upstreams_by_route[r["route"]]
        if len(upstreams) != 1:
            problems.append(f"browser {r['route'][:8]} reached {sorted(upstreams)}")
        if websockets_by_route[r["route"]] != ["101", "101"]:
            problems.append(f"browser {r['route'][:8]}: websocket statuses {websockets_by_route[r['route']]}")
        if r["statuses"][0] != "FINISHED_SUCCESSFULLY" or r["t"] != "2" or r["exceptions"]:
            problems.append(f"browser {r['route'][:8]}: {r['statuses']}, t={r['t']}, {r['exceptions']}")
    used = set().union(*(upstreams_by_route[r["route"]] for r in results))
    if used != replicas:
        problems.append(f"replicas used: {sorted(used)} of {sorted(replicas)}")
    per_replica = {u: sum(upstreams_by_route[r["route"]] == {u} for r in results) for u in sorted(replicas)}
    print(f"{len(results)} browsers, {len(log)} requests through nginx; browsers per replica: {per_replica}")
    print(f"every browser on one replica for all its requests (page, 2 websockets, 3 more requests): "
          f"{all(len(upstreams_by_route[r['route']]) == 1 for r in results)}")
    print("problems:" if problems else "no problems", *problems, sep="\n  ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

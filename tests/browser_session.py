"""The real thing: a Streamlit server on a free localhost port and Debian's Chromium driving it.

Shared by the browser test and ``bench/ui.py``. Playwright cannot download its own browser here,
so it drives ``/usr/bin/chromium`` with the flags that keep Chromium off the network.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_FLAGS = [
    "--server.headless", "true", "--server.address", "127.0.0.1",
    "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(timeout: float = 60.0):
    """Start ``streamlit run streamlit_app.py`` and yield its base URL; stop it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port), *SERVER_FLAGS],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode(errors="replace") if process.stdout else ""
                raise RuntimeError(f"the Streamlit server did not start:\n{output}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def chromium_page(width: int = 1600, height: int = 1100):
    """A Playwright page in Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


def share_link(base: str, program: str, t="0", seed: int = 0, **extra) -> str:
    return f"{base}/?{urlencode({'program': program, 't': t, 'seed': seed, **extra})}"


GRAPH_SVG = '[data-testid="stGraphVizChart"] svg'


def graph_text(page) -> str:
    """All the text of the rendered graph SVG."""
    return page.locator(GRAPH_SVG).first.evaluate("svg => svg.textContent")


def wait_for_graph_text(page, needle: str, timeout_ms: int = 30000) -> None:
    page.wait_for_function(
        """([selector, needle]) => { const svg = document.querySelector(selector);
                return svg !== null && svg.textContent.includes(needle); }""",
        arg=[GRAPH_SVG, needle], timeout=timeout_ms,
    )

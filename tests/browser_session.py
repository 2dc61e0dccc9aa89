"""The real thing: a Streamlit server on a free localhost port and Debian's Chromium driving it.

Shared by the browser test and ``bench/ui.py``. Playwright cannot download its own browser here,
so it drives ``/usr/bin/chromium`` with the flags that keep Chromium off the network.
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench.protocol import AppServer, free_port  # noqa: F401 - free_port is the tests' too
from ui.names import HOOKS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@contextlib.contextmanager
def streamlit_server(timeout: float = 60.0, app: str = "streamlit_app.py", port: int | None = None):
    """Start ``streamlit run <app>`` (the page by default) and yield its base URL; stop it, and the
    job workers it started, afterwards (``bench.protocol.AppServer``). Its output goes to a file,
    shown when it does not start."""
    with tempfile.TemporaryDirectory() as folder, \
            AppServer(app=app, port=port, timeout=timeout, log=Path(folder) / "server.log") as server:
        yield server.url


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


def hook(name: str) -> str:
    """The CSS selector of a step-view element (Playwright's CSS reaches into its shadow root)."""
    return f'[data-hook="{HOOKS[name]}"]'


GRAPH_SVG = f"{hook('graph')} svg"
# In-page JavaScript: the step view's shadow root (for page.evaluate / wait_for_function).
STUDIO_ROOT = f"""(() => {{
  for (const e of document.querySelectorAll("*")) {{
    if (e.shadowRoot && e.shadowRoot.querySelector('{hook("root")}')) return e.shadowRoot;
  }}
  return null;
}})()"""


def open_studio(page, url: str, timeout_ms: int = 60000) -> None:
    """Open a link and wait until the step view has drawn its graph."""
    page.goto(url)
    page.wait_for_selector(f"{GRAPH_SVG} g.node", timeout=timeout_ms)
    page.wait_for_function(f"() => {STUDIO_ROOT}.querySelector('{hook('phase')}').textContent.length > 0",
                           timeout=timeout_ms)


def phase(page) -> str:
    return page.locator(hook("phase")).inner_text()


def wait_for_phase(page, text: str, timeout_ms: int = 10000) -> None:
    page.wait_for_function(
        f"(text) => {STUDIO_ROOT}.querySelector('{hook('phase')}').textContent === text", arg=text,
        timeout=timeout_ms)


def graph_text(page) -> str:
    """All the text of the rendered graph SVG."""
    return page.locator(GRAPH_SVG).first.evaluate("svg => svg.textContent")

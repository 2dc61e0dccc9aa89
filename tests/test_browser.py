"""One real-browser test: the real server, Debian's Chromium, the rendered SVG.

AppTest checks the DOT we send; only a browser shows that it becomes a picture with the right
words in it, that the buttons work over the websocket, and that the page asks nothing of the
internet. CI installs Chromium (``.ci/run``); this test is not skipped there.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser_session import CHROMIUM, chromium_page, graph_text, share_link, streamlit_server, wait_for_graph_text

SEED_PROGRAM = "x = 2.0\ny = 3.0\nz = x * y + x\n"
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", Path(__file__).resolve().parent / "artifacts"))

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _chromium_available() -> bool:
    return Path(CHROMIUM).exists()


@pytest.mark.skipif(not _chromium_available() and not os.environ.get("CI"), reason="Debian's chromium is not installed")
def test_seed_program_in_a_real_browser():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    requests = []
    with streamlit_server() as base, chromium_page() as page:
        page.on("request", lambda request: requests.append(request.url))
        page.goto(share_link(base, SEED_PROGRAM, t="end"))
        wait_for_graph_text(page, "ḡ 4 ✓")
        text = graph_text(page)
        for name in ("x", "y", "z"):
            assert name in text
        assert "ḡ 4 ✓" in text  # x's gradient, complete
        page.screenshot(path=str(ARTIFACTS / "seed-end.png"), full_page=True)

        page.get_by_role("button", name="Previous").click()
        wait_for_graph_text(page, "(1 of 2)")
        changed = graph_text(page)
        assert changed != text and "ḡ 4 ✓" not in changed
        page.screenshot(path=str(ARTIFACTS / "seed-previous.png"), full_page=True)

    foreign = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert not foreign, f"the page asked the internet for: {foreign[:5]}"

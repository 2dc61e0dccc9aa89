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


def press_until(page, key: str, selector: str, attempts: int = 3) -> None:
    """Press ``key`` once the page is idle, and again if a rerun swallowed it (a key that lands
    while Streamlit replaces the buttons is lost, as it would be for a user)."""
    for attempt in range(attempts):
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30000)
        page.keyboard.press(key)
        try:
            page.wait_for_selector(selector, timeout=10000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise


@pytest.mark.skipif(not _chromium_available() and not os.environ.get("CI"), reason="Debian's chromium is not installed")
def test_presentation_mode_autoplay_and_keys():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as base, chromium_page(1920, 1080) as page:
        page.goto(share_link(base, SEED_PROGRAM, t="0", present="1", autoplay="1", speed="0.25"))
        wait_for_graph_text(page, "ḡ 4 ✓", timeout_ms=60000)  # autoplay walked to the end by itself
        assert page.locator("textarea").count() == 0  # presentation mode: no editor
        assert "Backward 2 of 2" in page.locator(".phase").first.inner_text()
        page.screenshot(path=str(ARTIFACTS / "presentation-end.png"))

        page.screenshot(path=str(ARTIFACTS / "autoplay.png"))
        page.get_by_text("Autoplay").click()  # off, so that the keys own the timeline
        page.wait_for_selector('[data-testid="stSlider"]', timeout=30000)
        page.locator(".phase").first.click()  # focus the page, not a widget
        page.keyboard.press("Home")
        page.wait_for_selector('[data-testid="stGraphVizChart"] svg', timeout=30000)
        page.wait_for_function("() => document.querySelector('.phase').innerText.startsWith('Start')",
                               timeout=30000)
        for key, t in (("ArrowRight", 1), ("PageDown", 2)):
            press_until(page, key, f'[data-testid="stGraphVizChart"] g[id="current-{t}"]')
        page.screenshot(path=str(ARTIFACTS / "presentation-keys.png"))



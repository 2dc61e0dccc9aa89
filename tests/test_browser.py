"""Real-browser tests: the real server, Debian's Chromium, the step view as a user meets it.

AppTest checks what the server sends; only a browser shows that it becomes a picture that steps,
that keys and clickers work wherever the focus is, that the layout never moves, that presentation
mode is readable, and that the page asks nothing of the internet. CI installs Chromium
(``.ci/run``); these tests are not skipped there.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from core.examples import load_examples
from tests.browser_session import (
    CHROMIUM,
    GRAPH_SVG,
    STUDIO_ROOT,
    chromium_page,
    free_port,
    graph_text,
    hook,
    open_studio,
    phase,
    share_link,
    streamlit_server,
    wait_for_phase,
)
from tests.page_model import SEED_PROGRAM

MLP = next(e for e in load_examples() if "MLP" in e.title).program
ARTIFACTS = Path(os.environ.get("BROWSER_ARTIFACTS", Path(__file__).resolve().parent / "artifacts"))

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="Debian's chromium is not installed"),
]


@pytest.fixture(scope="module")
def server():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_server() as base:
        yield base


def node_boxes(page) -> list:
    """Every node's box in the SVG's own coordinates (what the layout decided)."""
    return page.evaluate(f"""() => [...{STUDIO_ROOT}.querySelectorAll('g.node')].map(g => {{
        const b = g.getBBox();
        return [g.id, Math.round(b.x * 10), Math.round(b.y * 10), Math.round(b.width * 10)]; }})""")


def url_t(page) -> str:
    return parse_qs(urlparse(page.url).query).get("t", [""])[0]


def test_seed_program_steps_in_the_browser(server):
    requests = []
    with chromium_page() as page:
        page.on("request", lambda request: requests.append(request.url))
        open_studio(page, share_link(server, SEED_PROGRAM, t="end"))
        assert phase(page) == "Backward 2 of 2"
        text = graph_text(page)
        for name in ("x", "y", "z"):
            assert name in text
        assert "ḡ 4 ✓" in text  # x's gradient, complete
        page.locator(hook("formulas")).locator(".katex").first.wait_for()  # the step's formulas, typeset
        page.screenshot(path=str(ARTIFACTS / "seed-end.png"))

        page.locator(hook("prev")).click()
        wait_for_phase(page, "Backward 1 of 2")
        changed = graph_text(page)
        assert "(1 of 2)" in changed and "ḡ 4 ✓" not in changed
        page.wait_for_function("() => new URL(location.href).searchParams.get('t') === '3'", timeout=10000)
        page.screenshot(path=str(ARTIFACTS / "seed-previous.png"))
    foreign = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss")
               and urlparse(u).hostname not in ("127.0.0.1", "localhost")]
    assert not foreign, f"the page asked the internet for: {foreign[:5]}"


def test_nodes_never_move_and_clicker_presses_are_never_dropped(server):
    with chromium_page() as page:
        open_studio(page, share_link(server, MLP, t="8"))  # the last forward step
        assert phase(page) == "Forward 8 of 8"
        t_end = page.evaluate(f"() => Number({STUDIO_ROOT}.querySelector('{hook('slider')}').max)")
        svg = page.locator(GRAPH_SVG).element_handle()
        boxes = node_boxes(page)
        page.locator(hook("graph")).click(position={"x": 5, "y": 5})  # focus the page, not a button
        page.keyboard.press("End")
        wait_for_phase(page, f"Backward {t_end - 8} of {t_end - 8}")
        assert node_boxes(page) == boxes  # the same positions at the end of the pass
        assert svg.evaluate("svg => svg.isConnected")  # the very same drawing: never laid out again
        page.keyboard.press("Home")
        wait_for_phase(page, "Start")
        for _ in range(4):  # a clicker: four presses 100 ms apart
            page.keyboard.press("PageDown")
            page.wait_for_timeout(100)
        wait_for_phase(page, "Forward 4 of 8")
        assert node_boxes(page) == boxes
        page.keyboard.press("End")
        page.wait_for_function("() => new URL(location.href).searchParams.get('t') === 'end'", timeout=10000)
        page.screenshot(path=str(ARTIFACTS / "mlp-end.png"))


CURRENT_NODE_ON_SCREEN = f"""() => {{
    const g = {STUDIO_ROOT}.querySelector('g.node[data-status="current"]');
    const node = g.getBoundingClientRect();
    const box = {STUDIO_ROOT}.querySelector('{hook('graph')}').getBoundingClientRect();
    return {{pixels: g.querySelector('text').getBoundingClientRect().height,
             inside: node.left >= box.left && node.right <= box.right && node.top >= box.top
                     && node.bottom <= box.bottom && node.bottom <= window.innerHeight}}; }}"""


def assert_current_node_readable_on_screen(page, screen: str) -> None:
    """Presentation mode's promise: the current node inside the graph's box, its text >= 18 px."""
    settled = f"() => {{ const m = ({CURRENT_NODE_ON_SCREEN})(); return m.pixels >= 18 && m.inside; }}"
    with contextlib.suppress(Exception):  # the view glides there (slower on a busy machine); asserted below
        page.wait_for_function(settled, timeout=5000)
    seen = page.evaluate(CURRENT_NODE_ON_SCREEN)
    assert seen["pixels"] >= 18, f"the current node's text is {seen['pixels']:.1f} px high on a {screen} screen"
    assert seen["inside"], f"the current node is not on the {screen} screen"


def test_presentation_mode_keys_and_readable_text(server):
    with chromium_page(1280, 720) as page:
        open_studio(page, share_link(server, MLP, t="3"))
        page.get_by_text("Presentation mode").click()  # with the mouse: the focus stays on the toggle
        page.wait_for_selector(".stTextArea", state="detached", timeout=30000)
        wait_for_phase(page, "Forward 3 of 8")  # the step view redraws for presentation mode
        page.keyboard.press("ArrowRight")
        wait_for_phase(page, "Forward 4 of 8")
        page.keyboard.press("PageDown")
        wait_for_phase(page, "Forward 5 of 8")
        assert_current_node_readable_on_screen(page, "1280×720")
        page.screenshot(path=str(ARTIFACTS / "presentation-1280x720.png"))


def test_presentation_keeps_the_current_node_on_screen_when_its_neighbours_are_far_apart(server):
    """A wide graph: a neuron's square feeds the loss, a sum drawn far away; at a readable size the
    node and all its neighbours cannot be on screen together, and the node itself must be."""
    from bench.programs import neuron_layer_program
    from core.language import run

    program = neuron_layer_program(24, 12)
    t = run(program).t_forward_end + 4
    for width, height in ((1920, 1080), (1280, 720)):
        with chromium_page(width, height) as page:
            open_studio(page, share_link(server, program, t=str(t), present="1"), timeout_ms=120000)
            assert_current_node_readable_on_screen(page, f"{width}×{height}")
            page.keyboard.press("ArrowRight")  # the next step's node too
            assert_current_node_readable_on_screen(page, f"{width}×{height}")
            page.screenshot(path=str(ARTIFACTS / f"presentation-big-{width}x{height}.png"))


def test_autoplay_in_the_browser_at_its_rate(server):
    with chromium_page() as page:
        open_studio(page, share_link(server, MLP, t="0", autoplay="1", speed="0.25"))
        intervals = page.evaluate(f"""() => new Promise((resolve) => {{
            const box = {STUDIO_ROOT}.querySelector('{hook('phase')}');
            const times = [];
            new MutationObserver(() => {{
                times.push(performance.now());
                if (times.length === 7) resolve(times.slice(1).map((t, i) => t - times[i]));
            }}).observe(box, {{childList: true, characterData: true, subtree: true}});
        }})""")
        mean = sum(intervals) / len(intervals)
        assert 200 <= mean <= 320, f"autoplay at 0.25 s/step took {mean:.0f} ms per step"
        playing = f"() => {STUDIO_ROOT}.querySelector('{hook('play')}').getAttribute('aria-label') === 'Play'"
        page.wait_for_function(playing, timeout=10000)  # parked at the end
        assert phase(page) == "Backward 8 of 8"
        page.keyboard.press("Home")
        wait_for_phase(page, "Start")
        page.keyboard.press(" ")  # space plays
        wait_for_phase(page, "Forward 1 of 8", timeout_ms=5000)


def test_colours_and_outlines_survive_switching_examples(server):
    with chromium_page() as page:
        open_studio(page, share_link(server, SEED_PROGRAM, t="0"))
        neuron = next(e for e in load_examples() if "neuron" in e.title.lower())
        page.locator(".st-key-example").get_by_role("combobox").click()
        page.get_by_role("option", name=neuron.title).click()
        page.wait_for_function(f"() => {STUDIO_ROOT}.querySelectorAll('g.node').length > 6", timeout=30000)
        page.locator(hook("last")).click()
        time.sleep(0.3)
        unstyled = page.evaluate(f"""() => [...{STUDIO_ROOT}.querySelectorAll('g.node[data-status]')]
            .filter(g => {{ const s = g.querySelector('ellipse, polygon, path');
                           return !s || s.getAttribute('fill') === 'none' || s.getAttribute('stroke') === 'black'; }})
            .map(g => g.id)""")
        assert not unstyled, f"nodes drawn without their status style: {unstyled}"
        page.screenshot(path=str(ARTIFACTS / "switched-example.png"))


def test_clicking_a_node_inspects_it_and_the_link_keeps_it(server):
    with chromium_page() as page:
        open_studio(page, share_link(server, SEED_PROGRAM, t="end"))
        page.locator(f"{GRAPH_SVG} g#n1").click()
        page.wait_for_function("() => new URL(location.href).searchParams.get('node') === '1'", timeout=10000)
        assert "y" in page.locator(hook("inspector")).inner_text()
        again = page.url
        page.goto(again)
        page.wait_for_selector(f"{GRAPH_SVG} g.node", timeout=60000)
        selected = f"() => {STUDIO_ROOT}.querySelector('.selection').getAttribute('visibility') === 'visible'"
        page.wait_for_function(selected, timeout=10000)


def test_downloads_always_send_the_file_of_their_button(server, tmp_path):
    with chromium_page() as page:
        open_studio(page, share_link(server, SEED_PROGRAM, t="end"))
        with page.expect_download() as svg:
            page.locator(hook("svg_download")).click()
        svg_text = Path(svg.value.path()).read_text()
        assert svg_text.startswith("<?xml") and "ḡ 4 ✓" in svg_text
        assert svg.value.suggested_filename == "backprop-t4.svg"
        page.get_by_text("Export").click()
        names = []
        for label in ("Graph as DOT", "Trace as JSON", "Python script", "Graph as DOT"):
            with page.expect_download() as download:
                page.get_by_role("button", name=label).click()
            names.append(download.value.suggested_filename)
            content = Path(download.value.path()).read_text()
            assert ("digraph" in content) == (label == "Graph as DOT")
        assert names == ["backprop-t4.dot", "trace.json", "backprop.py", "backprop-t4.dot"]


def test_a_thousand_node_program_opens_and_steps(server):
    from bench.programs import neuron_layer_program

    program = neuron_layer_program(40, 8)  # about 1,000 nodes
    with chromium_page() as page:
        open_studio(page, share_link(server, program, t="0"), timeout_ms=120000)
        assert page.evaluate(f"() => {STUDIO_ROOT}.querySelectorAll('g.node').length") > 1000
        page.locator(hook("graph")).click(position={"x": 5, "y": 5})
        for _ in range(3):
            page.keyboard.press("ArrowRight")
        third = f"() => {STUDIO_ROOT}.querySelector('{hook('phase')}').textContent.startsWith('Forward 3 of')"
        page.wait_for_function(third, timeout=5000)
        page.screenshot(path=str(ARTIFACTS / "thousand-nodes.png"))


def test_after_a_server_restart_the_page_comes_back_and_nothing_typed_is_lost():
    port = free_port()
    with chromium_page() as page:
        sockets = []  # per websocket the page opened: how many messages it has received

        def count(websocket) -> None:
            received = [0]
            sockets.append(received)
            websocket.on("framereceived", lambda _: received.__setitem__(0, received[0] + 1))

        page.on("websocket", count)
        with streamlit_server(port=port) as base:
            open_studio(page, share_link(base, SEED_PROGRAM, t="0"))
            page.locator(hook("graph")).click(position={"x": 5, "y": 5})
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("() => new URL(location.href).searchParams.get('t') === '3'", timeout=10000)
            # A claim, checked: the verdict appears above the step view, which keeps its step.
            page.locator('[class*="st-key-mine-"] textarea').fill("grad(z, x) = y + 1")
            page.locator(hook("graph")).click(position={"x": 5, "y": 5})
            page.wait_for_function("() => new URL(location.href).searchParams.get('mine') === 'grad(z, x) = y + 1'",
                                   timeout=20000)
            assert phase(page) == "Backward 1 of 2"
            page.locator(".st-key-editor textarea").click()
            page.keyboard.press("Control+End")
            page.keyboard.type("w = z * 2")  # typed, not run yet
        # The server is gone; a new one starts on the same address, and the page reconnects. Streamlit disables
        # the widgets while it is disconnected (the editor loses focus, its text stays) and runs nothing on
        # reconnecting; the new session's first run comes with the user's next action that reruns the whole
        # page (a new server drops a rerun of a fragment it has never run: stepping alone does not do it).
        with streamlit_server(port=port):
            deadline = time.monotonic() + 60
            while len(sockets) < 2 and time.monotonic() < deadline:
                page.wait_for_timeout(200)  # Playwright delivers events while it waits
            assert len(sockets) >= 2, "the page did not reconnect"
            page.wait_for_timeout(1000)
            page.locator(".st-key-editor textarea").click()
            page.keyboard.press("Control+End")
            page.keyboard.type("0")  # the user goes on typing, and runs the program
            page.keyboard.press("Control+Enter")
            while sockets[-1][0] <= 5 and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert sockets[-1][0] > 5, "the new server never ran the page"
            page.wait_for_function("() => new URL(location.href).searchParams.get('program')?.includes('w = z * 20')",
                                   timeout=30000)
            assert page.locator(".st-key-editor textarea").input_value() == SEED_PROGRAM + "w = z * 20"
            assert page.locator('[class*="st-key-mine-"] textarea').input_value() == "grad(z, x) = y + 1"
            wait_for_phase(page, "Start")  # a program of another shape starts at its beginning
            page.locator(hook("graph")).click(position={"x": 5, "y": 5})
            for _ in range(5):
                page.keyboard.press("ArrowRight")
            page.wait_for_function("() => new URL(location.href).searchParams.get('t') === '5'", timeout=10000)
            stepped_to = phase(page)
        # Restarted again, nothing typed: the step comes back from the link when the user next runs the page.
        with streamlit_server(port=port):
            deadline = time.monotonic() + 60
            while len(sockets) < 3 and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert len(sockets) >= 3, "the page did not reconnect"
            page.wait_for_timeout(1000)
            page.locator(".st-key-run button").click()
            while sockets[-1][0] <= 5 and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            assert sockets[-1][0] > 5, "the new server never ran the page"
            wait_for_phase(page, stepped_to)
            assert page.evaluate("() => new URL(location.href).searchParams.get('t')") == "5"


def test_collapse_expand_and_step_over_and_into_a_loop_iteration(server):
    rnn = next(e for e in load_examples() if "RNN" in e.title).program
    collapsed = "() => new URL(location.href).searchParams.get('collapsed')"
    with chromium_page() as page:
        open_studio(page, share_link(server, rnn, t="6", collapsed="2,3"))
        assert page.locator(f"{GRAPH_SVG} g#f2").count() == 1  # iteration t = 1 drawn as one node
        page.locator(hook("next")).click()
        wait_for_phase(page, "Forward 12 of 26")  # its six steps in one
        page.locator(hook("prev")).click()
        wait_for_phase(page, "Forward 6 of 26")
        page.locator(hook("next")).click()
        wait_for_phase(page, "Forward 12 of 26")
        page.screenshot(path=str(ARTIFACTS / "rnn-collapsed.png"))
        page.locator(hook("step_into")).click()  # open it, at its first step
        page.wait_for_function(f"() => ({collapsed})() === '3'", timeout=30000)
        wait_for_phase(page, "Forward 7 of 26")
        page.wait_for_selector(f"{GRAPH_SVG} g#n11", timeout=30000)  # its nodes are back
        assert page.locator(f"{GRAPH_SVG} g#f2").count() == 0
        page.locator(hook("follow")).locator("input").uncheck()  # the whole graph in view, and kept there
        page.locator(hook("fit")).click()
        page.wait_for_timeout(500)
        page.locator(f"{GRAPH_SVG} g#k1 text").first.click()  # a box's label closes the box
        page.wait_for_function(f"() => ({collapsed})() === '1,3'", timeout=30000)
        page.wait_for_selector(f"{GRAPH_SVG} g#f1", timeout=30000)
        page.locator(hook("fit")).click()
        page.wait_for_timeout(500)
        page.locator(f"{GRAPH_SVG} g#f3").click()  # a collapsed iteration opens on a click
        page.wait_for_function(f"() => ({collapsed})() === '1'", timeout=30000)
        assert phase(page) == "Forward 7 of 26"  # the step stayed through every layout
        page.screenshot(path=str(ARTIFACTS / "rnn-opened.png"))


def test_a_wrong_claim_marks_its_node_and_the_message_names_it(server):
    example = next(e for e in load_examples() if e.claims and "softmax" in e.title)
    with chromium_page() as page:
        open_studio(page, share_link(server, example.program, t="end", mine=example.claims))
        first = page.locator(f"{GRAPH_SVG} g.claim-mark.first")
        first.wait_for(timeout=30000)
        assert first.get_attribute("data-status") == "wrong" and "first wrong claim" in first.text_content()
        node = first.get_attribute("data-node")
        title = page.locator(f"{GRAPH_SVG} g#n{node} text").first.text_content()  # the node's name, as drawn
        assert title.replace("▶", "").split()[0] == "p"
        verdict = page.locator('[data-testid="stAlert"]', has_text="first goes wrong at").inner_text()
        assert "first goes wrong at p:" in verdict
        page.locator(f"{GRAPH_SVG} g#n{node}").click()
        page.locator(f"{hook('inspector')} .claim.wrong").wait_for()
        assert "Your claim, line 3" in page.locator(f"{hook('inspector')} .claim").inner_text()
        page.locator(hook("graph")).screenshot(path=str(ARTIFACTS / "flagged-derivation.png"))
        page.get_by_text("Show a correct derivation").click()
        page.wait_for_function(f"""() => {{
            const marks = [...({STUDIO_ROOT}?.querySelectorAll('g.claim-mark') ?? [])];
            return marks.length === 3 && marks.every(g => g.dataset.status === 'right'); }}""", timeout=30000)


def test_predict_then_reveal_scores_a_right_and_a_wrong_answer(server):
    with chromium_page() as page:
        open_studio(page, share_link(server, SEED_PROGRAM, t="2", predict="1"))
        page.locator(hook("graph")).click(position={"x": 5, "y": 5})
        page.keyboard.press("ArrowRight")
        wait_for_phase(page, "Backward 1 of 2: predict")
        assert "ḡ" not in graph_text(page)  # nothing of the step is shown before the answer
        page.keyboard.press("Enter")  # the first answer box has the focus: reveal without an answer, unscored
        wait_for_phase(page, "Backward 1 of 2")
        page.keyboard.press("ArrowRight")
        wait_for_phase(page, "Backward 2 of 2: predict")
        questions = page.locator(hook("question")).all_inner_texts()
        assert questions == ["What does x receive from × #2?", "What does y receive from × #2?"]
        page.locator(f"{hook('tape')} summary").click()  # the tape does not give the answer away either
        tape_x = page.locator(f"{hook('tape')} tbody tr", has_text="x").first.locator("td").nth(5)
        assert tape_x.inner_text() == "1 (1 of 2)", tape_x.inner_text()  # x's ḡ before this step
        page.locator(hook("answer")).first.click()
        page.keyboard.type("y * gbar")  # the first answer box has the focus: x receives ḡ·y = 3
        page.locator(hook("answer")).nth(1).fill("5")  # y receives ḡ·x = 2
        page.keyboard.press("Enter")
        wait_for_phase(page, "Backward 2 of 2")
        page.wait_for_function(f"() => {STUDIO_ROOT}.querySelectorAll('.answer-mark').length === 2 && "
                               f"!{STUDIO_ROOT}.querySelector('.answer-mark.checking')", timeout=30000)
        assert page.locator(".answer-mark.right").count() == 1
        assert "the engine's contribution is 2" in page.locator(".answer-mark.wrong").inner_text()
        assert page.locator(hook("score")).inner_text() == "Score 1 of 2"
        assert "ḡ 4 ✓" in graph_text(page)  # revealed
        page.wait_for_function("() => new URL(location.href).searchParams.get('predict') === '1'", timeout=10000)


def test_the_broadcasting_step_shows_the_sum_over_the_broadcast_axis(server):
    example = next(e for e in load_examples() if "Broadcasting" in e.title)
    with chromium_page() as page:
        open_studio(page, share_link(server, example.program, t="end"))
        formulas = page.locator(hook("formulas"))
        formulas.locator(".katex").first.wait_for()
        text = formulas.inner_text().replace("\xa0", " ")
        assert "∑" in text and "axis 0" in text  # b̄ += Σ_axis 0 (Ȳ), not b̄ += Ȳ
        assert "summed over that axis" in page.locator(hook("step")).inner_text()
        page.locator(hook("step")).screenshot(path=str(ARTIFACTS / "tensor-step.png"))


def test_an_expanded_entry_stays_while_the_step_does(server):
    """A matrix product's entry, written out on a click, stays through what does not change the
    step (a click on a node, a resize): the step's text is typeset once per step."""
    with chromium_page() as page:
        open_studio(page, share_link(server, MLP, t="13"))
        page.locator(f"{hook('expansion')} .expansion-grid button").nth(1).click()
        formula = page.locator(f"{hook('expansion')} .expansion-formula .katex")
        formula.first.wait_for(timeout=10000)
        page.locator(f'{GRAPH_SVG} g.node[data-status="current"]').click()  # inspect it: the page renders again
        page.locator(f"{hook('inspector')}").wait_for()
        page.set_viewport_size({"width": 1500, "height": 1000})
        page.wait_for_timeout(300)
        assert formula.count() == 1, "the written-out entry was lost"
        assert page.locator(f"{hook('expansion')} .expansion-grid button.chosen").count() == 1
        page.keyboard.press("ArrowRight")  # another step: its own text
        wait_for_phase(page, "Backward 6 of 8")
        assert page.locator(f"{hook('expansion')} .expansion-grid button.chosen").count() == 0

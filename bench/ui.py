"""How fast the page follows the user (issue 8's targets). Not a test: it prints figures and verdicts.

    python bench/ui.py                 # everything: about 3 minutes
    python bench/ui.py --clicks 15     # clicks per graph (default 20)

All in headless Chromium against the real server (``streamlit run streamlit_app.py``), one run:

- **Reference**: a bare Streamlit page's round trip — a click on a button to the new text on
  screen — measured in the same browser, the floor any server round trip pays.
- **Click → graph updated**: a real mouse click on *Next* (the browser's own input event, its
  ``timeStamp`` the start) until the current node's look changed and two animation frames have
  passed (the change is painted), for the MLP example, a 300-node and a 1,000-node program.
  Target ≤ 50 ms at 300 nodes, ≤ 100 ms at 1,000.
- **The step's text follows**: the same clicks, until the explanation panel shows the new step
  (target: within the bare round trip + 100 ms; it is drawn in the same frame as the graph).
- **Server messages while stepping**: websocket frames the page sends during a burst of clicks
  (the graph needs none: the report of the step goes once, after the burst).
- **Opening**: the link to the graph drawn, for a program this server has not prepared yet and
  for one it has (the second student). Targets: 300 nodes ≤ 2 s, 1,000 nodes ≤ 5 s.
- **Payload**: the one-time bytes of the program part for these programs and for the largest
  program the language allows (target ≤ 5 MB).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.programs import chain_program, largest_program, neuron_layer_program  # noqa: E402
from core.examples import load_examples  # noqa: E402
from tests.browser_session import (  # noqa: E402
    STUDIO_ROOT,
    chromium_page,
    hook,
    open_studio,
    streamlit_server,
)

BARE_APP = '''import streamlit as st
if st.button("Next", key="next"):
    st.session_state.n = st.session_state.get("n", 0) + 1
st.write(f"count {st.session_state.get('n', 0)}")
'''

# In the page: after a real click on Next, when did the graph and the text change, and when were
# they painted (two animation frames later)? Times from the click event's own timestamp.
MEASURE_CLICK = f"""() => {{ window.__bpsClick = new Promise((resolve) => {{
  const root = {STUDIO_ROOT};
  const phase = root.querySelector('{hook("phase")}'), step = root.querySelector('{hook("step")}');
  const before = phase.textContent, stepBefore = step.textContent;
  let clicked = null;
  const onClick = (event) => {{ clicked = event.timeStamp; }};
  root.addEventListener('click', onClick, {{capture: true}});
  const poll = () => {{
    if (clicked !== null && phase.textContent !== before && step.textContent !== stepBefore) {{
      const changed = performance.now();
      requestAnimationFrame(() => requestAnimationFrame(() => {{
        root.removeEventListener('click', onClick, {{capture: true}});
        resolve([changed - clicked, performance.now() - clicked]);
      }}));
    }} else requestAnimationFrame(poll);
  }};
  requestAnimationFrame(poll);
}}); }}"""


def bare_round_trip(clicks: int) -> list:
    times = []
    with tempfile.TemporaryDirectory() as folder:
        app = Path(folder) / "bare.py"
        app.write_text(BARE_APP)
        with streamlit_server(app=str(app)) as base, chromium_page() as page:
            page.goto(base)
            page.wait_for_selector("text=count 0", timeout=60000)
            for n in range(1, clicks + 1):
                start = time.perf_counter()
                page.get_by_role("button", name="Next").click()
                page.wait_for_selector(f"text=count {n}", timeout=30000)
                times.append(time.perf_counter() - start)
    return times


def click_times(page, clicks: int) -> tuple:
    """(to the DOM, to pixels) in ms for ``clicks`` clicks on Next."""
    dom, painted = [], []
    button = page.locator(hook("next"))
    for _ in range(clicks):
        if button.is_disabled():  # at the end (the MLP has 16 steps): back to the start, untimed
            page.locator(hook("first")).click()
            page.wait_for_timeout(200)
        page.evaluate(MEASURE_CLICK)
        button.click()
        changed, shown = page.evaluate("() => window.__bpsClick")
        dom.append(changed)
        painted.append(shown)
        page.wait_for_timeout(50)
    return dom, painted


def frames_sent_while_stepping(page, clicks: int) -> int:
    """Websocket frames the page sends during a burst of clicks 30 ms apart (before its debounced
    report of the step can go)."""
    sent = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
    page.reload()
    page.wait_for_selector(f"{hook('graph')} svg g.node", timeout=60000)
    page.wait_for_timeout(1000)  # Playwright delivers events while it waits (not in time.sleep)
    sent.clear()
    page.evaluate(f"""async (clicks) => {{  // a clicker's burst, 30 ms apart, in the page itself
        const next = {STUDIO_ROOT}.querySelector('{hook("next")}');
        for (let i = 0; i < clicks; i++) {{ next.click(); await new Promise(r => setTimeout(r, 30)); }}
    }}""", clicks)
    burst = len(sent)
    page.wait_for_timeout(1000)
    return burst, len(sent) - burst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=20)
    args = parser.parse_args()
    from core.language import run
    from ui.studio import compressed_payload

    mlp = next(e.program for e in load_examples() if "MLP" in e.title)
    graphs = [("MLP example", mlp), ("chain, ~300 nodes", chain_program(75)),
              ("neuron layer, ~1,000 nodes", neuron_layer_program(40, 8))]

    bare = bare_round_trip(args.clicks)
    bare_ms = 1000 * statistics.median(bare)
    print(f"Reference: a bare Streamlit round trip (click -> new text), median of {len(bare)}: {bare_ms:.0f} ms\n")
    print(f"{'graph':<28}{'nodes':>6}{'open new':>10}{'open again':>11}{'click->DOM':>12}{'->pixels':>10}"
          f"{'max':>8}{'payload':>10}")
    verdicts = []
    with streamlit_server() as base, chromium_page(1600, 1100) as page:
        for label, program in graphs:
            trace = run(program)
            payload = compressed_payload(trace)
            url = f"{base}/?{urlencode({'program': program, 't': 0})}"
            start = time.perf_counter()
            open_studio(page, url, timeout_ms=120000)
            first = time.perf_counter() - start
            start = time.perf_counter()
            open_studio(page, url, timeout_ms=120000)
            again = time.perf_counter() - start
            page.locator(hook("graph")).click(position={"x": 5, "y": 5})
            dom, painted = click_times(page, args.clicks)
            median = statistics.median(painted)
            n = len(trace.nodes)
            print(f"{label:<28}{n:>6}{first:>9.2f}s{again:>10.2f}s{statistics.median(dom):>10.1f}ms"
                  f"{median:>8.1f}ms{max(painted):>6.0f}ms{len(payload.data) / 1000:>8.0f}kB")
            if n >= 250:
                target_click = 50 if n < 600 else 100
                target_open = 2.0 if n < 600 else 5.0
                verdicts.append((f"click -> pixels at {n} nodes <= {target_click} ms", median <= target_click,
                                 f"{median:.1f} ms"))
                verdicts.append((f"open a {n}-node program <= {target_open:g} s (new to the server)",
                                 first <= target_open, f"{first:.2f} s"))
            verdicts.append((f"the step's text follows ({label}) within bare + 100 ms", median <= bare_ms + 100,
                             f"{median:.1f} ms (bare {bare_ms:.0f} ms)"))
        burst, after = frames_sent_while_stepping(page, 10)
        print(f"\nWebsocket frames sent by the page during 10 clicks 30 ms apart: {burst}; "
              f"in the second after them: {after} (the debounced report)")
        verdicts.append(("server messages per step for the graph: none", burst == 0, f"{burst} during the burst"))

    largest = run(largest_program())
    start = time.perf_counter()
    biggest = compressed_payload(largest)
    print(f"\nThe largest program the limits allow ({len(largest.nodes)} nodes, t_end {largest.t_end}): payload "
          f"{len(biggest.data) / 1e6:.2f} MB compressed, built in {time.perf_counter() - start:.1f} s")
    verdicts.append(("one-time payload of the largest program <= 5 MB", len(biggest.data) <= 5e6,
                     f"{len(biggest.data) / 1e6:.2f} MB"))
    print("\nTargets")
    for what, ok, measured in verdicts:
        print(f"  {'PASS' if ok else 'MISS'}  {what:<62} {measured}")


if __name__ == "__main__":
    main()

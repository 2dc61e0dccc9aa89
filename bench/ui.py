"""How fast the page follows a click. Not a test: it prints figures against the targets.

    python bench/ui.py            # server-side build time per step, and click -> SVG in Chromium
    python bench/ui.py --no-browser

1. Server side: the time to build everything the page draws for one step — the DOT, the step
   explanation, the tape, the inspector's rows and SVG heatmaps — for a 30-node and a 300-node trace
   (target ≤ 100 ms at 300 nodes). Also the whole script rerun a click causes (Streamlit's AppTest).
2. In the browser: from a click on "Next" to the updated SVG on screen, for the two-layer MLP
   example (target ≤ 0.5 s), with the real server and Debian's Chromium.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.examples import load_examples  # noqa: E402
from core.language import run  # noqa: E402
from ui.explain import explain_step  # noqa: E402
from ui.figures import heatmap_svg  # noqa: E402
from ui.render import contribution_rows, graph_dot, tape_rows  # noqa: E402


def chain_program(statements: int) -> str:
    """A scalar program of 1 + 4·statements nodes (sin, ×, + and a constant per line)."""
    lines = ["x = 0.5"] + [f"h{i} = sin({'x' if i == 1 else f'h{i - 1}'}) * 0.9 + {'x' if i == 1 else f'h{i - 1}'}"
                           for i in range(1, statements + 1)]
    return "\n".join(lines) + "\n"


def neuron_layer_program(inputs: int, neurons: int) -> str:
    """micrograd-style: scalar weights, a layer of tanh neurons, a squared loss (a wide graph)."""
    lines = [f"x{i} = {0.05 * (i + 1):.2f}" for i in range(inputs)]
    lines += [f"w{j}_{i} = {((i * 7 + j * 3) % 11 - 5) / 5:.2f}" for j in range(neurons) for i in range(inputs)]
    lines += [f"n{j} = tanh({' + '.join(f'w{j}_{i} * x{i}' for i in range(inputs))})" for j in range(neurons)]
    lines.append("loss = " + " + ".join(f"n{j} ** 2" for j in range(neurons)))
    return "\n".join(lines) + "\n"


def draw_everything(trace, t: int) -> None:
    """What one rerun computes for the page at step t (the pure part of every panel)."""
    graph_dot(trace, t)
    explain_step(trace, t)
    tape_rows(trace, t)
    node = trace.explain(t).node if trace.explain(t).node is not None else trace.output
    contribution_rows(trace, node, t)
    value, grad = trace.value_at(node, t), trace.grad_at(node, t)
    if value is not None and trace.nodes[node].shape:
        heatmap_svg(value, "value")
        if grad is not None:
            heatmap_svg(grad, "gradient", diverging=True)


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def server_side(repeats: int) -> list:
    rows = []
    mlp = next(e for e in load_examples() if "MLP" in e.title).program
    for label, program in [("chain, ~30 nodes", chain_program(7)), ("MLP example", mlp),
                           ("chain, ~300 nodes", chain_program(75)), ("neuron layer, ~300 nodes",
                                                                     neuron_layer_program(24, 4))]:
        trace = run(program)
        steps = list(range(0, trace.t_end + 1, max(1, trace.t_end // 20)))
        per_step = median_ms(lambda: [draw_everything(trace, t) for t in steps], repeats) / len(steps)
        build = median_ms(lambda: run(program), repeats)
        rows.append((label, len(trace.nodes), per_step, build))
    return rows


def app_rerun(repeats: int) -> float:
    """A click on Next, as the server runs it: the whole script, through AppTest."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=120)
    at.query_params["program"] = chain_program(75)
    at.run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        at.button(key="step_next").click().run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def click_to_svg(clicks: int) -> list:
    """Wall time from a click on Next to the SVG showing the next step's current node."""
    from tests.browser_session import GRAPH_SVG, chromium_page, share_link, streamlit_server

    mlp = next(e for e in load_examples() if "MLP" in e.title).program
    times = []
    with streamlit_server() as base, chromium_page() as page:
        page.goto(share_link(base, mlp, t="0"))
        page.wait_for_selector(GRAPH_SVG, timeout=60000)
        for t in range(1, clicks + 1):
            start = time.perf_counter()
            page.get_by_role("button", name="Next").click()
            page.wait_for_selector(f'{GRAPH_SVG} g[id="current-{t}"]', timeout=30000)
            times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("Server side: everything the page draws for one step (median over the timeline)")
    print(f"  {'trace':<26}{'nodes':>6}{'ms / step':>11}{'run() ms':>10}")
    for label, nodes, per_step, build in server_side(args.repeats):
        target = "  (target ≤ 100 ms: " + ("PASS" if per_step <= 100 else "MISS") + ")" if nodes >= 250 else ""
        print(f"  {label:<26}{nodes:>6}{per_step:>11.1f}{build:>10.1f}{target}")
    print(f"  whole script rerun after a click, 300-node chain (AppTest): {app_rerun(args.repeats):.0f} ms")
    if not args.no_browser:
        times = click_to_svg(12)
        median = statistics.median(times)
        print(f"Browser: click Next -> updated SVG, MLP example, {len(times)} clicks: "
              f"median {1000 * median:.0f} ms, max {1000 * max(times):.0f} ms "
              f"(target ≤ 500 ms: {'PASS' if median <= 0.5 else 'MISS'})")


if __name__ == "__main__":
    main()

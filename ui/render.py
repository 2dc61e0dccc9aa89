"""(trace, t, options) -> DOT: the graph as the page draws it. Pure: no Streamlit here.

Design choices, for the back of a lecture hall and for colour-blind viewers:

- Status is shown three ways at once: fill colour (Okabe & Ito's colour-blind-safe palette), border
  style (dashed = not there yet, thick = current) and words ("1 of 2", "✓"), so no one needs to
  tell colours apart to follow the pass.
- Edges point along the data flow (parent -> child). From the backward step that sends a
  contribution along an edge, the edge carries that contribution ("← 3") in vermilion; the
  current step's edges are drawn heavy.
- Every piece of user text is HTML-escaped: labels are user names, and a name must never be able
  to break the DOT (or inject markup into the SVG).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from core.trace import CURRENT, DONE, PARTIAL, PENDING, WAITING, Trace, format_value

# Okabe–Ito: orange, sky blue, bluish green, blue, vermilion; tints for fills.
STATUS_STYLE = {
    "pending": {"fillcolor": "#F2F2F2", "color": "#9E9E9E", "style": "filled,dashed", "fontcolor": "#8A8A8A"},
    "computed": {"fillcolor": "#FFFFFF", "color": "#555555", "style": "filled", "fontcolor": "#111111"},
    "current": {"fillcolor": "#E69F00", "color": "#000000", "style": "filled,bold", "fontcolor": "#000000"},
    "waiting": {"fillcolor": "#FFFFFF", "color": "#0072B2", "style": "filled,dashed", "fontcolor": "#111111"},
    "partial": {"fillcolor": "#C6E4F6", "color": "#0072B2", "style": "filled", "fontcolor": "#111111"},
    "done": {"fillcolor": "#C9EBDD", "color": "#009E73", "style": "filled", "fontcolor": "#111111"},
}
STATUS_MEANING = {
    "pending": "not computed yet",
    "computed": "value known",
    "current": "this step",
    "waiting": "needs its gradient, none arrived yet",
    "partial": "some of its gradient contributions have arrived",
    "done": "gradient complete",
}
GRAD_COLOR = "#D55E00"  # vermilion: everything that belongs to the backward pass


@dataclass(frozen=True)
class GraphOptions:
    rankdir: str = "TB"  # "TB" (top to bottom) or "LR" (left to right)
    large: bool = False  # presentation mode: bigger type
    fit: tuple | None = None  # (width, height) in inches: scale the drawing up (or down) to fill them


fmt = format_value  # the one formatter of values, shared with the CLI and the trace's sentences


def _node_label(trace: Trace, node_id: int, t: int, status: str, options: GraphOptions) -> str:
    node = trace.nodes[node_id]
    e = html.escape
    small = 11 if not options.large else 16
    head = f"<B>{e(trace.title(node_id))}</B>"
    if node.kind == "op" and node.name:
        head += f' <FONT POINT-SIZE="{small}">{e(node.symbol)}</FONT>'
    if node.shape:
        head += f' <FONT POINT-SIZE="{small}">{e("×".join(map(str, node.shape)))}</FONT>'
    if status == CURRENT:
        head = "▶ " + head
    rows = [head]
    value = trace.value_at(node_id, t)
    if value is not None and node.kind != "constant":
        rows.append(f"= {e(fmt(value))}")
    if t > trace.t_forward_end and trace.needs_grad(node_id):
        grad = trace.grad_at(node_id, t)
        m = trace.contributions_expected(node_id)
        k = trace.contributions_received(node_id, t)
        progress = ""
        if status in (PARTIAL, WAITING) and m:
            progress = f" ({k} of {m})"
        elif status == DONE:
            progress = " ✓"
        rows.append(f'<FONT COLOR="{GRAD_COLOR}">ḡ {e(fmt(grad))}{progress}</FONT>')
    # Lines joined by <BR/>, not a <TABLE>: the browser lays the graph out about a third faster.
    return "<" + "<BR/>".join(rows) + ">"


def _edge_contributions(trace: Trace, t: int) -> dict:
    """(parent, child, position) -> (contribution, sent at the current step?) for sent ones."""
    k_now = t - trace.t_forward_end
    sent = {}
    for k, step in enumerate(trace.backward_steps[: max(k_now, 0)], start=1):
        for c in step.contributions:
            sent[(c.parent, step.node, c.position)] = (c, k == k_now)
    return sent


def graph_dot(trace: Trace, t: int, options: GraphOptions = GraphOptions()) -> str:
    """The DOT source of the graph at step ``t``."""
    t = min(max(t, 0), trace.t_end)
    font = 28 if options.large else 16
    size = f', size="{options.fit[0]:g},{options.fit[1]:g}!"' if options.fit else ""
    lines = [
        "digraph backprop {",
        f'  graph [rankdir={"LR" if options.rankdir == "LR" else "TB"}, bgcolor="transparent", '
        f'nodesep=0.3, ranksep=0.35, fontname="Helvetica"{size}];',
        f'  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize={font}, margin="0.12,0.06"];',
        f'  edge [fontname="Helvetica", fontsize={font - 2}, color="#666666", arrowsize=0.7];',
    ]
    for node in trace.nodes:
        status = trace.status_at(node.id, t)
        if node.kind == "constant":
            label = html.escape(node.label)
            lines.append(f'  n{node.id} [label="{_dot_string(label)}", shape=plaintext, style="", '
                         f'fontsize={font - 3}, fontcolor="#666666"];')
            continue
        style = STATUS_STYLE[status]
        shape = "ellipse" if node.kind == "input" else "box"
        penwidth = 4 if status == CURRENT else (1.5 if status != PENDING else 1)
        rounded = "rounded," if shape == "box" else ""
        node_id = f"current-{t}" if status == CURRENT else f"node-{node.id}"  # the page scrolls to it
        lines.append(
            f'  n{node.id} [id="{node_id}", label={_node_label(trace, node.id, t, status, options)}, shape={shape}, '
            f'style="{rounded}{style["style"]}", fillcolor="{style["fillcolor"]}", color="{style["color"]}", '
            f'fontcolor="{style["fontcolor"]}", penwidth={penwidth}];'
        )
    sent = _edge_contributions(trace, t)
    for node in trace.nodes:
        for position, parent in enumerate(node.parents):
            attrs = []
            if (parent, node.id, position) in sent:
                c, now = sent[(parent, node.id, position)]
                attrs += [f'label="← {_dot_string(fmt(c.value))}"', f'fontcolor="{GRAD_COLOR}"',
                          f'color="{GRAD_COLOR}"', f"penwidth={3.5 if now else 1.6}"]
            elif trace.status_at(node.id, t) == CURRENT and t <= trace.t_forward_end:
                attrs += ['color="#E69F00"', "penwidth=3"]  # the inputs of the node being computed
            lines.append(f"  n{parent} -> n{node.id}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")
    lines.append("}")
    return "\n".join(lines)


def tape_rows(trace: Trace, t: int) -> list:
    """The tape: every node with its value, gradient and status at step t."""
    return [
        {"id": n.id, "node": trace.title(n.id), "op": n.op or n.kind, "shape": str(n.shape),
         "value": fmt(trace.value_at(n.id, t)), "gradient": fmt(trace.grad_at(n.id, t)),
         "status": trace.status_at(n.id, t)}
        for n in trace.nodes
    ]


def contribution_rows(trace: Trace, node_id: int, t: int) -> list:
    """What a node has received by step t: one row per contribution, with the running sum."""
    return [
        {"step": k, "from": trace.title(trace.backward_steps[k - 1].node), "contribution": fmt(c.value),
         "running sum": fmt(c.accumulated)}
        for k, c in trace.received(node_id, t)
    ]


def legend_html() -> str:
    """The status legend as HTML chips, styled like the nodes (fill, border, dashes)."""
    chips = []
    for name, s in STATUS_STYLE.items():
        border = "dashed" if "dashed" in s["style"] else "solid"
        chips.append(f"<span class='chip' style='background:{s['fillcolor']};border:2px {border} {s['color']}' "
                     f"title='{STATUS_MEANING[name]}'>{name}</span>")
    return f"<div class='legend'>{''.join(chips)}<span class='chip grad'>← sent gradient</span></div>"


def _dot_string(text: str) -> str:
    """Escape for a double-quoted DOT string (backslash and quote)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')

"""The view model as Graphviz DOT, through the ``graphviz`` package. Pure.

Two uses, one builder: ``digraph(view)`` is the layout the page steps through (every node sized for
the widest text it will ever show, every edge labelled with its widest contribution, so that the
positions fit every step), and ``digraph(view, t)`` is the graph at step ``t`` with its colours
(the DOT export). Labels are plain multi-line text: the WebAssembly Graphviz the server lays out
with has no HTML-label support, and the browser restyles the lines itself.
"""

from __future__ import annotations

import graphviz

from .view import CONSTANT_TEXT, EDGE_STYLES, STATUS_STYLES, GraphView

FONT = "Helvetica"  # the browser's Helvetica/Arial/Liberation Sans share Graphviz's metrics
FONT_SIZE = 14  # points; the page zooms, so one size serves the screen and the projector
EDGE_FONT_SIZE = 12


def digraph(view: GraphView, t: int | None = None, *, rankdir: str = "TB") -> graphviz.Digraph:
    """The graph at step ``t`` (coloured), or, with ``t=None``, the layout of every step."""
    g = graphviz.Digraph("backprop", graph_attr={
        "rankdir": "LR" if rankdir == "LR" else "TB", "bgcolor": "transparent",
        "nodesep": "0.3", "ranksep": "0.35", "fontname": FONT,
    }, node_attr={
        "fontname": FONT, "fontsize": str(FONT_SIZE), "margin": "0.2,0.06", "style": "rounded,filled",
    }, edge_attr={"fontname": FONT, "fontsize": str(EDGE_FONT_SIZE), "arrowsize": "0.7"})
    for node in view.nodes:
        lines = view.widest_lines(node.id) if t is None else view.node_look(node.id, t).lines
        attrs = {"id": f"n{node.id}", "shape": node.shape, "label": _label(lines)}
        if node.kind == "constant":
            attrs.update(style="", fontcolor=CONSTANT_TEXT, fontsize=str(FONT_SIZE - 2))
        elif t is not None:
            style = STATUS_STYLES[view.node_look(node.id, t).status]
            rounded = "rounded," if node.shape == "box" else ""
            attrs.update(fillcolor=style.fill, color=style.border, fontcolor=style.text,
                         penwidth=f"{style.border_width:g}",
                         style=f"{rounded}filled{',dashed' if style.dashed else ''}")
        g.node(f"n{node.id}", **attrs)
    for edge in view.edges:
        attrs = {"id": f"e{edge.id}"}
        if t is None:
            label = view.widest_edge_label(edge.id)
        else:
            look = view.edge_look(edge.id, t)
            label = look.label
            colour, width = EDGE_STYLES[look.state]
            attrs.update(color=colour, penwidth=f"{width:g}", fontcolor=colour)
        if label:
            attrs["label"] = _label((label,))
        g.edge(f"n{edge.parent}", f"n{edge.child}", **attrs)
    return g


def _label(lines) -> str:
    r"""Lines as one plain DOT label, joined by Graphviz's ``\n`` (a centred line break). A
    backslash of the text itself is doubled (Graphviz reads ``\N``, ``\G`` ... in labels), a
    newline in it becomes a space, and ``nohtml`` keeps a text that happens to look like ``<…>``
    from being read as an HTML label; the ``graphviz`` package quotes the rest."""
    return graphviz.nohtml("\\n".join(" ".join(line.replace("\\", "\\\\").split("\n")) for line in lines))

"""The view model as Graphviz DOT, through the ``graphviz`` package. Pure.

Two uses, one builder: ``digraph(view)`` is the layout the page steps through (every node sized for
the widest text it will ever show, every edge labelled with its widest contribution, so that the
positions fit every step), and ``digraph(view, t)`` is the graph at step ``t`` with its colours
(the DOT export). Labels are plain multi-line text: the WebAssembly Graphviz the server lays out
with has no HTML-label support, and the browser restyles the lines itself.
"""

from __future__ import annotations

import graphviz

from .clusters import Clusters
from .view import CONSTANT_TEXT, EDGE_STYLES, STATUS_STYLES, GraphView

FONT = "Helvetica"  # the browser's Helvetica/Arial/Liberation Sans share Graphviz's metrics
FONT_SIZE = 14  # points; the page zooms, so one size serves the screen and the projector
EDGE_FONT_SIZE = 12


FRAME_COLOUR = "#6b6b6b"  # the box around a call or a loop iteration (5.5:1 on white)


def digraph(view: GraphView, t: int | None = None, *, rankdir: str = "TB",
            clusters: Clusters | None = None) -> graphviz.Digraph:
    """The graph at step ``t`` (coloured), or, with ``t=None``, the layout of every step. Each call
    and loop iteration is a labelled box around its nodes; a collapsed one (``clusters``) is one
    node that stands for them, and the edges that crossed its border attach to it."""
    clusters = clusters or Clusters(view)
    g = graphviz.Digraph("backprop", graph_attr={
        "rankdir": "LR" if rankdir == "LR" else "TB", "bgcolor": "transparent",
        "nodesep": "0.3", "ranksep": "0.35", "fontname": FONT,
    }, node_attr={
        "fontname": FONT, "fontsize": str(FONT_SIZE), "margin": "0.2,0.06", "style": "rounded,filled",
    }, edge_attr={"fontname": FONT, "fontsize": str(EDGE_FONT_SIZE), "arrowsize": "0.7"})
    boxes = {f.id: f for f in clusters.frames}
    placed: dict = {}  # frame id (or None, the top level) -> the DOT statements of what it holds
    for node in view.nodes:
        if clusters.visible(node.id):
            scope = getattr(view.trace.nodes[node.id], "scope", ())
            placed.setdefault(scope[-1].id if scope else None, []).append(("node", node.id))
    for fid in clusters.members:  # the collapsed frames shown as nodes, in the box around them
        placed.setdefault(boxes[fid].parent, []).append(("frame", fid))
    for box in clusters.frames:  # every shown box, even one that holds only boxes
        if not box.collapsed and not _inside_collapsed(box, boxes):
            placed.setdefault(box.parent, [])
    _fill(g, None, placed, boxes, view, clusters, t)
    for edge in view.edges:
        if not (clusters.visible(edge.parent) and clusters.visible(edge.child)):
            continue
        look = None if t is None else view.edge_look(edge.id, t)
        label = view.widest_edge_label(edge.id) if t is None else look.label
        g.edge(f"n{edge.parent}", f"n{edge.child}", **_edge_attrs(f"e{edge.id}", label, look))
    for edge in clusters.edges:
        look = None if t is None else clusters.edge_look(edge.id, t)
        label = clusters.widest_edge_label(edge.id) if t is None else look.label
        g.edge(_dot_id(edge.source), _dot_id(edge.target), **_edge_attrs(f"x{edge.id}", label, look))
    return g


def _fill(g, fid, placed: dict, boxes: dict, view: GraphView, clusters: Clusters, t) -> None:
    """Write what frame ``fid`` (None: the top level) holds into ``g``: its nodes, its collapsed
    frames, and its open frames as nested boxes. The frames nest as the program's calls and loops
    did, which the language bounds (calls 16 deep), so this recursion is shallow."""
    for kind, item in placed.get(fid, ()):
        if kind == "node":
            _node(g, view, item, t)
        else:
            _collapsed_frame(g, clusters, item, t)
    for box in clusters.frames:
        if box.parent == fid and box.id in placed and not box.collapsed:
            with g.subgraph(name=f"cluster_k{box.id}") as sub:
                sub.attr(id=f"k{box.id}", label=_label((box.label,)), labeljust="l", style="rounded,dashed",
                         color=FRAME_COLOUR, fontcolor=FRAME_COLOUR, fontsize=str(EDGE_FONT_SIZE))
                _fill(sub, box.id, placed, boxes, view, clusters, t)


def _inside_collapsed(box, boxes: dict) -> bool:
    parent = box.parent
    while parent is not None:
        if boxes[parent].collapsed:
            return True
        parent = boxes[parent].parent
    return False


def _node(g, view: GraphView, node_id: int, t) -> None:
    node = view.nodes[node_id]
    lines = view.widest_lines(node_id) if t is None else view.node_look(node_id, t).lines
    attrs = {"id": f"n{node_id}", "shape": node.shape, "label": _label(lines)}
    if node.kind == "constant":
        attrs.update(style="", fontcolor=CONSTANT_TEXT, fontsize=str(FONT_SIZE - 2))
    elif t is not None:
        attrs.update(_status_attrs(view.node_look(node_id, t).status, node.shape))
    g.node(f"n{node_id}", **attrs)


def _collapsed_frame(g, clusters: Clusters, fid: int, t) -> None:
    lines = clusters.widest_lines(fid) if t is None else clusters.node_look(fid, t).lines
    attrs = {"id": f"f{fid}", "shape": "box", "peripheries": "2", "label": _label(lines)}
    if t is not None:
        attrs.update(_status_attrs(clusters.node_look(fid, t).status, "box"))
    g.node(f"f{fid}", **attrs)


def _status_attrs(status: str, shape: str) -> dict:
    style = STATUS_STYLES[status]
    rounded = "rounded," if shape == "box" else ""
    return {"fillcolor": style.fill, "color": style.border, "fontcolor": style.text,
            "penwidth": f"{style.border_width:g}", "style": f"{rounded}filled{',dashed' if style.dashed else ''}"}


def _edge_attrs(dot_id: str, label: str, look) -> dict:
    attrs = {"id": dot_id}
    if look is not None:
        colour, width = EDGE_STYLES[look.state]
        attrs.update(color=colour, penwidth=f"{width:g}", fontcolor=colour)
    if label:
        attrs["label"] = _label((label,))
    return attrs


def _dot_id(end: tuple) -> str:
    kind, number = end
    return f"{kind}{number}"


def _label(lines) -> str:
    r"""Lines as one plain DOT label, joined by Graphviz's ``\n`` (a centred line break). A
    backslash of the text itself is doubled (Graphviz reads ``\N``, ``\G`` ... in labels), a
    newline in it becomes a space, and ``nohtml`` keeps a text that happens to look like ``<…>``
    from being read as an HTML label; the ``graphviz`` package quotes the rest."""
    return graphviz.nohtml("\\n".join(" ".join(line.replace("\\", "\\\\").split("\n")) for line in lines))

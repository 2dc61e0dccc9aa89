"""A plain layered layout in Python, for the graphs Graphviz cannot lay out in time. Pure.

Graphviz's ``dot`` recurses along the ranks, and the WebAssembly build runs out of stack on a
graph more than about a thousand ranks deep (a long unrolled program); past a few thousand nodes
it also takes minutes. Such a graph still has to step, so it gets this layout instead: ranks by
longest path from the inputs (the trace's order is topological, so one pass), each rank ordered by
the mean position of its parents (one sweep), straight edges. It draws the same SVG structure as
``layout.clean_svg`` (``g.node`` with the DOT id, a shape and ``text[data-slot]``, ``g.edge`` with
a path, an arrowhead and a label), so the page restyles it the same way. It draws what is shown:
the nodes and the collapsed frames (``Item``), and the edges between them (``Link``), in an order
where every edge goes forward.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import NamedTuple

from .dot import EDGE_FONT_SIZE, FONT, FONT_SIZE
from .view import text_width

SVG_NS = "http://www.w3.org/2000/svg"

EM = 0.6 * FONT_SIZE  # the average width of a character, in points
LINE = 1.2 * FONT_SIZE
PAD_X, PAD_Y = 14.0, 6.0
NODE_GAP, RANK_GAP, MARGIN = 22.0, 44.0, 8.0


class Item(NamedTuple):
    """Something the graph shows as a node: a node, or a collapsed frame."""

    dot_id: str  # "n3", "f2"
    shape: str  # "ellipse", "box" or "plaintext"
    lines: tuple  # the widest text of each slot


class Link(NamedTuple):
    dot_id: str  # "e5", "x1"
    source: int  # index of an Item
    target: int  # index of a later Item
    label: str  # the widest label it ever shows


def ranks_of(count: int, links) -> tuple:
    """(parents of each item, rank of each item: its longest path from an item with no parent).
    The items are in an order where every link goes forward, so one pass does."""
    parents = [[] for _ in range(count)]
    for link in links:
        parents[link.target].append(link.source)
    rank = [0] * count
    for i in range(count):
        rank[i] = max((rank[p] + 1 for p in parents[i]), default=0)
    return parents, rank


def layered_svg(items: list, links: list, rankdir: str = "TB") -> str:
    sizes = [_size(item) for item in items]
    parents, rank = ranks_of(len(items), links)
    ranks = [[] for _ in range(max(rank, default=0) + 1)]
    for i in range(len(items)):
        ranks[rank[i]].append(i)
    across = 0 if rankdir != "LR" else 1  # the axis along a rank: x for TB, y for LR
    centre = {}
    for members in ranks:
        members.sort(key=lambda i: _mean((centre[p] for p in parents[i]), default=i * 1e-6))
        extent = sum(sizes[i][across] for i in members) + NODE_GAP * (len(members) - 1)
        position = -extent / 2
        for i in members:
            centre[i] = position + sizes[i][across] / 2
            position += sizes[i][across] + NODE_GAP
    depth_of_rank, depth = [], 0.0
    for members in ranks:
        thickness = max(sizes[i][1 - across] for i in members)
        depth_of_rank.append(depth + thickness / 2)
        depth += thickness + RANK_GAP
    low = min((centre[i] - sizes[i][across] / 2 for i in centre), default=0.0)
    points = {}
    for i in centre:
        along, depth_i = centre[i] - low + MARGIN, depth_of_rank[rank[i]] + MARGIN
        points[i] = (along, depth_i) if across == 0 else (depth_i, along)
    width = max((points[i][0] + sizes[i][0] / 2 for i in points), default=0.0) + MARGIN
    height = max((points[i][1] + sizes[i][1] / 2 for i in points), default=0.0) + MARGIN
    return _svg(items, links, sizes, points, width, height, across)


def _mean(values, default: float) -> float:
    values = list(values)
    return sum(values) / len(values) if values else default


def _size(item: Item) -> tuple:
    lines = item.lines
    width = max(text_width(line) for line in lines) * EM + 2 * PAD_X
    height = len(lines) * LINE + 2 * PAD_Y
    if item.shape == "ellipse":
        width, height = width * 1.3, height * 1.2
    return width, height


def _svg(items, links, sizes, points, width, height, across) -> str:
    ET.register_namespace("", SVG_NS)
    root = ET.Element(f"{{{SVG_NS}}}svg", {
        "width": f"{width:.0f}pt", "height": f"{height:.0f}pt", "viewBox": f"0 0 {width:.1f} {height:.1f}",
        "font-family": f"{FONT},Arial,'Liberation Sans',sans-serif", "font-size": str(FONT_SIZE),
    })
    graph = ET.SubElement(root, f"{{{SVG_NS}}}g", {"id": "graph0", "class": "graph", "transform": "translate(0 0)"})
    for link in links:
        _edge(graph, link, points, sizes, across)
    for i, item in enumerate(items):
        (x, y), (w, h) = points[i], sizes[i]
        group = ET.SubElement(graph, f"{{{SVG_NS}}}g", {"id": item.dot_id, "class": "node"})
        if item.shape == "ellipse":
            ET.SubElement(group, f"{{{SVG_NS}}}ellipse", {"cx": f"{x:.1f}", "cy": f"{y:.1f}", "rx": f"{w / 2:.1f}",
                                                          "ry": f"{h / 2:.1f}", "fill": "none", "stroke": "black"})
        elif item.shape == "box":
            ET.SubElement(group, f"{{{SVG_NS}}}path", {"d": _rounded(x - w / 2, y - h / 2, w, h, 6.0),
                                                       "fill": "none", "stroke": "black"})
        top = y - (len(item.lines) - 1) * LINE / 2 + FONT_SIZE * 0.35
        for slot, line in enumerate(item.lines):
            text = ET.SubElement(group, f"{{{SVG_NS}}}text", {
                "text-anchor": "middle", "x": f"{x:.1f}", "y": f"{top + slot * LINE:.1f}", "data-slot": str(slot)})
            text.text = line
    return ET.tostring(root, encoding="unicode")


def _edge(graph, link: Link, points, sizes, across) -> None:
    (x0, y0), (x1, y1) = points[link.source], points[link.target]
    if across == 0:  # TB: leave the bottom of the parent, enter the top of the child
        start, end = (x0, y0 + sizes[link.source][1] / 2), (x1, y1 - sizes[link.target][1] / 2)
    else:
        start, end = (x0 + sizes[link.source][0] / 2, y0), (x1 - sizes[link.target][0] / 2, y1)
    dx, dy = end[0] - start[0], end[1] - start[1]
    length = max((dx * dx + dy * dy) ** 0.5, 1e-9)
    ux, uy = dx / length, dy / length
    tip_base = (end[0] - 8 * ux, end[1] - 8 * uy)
    group = ET.SubElement(graph, f"{{{SVG_NS}}}g", {"id": link.dot_id, "class": "edge"})
    ET.SubElement(group, f"{{{SVG_NS}}}path", {
        "d": f"M{start[0]:.1f},{start[1]:.1f}L{tip_base[0]:.1f},{tip_base[1]:.1f}", "fill": "none", "stroke": "black"})
    left = (tip_base[0] - 3.5 * uy, tip_base[1] + 3.5 * ux)
    right = (tip_base[0] + 3.5 * uy, tip_base[1] - 3.5 * ux)
    arrow = " ".join(f"{px:.1f},{py:.1f}" for px, py in (end, left, right, end))
    ET.SubElement(group, f"{{{SVG_NS}}}polygon", {"points": arrow, "fill": "black", "stroke": "black"})
    if link.label:
        text = ET.SubElement(group, f"{{{SVG_NS}}}text", {
            "text-anchor": "start", "x": f"{(start[0] + end[0]) / 2 + 5:.1f}", "y": f"{(start[1] + end[1]) / 2:.1f}",
            "font-size": str(EDGE_FONT_SIZE), "data-slot": "0"})
        text.text = link.label


def _rounded(x: float, y: float, w: float, h: float, r: float) -> str:
    right, bottom = x + w, y + h
    return (f"M{x + r:.1f},{y:.1f}H{right - r:.1f}Q{right:.1f},{y:.1f} {right:.1f},{y + r:.1f}"
            f"V{bottom - r:.1f}Q{right:.1f},{bottom:.1f} {right - r:.1f},{bottom:.1f}H{x + r:.1f}"
            f"Q{x:.1f},{bottom:.1f} {x:.1f},{bottom - r:.1f}V{y + r:.1f}Q{x:.1f},{y:.1f} {x + r:.1f},{y:.1f}Z")

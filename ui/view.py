"""The graph as the page draws it: what every node and edge shows at every step t. Pure.

One definition for every drawing of the graph. The page receives, for each node and edge, its look
at the steps where it changes (``node_timeline``/``edge_timeline``) and steps through them in the
browser; the DOT export and the one-time layout read the same looks (``dot.py``). The layout sizes
every node for the widest text it will ever show (``widest_lines``), so positions never change
between steps.

Design choices, for the back of a lecture hall and for colour-blind viewers:

- Status is shown three ways at once: fill colour (Okabe & Ito's colour-blind-safe palette, as
  tints), border (dashed = not there yet, heavy = current) and words ("1 of 2", "✓", "▶"), so no
  one needs to tell colours apart to follow the pass. Every text colour has a contrast of at least
  4.5:1 (WCAG AA) against its fill; a test checks the whole palette.
- Edges point along the data flow (parent → child). From the backward step that sends a
  contribution along an edge, the edge carries it ("← 3"); the current step's edges are heavy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from core.trace import COMPUTED, CURRENT, DONE, PARTIAL, PENDING, WAITING, Trace, format_value


@dataclass(frozen=True)
class Style:
    """How a status is drawn: fill, border and the two text colours, dashes and border width."""

    fill: str
    border: str
    text: str
    grad_text: str  # the "ḡ …" line
    dashed: bool
    border_width: float


# Okabe–Ito hues: orange #E69F00 (current), blue #0072B2 (waiting for gradient), bluish green
# #009E73 (done); fills are light tints so that dark text reads on all of them.
STATUS_STYLES = {
    PENDING: Style("#F2F2F2", "#8C8C8C", "#595959", "#595959", True, 1.0),
    COMPUTED: Style("#FFFFFF", "#555555", "#111111", "#8A3500", False, 1.5),
    CURRENT: Style("#E69F00", "#000000", "#000000", "#000000", False, 4.0),
    WAITING: Style("#FFFFFF", "#0072B2", "#111111", "#8A3500", True, 2.0),
    PARTIAL: Style("#C6E4F6", "#0072B2", "#111111", "#8A3500", False, 2.0),
    DONE: Style("#C9EBDD", "#009E73", "#111111", "#8A3500", False, 2.0),
}
STATUS_MEANING = {
    PENDING: "not computed yet",
    COMPUTED: "value known",
    CURRENT: "this step",
    WAITING: "needs its gradient, none arrived yet",
    PARTIAL: "some of its gradient contributions have arrived",
    DONE: "gradient complete",
}
CONSTANT_TEXT = "#595959"  # constants are plain text on the page background
PAGE_BACKGROUND = "#FFFFFF"

# Edges: IDLE (nothing on it), FEEDING (forward: an input of the node being computed), SENT (a
# contribution went along it at an earlier step), SENDING (it goes along it at this step).
IDLE, FEEDING, SENT, SENDING = "idle", "feeding", "sent", "sending"
EDGE_STATES = (IDLE, FEEDING, SENT, SENDING)
GRAD_COLOR = "#B23C00"  # vermilion, darkened to 4.5:1 on white: everything of the backward pass
EDGE_STYLES = {  # state -> (colour, width)
    IDLE: ("#666666", 1.0),
    FEEDING: ("#B57A00", 3.0),
    SENT: (GRAD_COLOR, 1.6),
    SENDING: (GRAD_COLOR, 3.5),
}

GRAD_MARK = "ḡ"
CURRENT_MARK = "▶ "
LINES = 3  # title, "= value", "ḡ gradient": every node but a constant has three text slots


class NodeInfo(NamedTuple):
    """What never changes about a node on screen."""

    id: int
    kind: str  # "input", "op" or "constant"
    shape: str  # the Graphviz shape: "ellipse" (inputs), "box" (ops), "plaintext" (constants)
    title: str  # its name on screen, with the op's symbol and the array shape: "W1 @ 4×3"


class EdgeInfo(NamedTuple):
    id: int
    parent: int
    child: int
    position: int  # which argument of the child the parent is


class NodeLook(NamedTuple):
    """What a node shows at one step: its status and its text lines ("" for an empty slot)."""

    status: str
    lines: tuple


class EdgeLook(NamedTuple):
    state: str
    label: str  # "← 3" once a contribution went along the edge, else ""


class GraphView:
    """The view model of a trace's graph. Looks are computed from the trace's queries on demand."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.nodes = tuple(NodeInfo(n.id, n.kind, _SHAPES[n.kind], _title(trace, n.id)) for n in trace.nodes)
        self.edges = tuple(EdgeInfo(i, parent, child, position) for i, (parent, child, position) in
                           enumerate((p, n.id, pos) for n in trace.nodes for pos, p in enumerate(n.parents)))
        # Which backward step k sent along which edge, and what: (parent, child, position) -> (k, value).
        self._sent = {}
        for k, step in enumerate(trace.backward_steps, start=1):
            for c in step.contributions:
                self._sent[(c.parent, step.node, c.position)] = (k, c.value)

    # ---- one step ---------------------------------------------------------------------------------
    def node_look(self, node_id: int, t: int) -> NodeLook:
        trace, info = self.trace, self.nodes[node_id]
        if info.kind == "constant":
            return NodeLook(COMPUTED, (info.title,))
        status = trace.status_at(node_id, t)
        title = (CURRENT_MARK if status == CURRENT else "") + info.title
        value = trace.value_at(node_id, t)
        value_line = "" if value is None else f"= {format_value(value)}"
        grad_line = ""
        if t > trace.t_forward_end and trace.needs_grad(node_id):
            grad_line = f"{GRAD_MARK} {format_value(trace.grad_at(node_id, t))}{_progress(trace, node_id, t, status)}"
        return NodeLook(status, (title, value_line, grad_line))

    def edge_look(self, edge_id: int, t: int) -> EdgeLook:
        trace = self.trace
        edge = self.edges[edge_id]
        sent = self._sent.get((edge.parent, edge.child, edge.position))
        k_now = t - trace.t_forward_end
        if sent is not None and sent[0] <= k_now:
            return EdgeLook(SENDING if sent[0] == k_now else SENT, f"← {format_value(sent[1])}")
        if 0 < t <= trace.t_forward_end and trace.forward_steps[t - 1] == edge.child:
            return EdgeLook(FEEDING, "")
        return EdgeLook(IDLE, "")

    # ---- every step -------------------------------------------------------------------------------
    def node_timeline(self, node_id: int) -> tuple:
        """((t, look), ...): the node's look from each listed t until the next one. O(its edges)."""
        return changes(self._node_times(node_id), lambda t: self.node_look(node_id, t))

    def edge_timeline(self, edge_id: int) -> tuple:
        return changes(self._edge_times(edge_id), lambda t: self.edge_look(edge_id, t))

    def _node_times(self, node_id: int) -> set:
        """Every t at which the node's look may change: when it is computed, when the backward
        pass starts, when each contribution arrives, when it is processed (and the step after)."""
        trace = self.trace
        forward_end = trace.t_forward_end
        computed_at = trace._computed_at[node_id]
        times = {0, computed_at, computed_at + 1, forward_end + 1}
        processed = trace._processed_at.get(node_id)
        if processed is not None:
            times |= {forward_end + processed, forward_end + processed + 1}
        times.update(forward_end + k for k in trace._arrivals.get(node_id, ((), ()))[0])
        return {t for t in times if 0 <= t <= trace.t_end}

    def _edge_times(self, edge_id: int) -> set:
        trace, edge = self.trace, self.edges[edge_id]
        computed_at = trace._computed_at[edge.child]
        times = {0, computed_at, computed_at + 1}
        sent = self._sent.get((edge.parent, edge.child, edge.position))
        if sent is not None:
            times |= {trace.t_forward_end + sent[0], trace.t_forward_end + sent[0] + 1}
        return {t for t in times if 0 <= t <= trace.t_end}

    def widest_lines(self, node_id: int) -> tuple:
        """Per text slot, the widest text the node ever shows: what the layout sizes it for."""
        looks = [look for _, look in self.node_timeline(node_id)]
        slots = max(len(look.lines) for look in looks)
        return tuple(max((look.lines[i] for look in looks if i < len(look.lines)), key=text_width)
                     for i in range(slots))

    def widest_edge_label(self, edge_id: int) -> str:
        return max((look.label for _, look in self.edge_timeline(edge_id)), key=text_width)


_SHAPES = {"input": "ellipse", "op": "box", "constant": "plaintext"}
_NARROW = frozenset(" .,:;'!|ijlrtf()[]-1")


def text_width(text: str) -> float:
    """A rough width in ems, to pick the widest of several texts (narrow glyphs count half)."""
    return sum(0.5 if ch in _NARROW else 1.0 for ch in text)


def _title(trace: Trace, node_id: int) -> str:
    node = trace.nodes[node_id]
    if node.kind == "constant":
        return " ".join(node.label.split())
    parts = [trace.title(node_id)]
    if node.kind == "op" and node.name:
        parts.append(node.symbol)
    if node.shape:
        parts.append("×".join(map(str, node.shape)))
    return " ".join(parts)


def _progress(trace: Trace, node_id: int, t: int, status: str) -> str:
    if status == DONE:
        return " ✓"
    m = trace.contributions_expected(node_id)
    if status in (PARTIAL, WAITING) and m:
        return f" ({trace.contributions_received(node_id, t)} of {m})"
    return ""


def changes(times: set, look_at) -> tuple:
    """The (t, look) pairs where the look differs from the one before."""
    out, previous = [], None
    for t in sorted(times):
        look = look_at(t)
        if look != previous:
            out.append((t, look))
            previous = look
    return tuple(out)

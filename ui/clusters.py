"""Calls and loop iterations as boxes of the graph, and collapsed ones as single nodes. Pure.

A program's functions and loops make frames (``core.trace.Frame``): every node records the calls
and iterations it was made in (``NodeRecord.scope``). The graph draws each frame as a labelled box
around its nodes (``layer(x, W1, b1)``, ``for t = 2 (line 5)``). A *collapsed* frame is drawn as
one node instead: its nodes are hidden, the edges that crossed its border attach to it, and its
look at step t sums its nodes' looks up (current while one of them is, "3 of 12 computed", its
output's value and gradient, done when all its gradients are). A collapsed frame's steps are
consecutive on the timeline (``Trace.frame_steps``), so the page steps over it in one step.

The view of an unrolled 1,000-node program starts with its outermost frames collapsed
(``default_collapsed``), so that it is read as a chain of boxes and opened where it matters.
"""

from __future__ import annotations

from typing import NamedTuple

from core.trace import COMPUTED, CURRENT, DONE, PARTIAL, PENDING, WAITING, format_value

from .view import CURRENT_MARK, EDGE_STATES, GRAD_MARK, IDLE, EdgeLook, GraphView, NodeLook, changes, text_width

COLLAPSE_ABOVE_NODES = 150  # a program with frames and more nodes than this opens collapsed


class FrameBox(NamedTuple):
    """A frame as the graph draws it."""

    id: int
    kind: str  # "call" or "loop"
    label: str
    parent: int | None  # the enclosing frame's id
    collapsed: bool
    steps: tuple  # ((first, last) forward, (first, last) backward), each None if empty


class ClusterEdge(NamedTuple):
    """An edge of the collapsed view: ends are ("n", node id) or ("f", frame id)."""

    id: int
    source: tuple
    target: tuple
    members: tuple  # the graph's edge ids it stands for


_EDGE_RANK = {state: rank for rank, state in enumerate(EDGE_STATES)}  # idle < feeding < sent < sending


class Clusters:
    """The frames of a view's trace and, for a set of collapsed frames, the nodes and edges that
    stand for them."""

    def __init__(self, view: GraphView, collapsed=frozenset()):
        self.view = view
        trace = view.trace
        frames = trace.frames() if hasattr(trace, "frames") else {}
        self.collapsed = frozenset(f for f in collapsed if f in frames)
        self.frames = tuple(FrameBox(fid, frame.kind, frame.label, parent, fid in self.collapsed,
                                     trace.frame_steps(fid)) for fid, (frame, parent) in frames.items())
        # The outermost collapsed frame each node is hidden in, or None.
        self.owner = tuple(next((f.id for f in getattr(node, "scope", ()) if f.id in self.collapsed), None)
                           for node in trace.nodes)
        shown = {f for f in self.owner if f is not None}
        self.members = {fid: tuple(i for i, owner in enumerate(self.owner) if owner == fid) for fid in sorted(shown)}
        self.outputs = {fid: self._output(fid, members) for fid, members in self.members.items()}
        ends: dict = {}
        for edge in view.edges:
            source, target = self.end(edge.parent), self.end(edge.child)
            if self.owner[edge.parent] is None and self.owner[edge.child] is None or source == target:
                continue  # drawn as itself, or inside one collapsed frame
            ends.setdefault((source, target), []).append(edge.id)
        self.edges = tuple(ClusterEdge(i, s, t, tuple(m)) for i, ((s, t), m) in enumerate(ends.items()))

    def shown(self) -> tuple:
        """(items, links): what the graph shows, for a layout — every visible node and every
        collapsed frame, in an order where every edge goes forward (a collapsed frame where its
        first node would be: a frame's nodes were made one after another), and the edges
        between them with their widest labels."""
        from .layered import Item, Link

        items, index_of = [], {}
        for node in self.view.nodes:
            end = self.end(node.id)
            if end in index_of:
                continue
            index_of[end] = len(items)
            if end[0] == "n":
                items.append(Item(f"n{node.id}", node.shape, self.view.widest_lines(node.id)))
            else:
                items.append(Item(f"f{end[1]}", "box", self.widest_lines(end[1])))
        view = self.view
        links = [Link(f"e{e.id}", index_of[("n", e.parent)], index_of[("n", e.child)], view.widest_edge_label(e.id))
                 for e in view.edges if self.visible(e.parent) and self.visible(e.child)]
        links += [Link(f"x{e.id}", index_of[e.source], index_of[e.target], self.widest_edge_label(e.id))
                  for e in self.edges]
        return items, links

    def end(self, node_id: int) -> tuple:
        owner = self.owner[node_id]
        return ("n", node_id) if owner is None else ("f", owner)

    def visible(self, node_id: int) -> bool:
        return self.owner[node_id] is None

    def _output(self, fid: int, members: tuple) -> int:
        """The node a frame hands out: the last of its nodes used outside it (or the last one)."""
        trace = self.view.trace
        inside = set(members)
        used_outside = {p for n in trace.nodes if n.id not in inside for p in n.parents if p in inside}
        if trace.output in inside:
            used_outside.add(trace.output)
        return max(used_outside) if used_outside else members[-1]

    # ---- looks -----------------------------------------------------------------------------------
    def node_look(self, fid: int, t: int) -> NodeLook:
        view, trace = self.view, self.view.trace
        members = self.members[fid]
        looks = [view.node_look(i, t) for i in members]
        statuses = [look.status for look in looks]
        label = next(f.label for f in self.frames if f.id == fid)
        ops = [i for i in members if trace.nodes[i].kind == "op"]
        computed = sum(trace.value_at(i, t) is not None for i in ops)
        output = self.outputs[fid]
        if CURRENT in statuses:
            status = CURRENT
        elif t <= trace.t_forward_end:
            status = COMPUTED if computed == len(ops) else PENDING
        else:
            needing = [s for i, s in zip(members, statuses) if trace.needs_grad(i)]
            if not needing:
                status = COMPUTED
            elif all(s == DONE for s in needing):
                status = DONE
            elif any(s in (DONE, PARTIAL) for s in needing):
                status = PARTIAL
            else:
                status = WAITING
        value = trace.value_at(output, t)
        value_line = f"= {format_value(value)}" if computed == len(ops) and value is not None \
            else f"{computed} of {len(ops)} computed"
        grad_line = ""
        if t > trace.t_forward_end and any(trace.needs_grad(i) for i in members):
            done = sum(s == DONE for i, s in zip(members, statuses) if trace.needs_grad(i))
            wanted = sum(trace.needs_grad(i) for i in members)
            grad = trace.grad_at(output, t) if trace.needs_grad(output) else None
            progress = " ✓" if done == wanted else f" ({done} of {wanted} done)"
            grad_line = f"{GRAD_MARK} {format_value(grad)}{progress}"
        title = (CURRENT_MARK if status == CURRENT else "") + f"{label} ({len(members)} nodes)"
        return NodeLook(status, (title, value_line, grad_line))

    def edge_look(self, edge_id: int, t: int) -> EdgeLook:
        looks = [self.view.edge_look(e, t) for e in self.edges[edge_id].members]
        state = max((look.state for look in looks), key=_EDGE_RANK.__getitem__, default=IDLE)
        labels = [look.label for look in looks if look.label]
        label = labels[-1] if len(labels) == 1 else (f"← {len(labels)} contributions" if labels else "")
        return EdgeLook(state, label)

    def node_timeline(self, fid: int) -> tuple:
        times = set().union(*(self.view._node_times(i) for i in self.members[fid]))
        return changes(times, lambda t: self.node_look(fid, t))

    def edge_timeline(self, edge_id: int) -> tuple:
        times = set().union(*(self.view._edge_times(e) for e in self.edges[edge_id].members))
        return changes(times, lambda t: self.edge_look(edge_id, t))

    def widest_lines(self, fid: int) -> tuple:
        looks = [look for _, look in self.node_timeline(fid)]
        return tuple(max((look.lines[i] for look in looks), key=text_width) for i in range(3))

    def widest_edge_label(self, edge_id: int) -> str:
        return max((look.label for _, look in self.edge_timeline(edge_id)), key=text_width)


def default_collapsed(trace) -> frozenset:
    """What a program's view starts with collapsed: nothing, unless it is big and has frames; then
    its outermost frames (the reader opens the one that matters)."""
    frames = trace.frames() if hasattr(trace, "frames") else {}
    if len(trace.nodes) <= COLLAPSE_ABOVE_NODES:
        return frozenset()
    return frozenset(fid for fid, (_, parent) in frames.items() if parent is None)


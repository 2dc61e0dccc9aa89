"""Topological order and the backward pass: iterative, with gradients kept outside the nodes.

Reverse mode in three lines: order the nodes so that every node comes after its parents; give the
output the gradient ``seed`` (1 for a scalar); walk the order backwards and let each node send
``vjp_i(ḡ)`` to its i-th parent, where it is *added* to what the parent already has. A node is
processed only when all of its children have been, which the reverse topological order guarantees,
so its gradient is final by then (Griewank & Walther, *Evaluating Derivatives*, 2nd ed., ch. 3).

Nothing here recurses: a chain of a million nodes needs no more than Python's default stack.
Nothing here stores a gradient on a node either: the pass returns them, so the same graph can be
differentiated again, with another seed, or from two threads at once.
"""

from __future__ import annotations

import numpy as np

from .errors import AutodiffError
from .ops_shape import unbroadcast
from .var import GradScope, Var

_FLOAT64 = np.float64


def toposort(output: Var) -> list:
    """Every node ``output`` depends on, each after all of its parents (iterative DFS).

    A node is expanded (its parents pushed above it) the first time it is popped and appended to
    the order the second time, once everything above it is done. A parent met again while still
    unfinished would mean a cycle, which a graph built forward cannot have, so parents always come
    first. Nodes alone go on the stack (no (node, flag) tuples): fewer allocations, less GC.
    """
    order = []
    expanded = set()
    finished = set()
    stack = [output]
    append, push, pop = order.append, stack.append, stack.pop
    while stack:
        node = pop()
        if node in finished:
            continue
        if node in expanded:
            finished.add(node)
            append(node)
            continue
        expanded.add(node)
        push(node)
        # Pushed last-first so the first argument is popped first: the order then follows the
        # left-to-right evaluation of the expression, which is what a reader of the graph expects.
        # The slots, read directly; a slot that still holds a constant's value goes through
        # parents, which makes its leaf (once): constants are part of the picture a Trace draws.
        more = node._more
        if more is None:
            first, second = node._first, node._second
            if (first is not None and type(first) is not Var) or (second is not None and type(second) is not Var):
                first, second = (node.parents + (None,))[:2]
            if second is not None and second not in expanded:
                push(second)
            if first is not None and first not in expanded:
                push(first)
            continue
        for parent in reversed(more):
            if parent not in expanded:
                push(parent)
    return order


def _active_nodes(order: list, wrt: set):
    """The nodes of ``order`` that depend on ``wrt`` (only they need a gradient), as a set and in
    order, and whether ``order`` holds the input of an enclosing ``grad`` that is still running
    (then gradients must themselves be differentiable)."""
    active = set()
    active_order = []
    nested = False
    for node in order:
        if node in wrt:
            active.add(node)
            active_order.append(node)
            continue
        first, second, more = node._first, node._second, node._more
        if first is None:
            nested = nested or (type(node.attrs) is GradScope and node.attrs.active)
            continue
        # (A slot may hold a constant's value, not a Var: such a parent is never active.)
        if (type(first) is Var and first in active) or (type(second) is Var and second in active) or (
                more is not None and any(p in active for p in more)):
            active.add(node)
            active_order.append(node)
    return active, active_order, nested


class Recording:
    """What a recorded backward pass did, in flat lists (appending to a few long lists makes no
    new containers per step, so recording adds little work for the garbage collector).

    Step k processed ``nodes[k]`` with gradient ``grads[k]`` and sent the contributions
    ``first[k]`` up to ``first[k + 1]`` (or the end): to ``parents[i]`` as argument
    ``positions[i]``, the value ``values[i]``, after which that parent held ``accumulated[i]``.
    Input leaves are steps too, with no contributions.
    """

    __slots__ = ("nodes", "grads", "first", "parents", "positions", "values", "accumulated")

    def __init__(self):
        self.nodes, self.grads, self.first = [], [], []
        self.parents, self.positions, self.values, self.accumulated = [], [], [], []

    def contributions(self, k: int) -> range:
        end = self.first[k + 1] if k + 1 < len(self.first) else len(self.parents)
        return range(self.first[k], end)


def _active_order(output: Var, wrt: set):
    """What ``toposort`` followed by ``_active_nodes`` gives, in one pass and without visiting the
    constants: ``(active set, active nodes in topological order, nested)``.

    A leaf that is not in ``wrt`` is a constant (it needs no gradient and sends none), so it is
    never pushed: in a graph like ``X @ W + C`` a third of the nodes are such leaves. A leaf of a
    still-running grad marks the pass as nested (see ``_active_nodes``). A node is active when, as
    it is finished (after all its parents), one of its parents is.
    """
    order = []
    active = set()
    expanded = set()
    looked_at = set()  # the ancestors of the inputs, looked at for an enclosing grad's input
    nested = False
    stack = [output]
    push, pop, append = stack.append, stack.pop, order.append
    activate, expand = active.add, expanded.add
    while stack:
        node = pop()
        if node in expanded:  # second visit: its parents are finished
            if node not in active:
                more = node._more
                first, second = node._first, node._second
                # (A slot may hold a constant's value, not a Var: such a parent is never active.)
                if (type(first) is Var and first in active) or (type(second) is Var and second in active) or (
                        more is not None and any(p in active for p in more)):
                    activate(node)
                    append(node)
            continue
        if node in wrt:
            expand(node)
            activate(node)
            append(node)
            # Its ancestors need no gradient, but one may be an enclosing grad's input (the
            # identity node a nested grad puts over it): look on, without activating them.
            # (A separate set: another path from the output may still reach them as usual.)
            # The slots, not ``parents``: that would make a leaf for every constant kept as a value.
            pending = _var_parents(node)
            while pending:
                ancestor = pending.pop()
                if ancestor in looked_at or ancestor in wrt:
                    continue
                looked_at.add(ancestor)
                if ancestor._first is None and ancestor._more is None:  # a leaf
                    if type(ancestor.attrs) is GradScope and ancestor.attrs.active:
                        nested = True
                else:
                    pending.extend(_var_parents(ancestor))
            continue
        expand(node)
        push(node)
        # Last-first, so the first argument is finished first (the order a reader expects); the
        # parents come from their slots (see Var). A constant leaf is never pushed.
        more = node._more
        for parent in (node._second, node._first) if more is None else reversed(more):
            if type(parent) is not Var or parent in expanded:  # absent, or a constant's value
                continue
            if parent._first is not None or parent in wrt:
                push(parent)
            elif type(parent.attrs) is GradScope and parent.attrs.active:
                nested = True
    return active, order, nested


def _var_parents(node: Var) -> list:
    """A node's operands that are Vars, read from its slots (a constant's value is skipped)."""
    more = node._more
    return [p for p in ((node._first, node._second) if more is None else more) if type(p) is Var]


def backward(output: Var, wrt, seed=None, *, create_graph=None, record=None, order=None) -> dict:
    """Gradients of ``output`` with respect to each node in ``wrt``, as ``{node: gradient}``.

    ``seed`` is the output's gradient (default: ones of its shape). With ``create_graph`` the VJPs
    run on Vars and the gradients are Vars, so they can be differentiated again; ``None`` (the
    default) turns it on exactly when the graph holds an input of an enclosing ``grad``, which is
    what nested ``grad(grad(f))`` needs. A node in ``wrt`` that ``output`` does not depend on maps
    to ``None``. ``record``, a ``Recording``, receives every step and every contribution with
    the running sum it produced, in processing order: the raw material of a Trace.
    ``order`` may pass a topological order of ``output``'s graph that the caller already has.
    """
    wrt_set = set(wrt)
    if order is None:
        active, active_order, nested = _active_order(output, wrt_set)
    else:
        active, active_order, nested = _active_nodes(order, wrt_set)
    if create_graph is None:
        create_graph = nested
    if output not in active:
        return {w: None for w in wrt}
    if seed is None:
        seed = np.ones(output.shape) if output.shape else np.float64(1.0)
    if create_graph and type(seed) is not Var:
        seed = Var(seed)
    grads = {output: seed}
    if record is None and not create_graph:
        _sweep(active_order, active, wrt_set, grads)
    else:
        _sweep_general(active_order, active, wrt_set, grads, create_graph, record)
    return {w: grads.get(w) for w in wrt}


def _sweep(active_order: list, active: set, wrt: set, grads: dict) -> None:
    """The reverse sweep of a first-order gradient, nothing recorded: the hot loop of every
    ``grad``. Each node's gradient is final when it is reached (reverse topological order); it is
    freed as soon as it is used, so memory stays O(width of the graph)."""
    pop, get = grads.pop, grads.get
    for node in reversed(active_order):
        if node in wrt:  # an input: nothing to send further (its parents don't need it)
            continue
        g = pop(node, None)
        if g is None:  # (with a given order) reached only through an input, past which nothing is sent
            continue
        op = node.op
        attrs = node.attrs
        vjps = op.vjps
        ans = node._value
        first, second = node._first, node._second
        if second is None:  # one parent, which (the node being active) is active
            value = first._value
            contribution = vjps[0](g, ans, value, **attrs) if attrs else vjps[0](g, ans, value)
            if type(contribution) is not _FLOAT64 and contribution.shape != value.shape:
                contribution = _fit(op, 0, contribution, value.shape)
            previous = get(first)
            grads[first] = contribution if previous is None else previous + contribution
            continue
        if node._more is None and not attrs:  # most binary ops: unrolled, no argument packing
            # A slot holding a constant's value (not a Var) is a constant operand: no gradient.
            first_is_var, second_is_var = type(first) is Var, type(second) is Var
            va = first._value if first_is_var else first
            vb = second._value if second_is_var else second
            if first_is_var and first in active:
                contribution = vjps[0](g, ans, va, vb)
                if type(contribution) is not _FLOAT64 and contribution.shape != va.shape:
                    contribution = _fit(op, 0, contribution, va.shape)
                previous = get(first)
                grads[first] = contribution if previous is None else previous + contribution
            if second_is_var and second in active:
                contribution = vjps[1](g, ans, va, vb)
                if type(contribution) is not _FLOAT64 and contribution.shape != vb.shape:
                    contribution = _fit(op, 1, contribution, vb.shape)
                previous = get(second)
                grads[second] = contribution if previous is None else previous + contribution
            continue
        parents = node.parents
        values = tuple([p._value for p in parents])
        for position, parent in enumerate(parents):
            if parent not in active:
                continue
            if attrs:
                contribution = vjps[position](g, ans, *values, **attrs)
            else:
                contribution = vjps[position](g, ans, *values)
            value = values[position]
            if type(contribution) is not _FLOAT64 and contribution.shape != value.shape:
                contribution = _fit(op, position, contribution, value.shape)
            previous = get(parent)
            grads[parent] = contribution if previous is None else previous + contribution


def _fit(op, position: int, contribution, shape: tuple):
    """A contribution of another shape than its parent: summed over the axes the op broadcast the
    parent along, or, for an op that does not broadcast, an internal error."""
    if op.broadcasts:
        return unbroadcast(contribution, shape)
    raise AutodiffError(f"internal error: the VJP of {op.name} for argument {position} has shape "
                        f"{contribution.shape}, expected {shape}", op=op.name)


def _sweep_general(active_order: list, active: set, wrt: set, grads: dict, create_graph: bool, record) -> None:
    """The reverse sweep building differentiable gradients (``create_graph``: VJPs run on the
    nodes themselves) or recording every step and contribution (``record``, for a Trace)."""
    pop, get = grads.pop, grads.get
    for node in reversed(active_order):
        if node in wrt:
            if record is not None:
                record.nodes.append(node)
                record.grads.append(grads[node])
                record.first.append(len(record.parents))
            continue
        g = pop(node, None)
        if g is None:  # reached only through an input, past which nothing is sent
            continue
        op = node.op
        more = node._more
        if more is not None:
            parents = more
        else:  # the slots, as a tuple (a slot may hold a constant's value: a constant operand)
            first, second = node._first, node._second
            parents = (first,) if second is None else (first, second)
        if create_graph:
            ans, args = node, parents
        else:
            ans, args = node._value, [p._value if type(p) is Var else p for p in parents]
        attrs = node.attrs
        vjps = op.vjps
        if record is not None:
            record.nodes.append(node)
            record.grads.append(g)
            record.first.append(len(record.parents))
        for position, parent in enumerate(parents):
            if type(parent) is not Var or parent not in active:
                continue
            if attrs:
                contribution = vjps[position](g, ans, *args, **attrs)
            else:
                contribution = vjps[position](g, ans, *args)
            if contribution.shape != parent._value.shape:
                contribution = _fit(op, position, contribution, parent._value.shape)
            previous = get(parent)
            accumulated = contribution if previous is None else previous + contribution
            grads[parent] = accumulated
            if record is not None:
                record.parents.append(parent)
                record.positions.append(position)
                record.values.append(contribution)
                record.accumulated.append(accumulated)

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
        for parent in reversed(node.parents):
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
        parents = node.parents
        if not parents:
            nested = nested or (type(node.attrs) is GradScope and node.attrs.active)
            continue
        for parent in parents:
            if parent in active:
                active.add(node)
                active_order.append(node)
                break
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
        order = toposort(output)
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
    # The hot loop of every gradient: locals, no **{} when an op has no attributes, unrolled
    # argument lists for the one- and two-argument ops that make up most graphs.
    pop, get = grads.pop, grads.get
    for node in reversed(active_order):
        if node in wrt_set:  # an input: nothing to send further (its parents don't need it)
            if record is not None:
                record.nodes.append(node)
                record.grads.append(grads[node])
                record.first.append(len(record.parents))
            continue
        g = pop(node)  # freed as soon as it is used: memory stays O(width of the graph)
        op = node.op
        parents = node.parents
        if create_graph:
            ans, args = node, parents
        elif len(parents) == 2:
            ans, args = node._value, (parents[0]._value, parents[1]._value)
        elif len(parents) == 1:
            ans, args = node._value, (parents[0]._value,)
        else:
            ans, args = node._value, [p._value for p in parents]
        attrs = node.attrs
        vjps = op.vjps
        if record is not None:
            record.nodes.append(node)
            record.grads.append(g)
            record.first.append(len(record.parents))
        for position, parent in enumerate(parents):
            if parent not in active:
                continue
            if attrs:
                contribution = vjps[position](g, ans, *args, **attrs)
            else:
                contribution = vjps[position](g, ans, *args)
            if contribution.shape != parent._value.shape:
                if op.broadcasts:  # the parent was broadcast: sum its copies' gradients back
                    contribution = unbroadcast(contribution, parent._value.shape)
                else:
                    raise AutodiffError(
                        f"internal error: the VJP of {op.name} for argument {position} has shape "
                        f"{contribution.shape}, expected {parent._value.shape}", op=op.name,
                    )
            previous = get(parent)
            accumulated = contribution if previous is None else previous + contribution
            grads[parent] = accumulated
            if record is not None:
                record.parents.append(parent)
                record.positions.append(position)
                record.values.append(contribution)
                record.accumulated.append(accumulated)
    return {w: get(w) for w in wrt}

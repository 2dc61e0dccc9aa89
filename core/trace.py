r"""``Trace``: the forward and the backward pass as plain, replayable data.

Everything the app draws is a query on a Trace at a position ``t`` of the timeline:

    t = 0                     nothing computed yet (inputs and constants are known)
    t = 1 … F                 forward step t has just computed ``forward_steps[t-1]``
    t = F + 1 … F + B         backward step k = t − F has just processed ``backward_steps[k-1]``
                              and sent its contributions to its parents
    t_end = F + B

A backward step is the processing of one node: its final gradient ḡ and one ``Contribution`` per
parent edge (the VJP's value, the rule used, and the parent's running sum right after adding it).
Memory is O(edges): each contribution and its running sum are stored once, never a snapshot of
every node at every step; ``grad_at`` finds the running sum in effect at ``t`` by bisection.

Statuses (``status_at``): ``pending`` (an op node not computed yet), ``computed`` (has a value;
in the backward pass: a node that needs no gradient, such as a constant), ``current`` (the node of
step t), ``waiting`` (needs a gradient, has received none yet), ``partial`` (has received k of
its m contributions: ``contributions_received``), ``done`` (its gradient is final).
"""

from __future__ import annotations

import bisect
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from .backward import Recording, backward, toposort
from .errors import AutodiffError
from .ops_matrix import trace as matrix_trace
from .var import GradScope, Var, input_leaf, is_grad_input

_NONE_ARRIVED = ((), ())
_new_tuple = tuple.__new__
PENDING, COMPUTED, CURRENT, WAITING, PARTIAL, DONE = "pending", "computed", "current", "waiting", "partial", "done"
STATUSES = (PENDING, COMPUTED, CURRENT, WAITING, PARTIAL, DONE)


class Frame(NamedTuple):
    """One call of a program's function, or one iteration of a loop: where a node was made.

    A node's ``scope`` is the tuple of frames it was made in, outermost first: ``(for t = 2 (line 5),
    layer(h, W, b))`` for a node made by the second call of ``layer`` in iteration t = 2. Frames are
    shared between the nodes of one call or iteration, and ``id`` tells them apart within a run."""

    id: int  # unique per call or iteration within the run, counted from 1 in the order they began
    kind: str  # "call" or "loop"
    label: str  # "layer(x, W1, b1)" (the call as written) or "for i = 3 (line 4)"
    line: int  # the line of the call, or of the for statement
    name: str  # the function's name, or the loop's counter
    index: int  # the call's number among the calls of that function (1, 2, ...), or the counter's value


class NodeRecord(NamedTuple):
    """One node of the graph as the app sees it. ``id`` is its index in topological order.

    Records are named tuples: immutable like frozen dataclasses, and about five times cheaper to
    make, which matters when a trace of ten thousand nodes is recorded on every run. Values are
    NumPy arrays, or ``numpy.float64`` for scalars (the engine's own representation)."""

    id: int
    label: str  # the user's name, else the op's symbol, else (a constant) its value
    op: str | None  # None for inputs and constants
    parents: tuple  # ordered ids; `a + a` lists `a` twice
    shape: tuple
    value: np.ndarray
    kind: str  # "input", "constant" or "op"
    line: int | None = None  # where the program made it (1-based), if it came from a program
    col: int | None = None
    name: str | None = None  # the user's name, if any
    symbol: str = ""  # the op's short symbol for drawing ("×", "@", "Σ")
    attrs: tuple = ()  # the op's public attributes as (key, text) pairs: (("axis", "0"),)
    scope: tuple = ()  # the Frames it was made in, outermost first (a program's calls and loop iterations)


class Contribution(NamedTuple):
    """What one backward step sends along one edge: ``value`` is the VJP's result."""

    parent: int
    position: int  # which argument of the child the parent is (0 for a, 1 for b)
    value: np.ndarray
    accumulated: np.ndarray  # the parent's gradient right after adding ``value``
    rule: str  # LaTeX of the VJP applied


class BackwardStep(NamedTuple):
    node: int
    grad: np.ndarray  # the node's final gradient ḡ, the upstream gradient of its contributions
    contributions: tuple


class LazyRecords(Sequence):
    """A read-only sequence whose records are made on first access, then kept.

    Recording a pass keeps the raw material (the nodes, and each contribution with its running
    sum, stored once); turning it into ``NodeRecord``/``BackwardStep`` objects is left to the
    moment somebody looks. The app looks at a few nodes per step; a notebook at some; only an
    export looks at all. Two threads making the same record make equal ones, so the cache needs
    no lock."""

    __slots__ = ("_make", "_cache")

    def __init__(self, count: int, make):
        self._make = make
        self._cache = [None] * count

    def __len__(self) -> int:
        return len(self._cache)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(self[i] for i in range(*index.indices(len(self._cache))))
        record = self._cache[index]  # IndexError and negative indices as a list has them
        if record is None:
            record = self._cache[index] = self._make(index % len(self._cache))
        return record

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"LazyRecords({len(self)})"


@dataclass(frozen=True)
class Trace:
    nodes: tuple
    inputs: dict  # name -> id
    output: int
    grads: dict  # input name -> final gradient (zeros when the output does not depend on it)
    forward_steps: tuple  # node ids, evaluation order
    backward_steps: tuple  # BackwardStep, processing order
    program: str | None = None
    seed: int | None = None
    note: str | None = None  # e.g. why there is no backward pass
    # The indexes of the queries, derived from the steps (not part of equality or JSON); built
    # here from the records unless the builder passes them, made from its raw material.
    _index: tuple | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self._index is None:
            steps = ((step.node, [(c.parent, c.accumulated) for c in step.contributions])
                     for step in self.backward_steps)
            object.__setattr__(self, "_index", _make_index(len(self.nodes), self.forward_steps, steps))
        computed_at, arrivals, processed_at = self._index
        object.__setattr__(self, "_computed_at", computed_at)
        object.__setattr__(self, "_arrivals", arrivals)
        object.__setattr__(self, "_processed_at", processed_at)

    def __reduce__(self):
        """Pickle the records themselves (made now if they were not yet), not the functions that
        make them lazily, nor the indexes, which the other side rebuilds: so a Trace can cross a
        process boundary (the app runs programs in worker processes, ``ui/jobs.py``)."""
        return (Trace, (tuple(self.nodes), dict(self.inputs), self.output, dict(self.grads), self.forward_steps,
                        tuple(self.backward_steps), self.program, self.seed, self.note))

    def title(self, node_id: int) -> str:
        """How a node is named on screen: the user's name, with the counters of the loops it was
        made in ('h (t=2)', 'h (i=0, j=1)'); else its symbol and id ('× #2'). A node made in a
        function call is titled as the function names it: the call's cluster says which call."""
        node = self.nodes[node_id]
        if node.name or node.kind != "op":
            name = " ".join(node.label.split())  # no newlines or tabs from a hostile name
            counters = ", ".join(f"{f.name}={f.index}" for f in node.scope if f.kind == "loop")
            return f"{name} ({counters})" if counters and node.name else name
        return f"{node.symbol} #{node.id}"

    # ---- the timeline ---------------------------------------------------------------------------
    @property
    def t_forward_end(self) -> int:
        return len(self.forward_steps)

    @property
    def t_end(self) -> int:
        return len(self.forward_steps) + len(self.backward_steps)

    def _check(self, node_id: int, t: int) -> None:
        if not 0 <= node_id < len(self.nodes):
            raise AutodiffError(f"no node {node_id} in this trace (it has {len(self.nodes)})")
        self._check_t(t)

    def _check_t(self, t: int) -> None:
        if not 0 <= t <= self.t_end:
            raise AutodiffError(f"t = {t} is outside the timeline 0 … {self.t_end}")

    def value_at(self, node_id: int, t: int):
        """The node's value once computed (inputs and constants from t = 0), else None."""
        self._check(node_id, t)
        return self.nodes[node_id].value if t >= self._computed_at[node_id] else None

    def contributions_expected(self, node_id: int) -> int:
        """m: how many contributions the node receives in the whole backward pass."""
        return len(self._arrivals.get(node_id, _NONE_ARRIVED)[0])

    def contributions_received(self, node_id: int, t: int) -> int:
        """k: how many of them have arrived by step t."""
        self._check(node_id, t)
        return bisect.bisect_right(self._arrivals.get(node_id, _NONE_ARRIVED)[0], t - self.t_forward_end)

    def received(self, node_id: int, t: int) -> list:
        """``(k, Contribution)`` for every contribution the node has received by step t, in order
        (through the index: only the steps that sent to this node are looked at)."""
        steps = sorted(set(self._arrivals.get(node_id, _NONE_ARRIVED)[0][: self.contributions_received(node_id, t)]))
        return [(k, c) for k in steps for c in self.backward_steps[k - 1].contributions if c.parent == node_id]

    def processed_at(self, node_id: int) -> int | None:
        """The backward step k (1-based) that processes the node, or None: inputs and constants are
        not processed (they send nothing), and a forward-only trace processes nothing."""
        self._check(node_id, 0)
        return self._processed_at.get(node_id)

    def final_at(self, node_id: int) -> int | None:
        """The backward step k after which the node's gradient is final (the step of its last
        contribution); 0 for the output, whose gradient is the seed; None for a node that needs
        no gradient (a constant, or any node of a forward-only trace)."""
        self._check(node_id, 0)
        if node_id == self.output and self.backward_steps:
            return 0
        steps = self._arrivals.get(node_id, _NONE_ARRIVED)[0]
        return steps[-1] if steps else None

    def needs_grad(self, node_id: int) -> bool:
        return (node_id == self.output and bool(self.backward_steps)) or self.contributions_expected(node_id) > 0

    def grad_at(self, node_id: int, t: int):
        """The gradient accumulated at the node by step t (None before any has arrived)."""
        k = self.contributions_received(node_id, t)
        if k:
            return self._arrivals[node_id][1][k - 1]
        if node_id == self.output and self.backward_steps and t > self.t_forward_end:
            return self.backward_steps[0].grad  # the seed, ḡ = 1, from the first backward step
        return None

    def status_at(self, node_id: int, t: int) -> str:
        self._check(node_id, t)
        forward_end = self.t_forward_end
        if t <= forward_end:
            computed_at = self._computed_at[node_id]
            if t < computed_at:
                return PENDING
            return CURRENT if t == computed_at and t > 0 else COMPUTED
        k = t - forward_end
        if self._processed_at.get(node_id) == k:
            return CURRENT
        if not self.needs_grad(node_id):
            return COMPUTED
        if node_id == self.output:
            return DONE
        received, expected = self.contributions_received(node_id, t), self.contributions_expected(node_id)
        if received == 0:
            return WAITING
        return DONE if received == expected else PARTIAL

    def phase_label(self, t: int) -> str:
        """Where step t is on the timeline, in a few words: 'Forward 3 of 5'."""
        if t == 0:
            return "Start · nothing computed yet"
        if t <= self.t_forward_end:
            return f"Forward {t} of {self.t_forward_end}"
        return f"Backward {t - self.t_forward_end} of {len(self.backward_steps)}"

    def explain(self, t: int):
        """What happens at step t: a ``core.narrate.Narration`` (title, sentence, formulas)."""
        from .narrate import narrate  # the narrator reads traces; traces don't need it to exist

        return narrate(self, t)

    # ---- JSON -------------------------------------------------------------------------------------
    def frames(self) -> dict:
        """Every frame some node was made in, by id, in the order they began (calls and loop
        iterations of a program: ``NodeRecord.scope``), with its parent frame's id or None."""
        parents = {}
        for node in self.nodes:
            for outer, frame in zip((None,) + node.scope, node.scope):
                parents.setdefault(frame, None if outer is None else outer.id)
        return {frame.id: (frame, parent) for frame, parent in sorted(parents.items())}

    def frame_steps(self, frame_id: int) -> tuple:
        """``((first, last), (first, last))``: the timeline positions t of the forward steps, then of
        the backward steps, of the nodes made in a frame (its nested frames included), each None
        if there are none. A program makes a frame's nodes one after another, and the backward
        pass walks the forward order backwards, so each range holds that frame's steps and no
        other: stepping over a collapsed frame is one jump."""
        def inside(node_id: int) -> bool:
            return any(f.id == frame_id for f in self.nodes[node_id].scope)

        forward = [t for t, node_id in enumerate(self.forward_steps, start=1) if inside(node_id)]
        backward = [self.t_forward_end + k for k, step in enumerate(self.backward_steps, start=1) if inside(step.node)]
        return tuple((ts[0], ts[-1]) if ts else None for ts in (forward, backward))

    def to_dict(self) -> dict:
        """The trace as JSON-ready data (the format is documented in docs/trace-format.md)."""
        return {
            "format": FORMAT, "version": VERSION,
            "program": self.program, "seed": self.seed, "note": self.note,
            "output": self.output, "inputs": dict(self.inputs),
            "grads": {name: _encode(g) for name, g in self.grads.items()},
            "frames": [{**frame._asdict(), "parent": parent} for frame, parent in self.frames().values()],
            "nodes": [
                {"id": n.id, "label": n.label, "op": n.op, "parents": list(n.parents), "shape": list(n.shape),
                 "value": _encode(n.value), "kind": n.kind, "line": n.line, "col": n.col, "name": n.name,
                 "symbol": n.symbol, "attrs": [list(a) for a in n.attrs], "scope": [f.id for f in n.scope]}
                for n in self.nodes
            ],
            "forward_steps": list(self.forward_steps),
            "backward_steps": [
                {"node": s.node, "grad": _encode(s.grad), "contributions": [
                    {"parent": c.parent, "position": c.position, "value": _encode(c.value),
                     "accumulated": _encode(c.accumulated), "rule": c.rule}
                    for c in s.contributions]}
                for s in self.backward_steps
            ],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, data: dict) -> Trace:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AutodiffError(f"not a Backprop Studio trace (expected format {FORMAT!r})")
        if data.get("version") not in READABLE_VERSIONS:
            raise AutodiffError(f"trace format version {data.get('version')!r} is not supported (this is {VERSION})")
        try:
            frames = {f["id"]: Frame(f["id"], f["kind"], f["label"], f["line"], f["name"], f["index"])
                      for f in data.get("frames", ())}  # version 1 has none
            nodes = tuple(
                NodeRecord(n["id"], n["label"], n["op"], tuple(n["parents"]), tuple(n["shape"]), _decode(n["value"]),
                           n["kind"], n["line"], n["col"], n["name"], n["symbol"], tuple(tuple(a) for a in n["attrs"]),
                           tuple(frames[i] for i in n.get("scope", ())))
                for n in data["nodes"]
            )
            steps = tuple(
                BackwardStep(s["node"], _decode(s["grad"]), tuple(
                    Contribution(c["parent"], c["position"], _decode(c["value"]), _decode(c["accumulated"]), c["rule"])
                    for c in s["contributions"]))
                for s in data["backward_steps"]
            )
            return cls(nodes, dict(data["inputs"]), data["output"],
                       {k: _decode(v) for k, v in data["grads"].items()}, tuple(data["forward_steps"]), steps,
                       data.get("program"), data.get("seed"), data.get("note"))
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise AutodiffError(f"malformed trace JSON: {exc!r}") from None

    @classmethod
    def from_json(cls, text: str) -> Trace:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AutodiffError(f"not JSON: {exc}") from None
        return cls.from_dict(data)

    # ---- building -------------------------------------------------------------------------------
    @classmethod
    def build(cls, output: Var, inputs: dict, *, program: str | None = None, seed: int | None = None,
              made=None) -> Trace:
        """Record the graph of ``output`` and its backward pass with respect to ``inputs``.

        The nodes are ordered as the program made them: by ``made`` (the nodes in the order the
        program computed them; the language passes it, since a loop runs the same lines again),
        else by line. The sort is stable and keys never decrease along an edge, so the order stays
        topological, and the backward pass walks exactly its reverse. A non-scalar output gives a
        forward-only trace with a ``note``: there is no single gradient to show.
        """
        order = toposort(output)
        if made is not None or any(v.loc is not None for v in order):
            # Each node's key is the latest of its own and its parents' keys (a node the program
            # did not place, like a gradient node built by create_graph, has only its parents';
            # a sub-expression on a later line of a multi-line statement lifts its consumers), so
            # the key never decreases along an edge and the stable sort stays topological.
            rank = {v: i for i, v in enumerate(made)} if made is not None else None
            key = {}
            for v in order:
                after_parents = max((key[p] for p in v.parents), default=0)
                own = rank.get(v) if rank is not None else v.loc[0] if v.loc is not None else None
                key[v] = after_parents if own is None else max(own, after_parents)
            order.sort(key=key.__getitem__)
        ids = {v: i for i, v in enumerate(order)}
        input_ids = {name: ids[v] for name, v in inputs.items() if v in ids}
        input_nodes = set(inputs.values())
        nodes = LazyRecords(len(order), lambda i: _node_record(i, order[i], ids, order[i] in input_nodes))
        forward_steps = tuple([i for i, v in enumerate(order) if v.op is not None])
        note, final, record = None, {}, Recording()
        if output.shape != ():
            note = (f"The output has shape {output.shape}, so there is no single gradient to show: "
                    f"wrap it in sum(...) or mean(...) to see the backward pass.")
        else:
            final = backward(output, list(inputs.values()), order=order, record=record, create_graph=False)
        # The steps of op nodes (an input's own "step" sends nothing and is not shown).
        kept = [k for k, node in enumerate(record.nodes) if node.op is not None and node not in input_nodes]
        steps = LazyRecords(len(kept), lambda j: _backward_step(record, kept[j], ids))
        index = _make_index(len(order), forward_steps, (
            (ids[record.nodes[k]], [(ids[record.parents[i]], record.accumulated[i]) for i in record.contributions(k)])
            for k in kept))
        grads = {}
        for name, v in inputs.items():
            g = final.get(v)
            grads[name] = np.zeros(v.shape) if g is None else np.asarray(g)
        return cls(nodes, input_ids, ids[output], grads, forward_steps, steps, program, seed, note, index)


def _make_index(n: int, forward_steps, steps) -> tuple:
    """(step at which each node is computed, per node the steps and running sums of what it
    receives, the step at which each node is processed) from ``steps``: (node, [(parent,
    accumulated), ...]) in processing order."""
    computed_at = [0] * n
    for k, node_id in enumerate(forward_steps, start=1):
        computed_at[node_id] = k
    arrivals = {}  # node -> (step numbers, running sums), only for nodes that receive any
    processed_at = {}
    for k, (node_id, sent) in enumerate(steps, start=1):
        processed_at[node_id] = k
        for parent, accumulated in sent:
            steps_and_sums = arrivals.get(parent)
            if steps_and_sums is None:
                steps_and_sums = arrivals[parent] = ([], [])
            steps_and_sums[0].append(k)
            steps_and_sums[1].append(accumulated)
    return tuple(computed_at), MappingProxyType(arrivals), MappingProxyType(processed_at)


FORMAT = "backprop-studio/trace"
VERSION = 2  # 2: frames and each node's scope (a program's calls and loop iterations)
READABLE_VERSIONS = (1, 2)
_NONFINITE = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf}


def _encode(a) -> dict:
    """An array as ``{"shape": [...], "data": [...]}`` (row-major); NaN and ±inf as strings,
    because strict JSON has no such numbers."""
    a = np.asarray(a, dtype=np.float64)
    data = [x if np.isfinite(x) else ("nan" if np.isnan(x) else ("inf" if x > 0 else "-inf"))
            for x in a.ravel().tolist()]
    return {"shape": list(a.shape), "data": data}


def _decode(d: dict) -> np.ndarray:
    data = [_NONFINITE[x] if isinstance(x, str) else x for x in d["data"]]
    return np.asarray(data, dtype=np.float64).reshape(d["shape"])


def format_value(value, digits: int = 4) -> str:
    """A value in a few characters: a number; a short vector; else its shape and norm."""
    if value is None:
        return "—"
    a = np.asarray(value)
    if a.ndim == 0:
        return f"{float(a) + 0.0:.{digits}g}"  # + 0.0: no "-0" for a negative zero
    if a.ndim == 1 and a.size <= 3:
        return "[" + ", ".join(f"{float(x) + 0.0:.3g}" for x in a) + "]"
    return f"{'×'.join(map(str, a.shape))} ‖{float(np.linalg.norm(a)):.3g}‖"


def _public_attrs(op, attrs) -> tuple:
    """The attrs a reader cares about (axis, keepdims, shape, index) as text: the op's own, not
    what its forward saved (factorizations)."""
    if not attrs:
        return ()
    return tuple((k, repr(v)) for k, v in attrs.items() if k in op.attrs)


def _node_record(i: int, v: Var, ids: dict, is_input: bool) -> NodeRecord:
    if v.op is not None:
        kind, label = "op", v.name or v.op.symbol
    elif is_input or is_grad_input(v):
        kind, label = "input", v.name or f"x{i}"
    else:
        value = v._value
        kind, label = "constant", v.name or (f"{value:.4g}" if type(value) is np.float64 else
                                             format_value(value) if value.ndim == 0 else f"const {value.shape}")
    line, col = v.loc if v.loc is not None else (None, None)
    op = v.op
    # tuple.__new__ directly: the named tuple's own __new__ is a Python function (3× slower).
    return _new_tuple(NodeRecord, (
        i, label, op.name if op is not None else None, tuple([ids[p] for p in v.parents]), v._value.shape,
        v._value, kind, line, col, v.name, op.symbol if op is not None else "",
        _public_attrs(op, v.attrs) if op is not None else (), v.scope,
    ))


def _backward_step(record: Recording, k: int, ids: dict) -> BackwardStep:
    node = record.nodes[k]
    op, attrs = node.op, node.attrs
    return _new_tuple(BackwardStep, (
        ids[node], record.grads[k],
        tuple([_new_tuple(Contribution, (ids[record.parents[i]], record.positions[i], record.values[i],
                                         record.accumulated[i], op.rule(record.positions[i], attrs)))
               for i in record.contributions(k)]),
    ))


def trace(f_or_matrix, *args, names=None, **matrix_trace_attrs):
    """``trace(f, *args)`` records a Trace; ``trace(A)`` is the matrix trace (the op).

    Both meanings are public API under the one name (``ad.trace``), told apart by the first
    argument: a function is recorded, anything else (an array, a Var) is a matrix. Inside
    programs of the expression language, ``trace`` is always the matrix trace.
    """
    if callable(f_or_matrix):
        return trace_function(f_or_matrix, *args, names=names)
    return matrix_trace(f_or_matrix, *args, **matrix_trace_attrs)


def trace_function(f, *args, names=None) -> Trace:
    """Run ``f(*args)`` on fresh input leaves and record its forward and backward pass.

    ``names`` labels the inputs (default: ``f``'s parameter names, else x0, x1, …).
    """
    if names is None:
        try:
            params = list(inspect.signature(f).parameters)
        except (TypeError, ValueError):
            params = []
        names = [params[i] if i < len(params) else f"x{i}" for i in range(len(args))]
    if len(names) != len(args):
        raise AutodiffError(f"trace got {len(args)} arguments but {len(names)} names")
    with GradScope() as scope:
        leaves = [input_leaf(a, scope, name) for a, name in zip(args, names)]
        out = f(*leaves)
        if type(out) is not Var:
            raise AutodiffError("the function's output does not depend on its inputs; nothing to trace")
        return Trace.build(out, dict(zip(names, leaves)))

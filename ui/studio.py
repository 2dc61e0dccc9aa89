"""The step view: a components-v2 component that holds a whole program's pass and steps in the browser.

Stepping is the product, so it must cost nothing: the server lays the graph out once per program
(``layout.layout_svg``) and sends, once, everything the step view shows at every t — the SVG, each
node's and edge's looks at the steps where they change (``view.GraphView``), the narration of
every step (``core.narrate``) and what the inspector shows (values and gradients, heatmaps for
arrays). The browser code (``static/studio/``) restyles the SVG, writes the step's text and moves
on without asking the server anything. It reports the step back (debounced) as the one state value
``names.VIEW_STATE``, so the share link and the tools below follow; that report costs the server a
fragment rerun of a few milliseconds and never blocks the graph.

The payload is two parts, sent as one ``bytes`` value (the cheapest form Streamlit forwards: no
JSON re-encoding, a hash for its identity): a small JSON line of what changes with the page's
state (the step the server wants shown, presentation mode, autoplay), then the program's JSON,
built once per (program, seed, direction) and cached. Streamlit's message cache then spares the
browser the repeated bytes on every rerun that only reports a step.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from core.arrays import as_matrix, block_means, finite_norm
from core.errors import AutodiffError
from core.narrate import narrate
from core.trace import Trace, format_value

from . import names
from .clusters import Clusters, default_collapsed
from .derivation import NO_CLAIMS, PageClaims, prompts
from .layout import layout_svg
from .view import EDGE_STATES, EDGE_STYLES, STATUS_MEANING, STATUS_STYLES, GraphView

STATIC = Path(__file__).resolve().parent.parent / "static"
MAX_TRACE_BYTES = 300 << 20  # the numbers one program's pass may hold (values, gradients, contributions)
HEAT_CELLS = 24  # an array is shown as at most 24×24 cells (block means beyond that)
PAYLOAD_VERSION = 1


# ---- a program, prepared once for every session (in a job worker: ui/shared.py) ---------------------


class Prepared(NamedTuple):
    """A program's trace and its step view payload, how many bytes of numbers they hold, and the
    frames (calls, loop iterations) drawn collapsed."""

    trace: Trace
    payload: ProgramPayload
    nbytes: int
    collapsed: frozenset = frozenset()


def prepare(program: str, seed: int, second: str | None, rankdir: str, collapsed=None) -> Prepared:
    """Run ``program`` (or, with ``second``, build the graph of its gradient with respect to that
    input), check that its pass fits the memory a program may hold, and build the step view's
    payload with the frames ``collapsed`` (None: what a program of its size starts with). A
    top-level function of a module without Streamlit: the page runs it in a job worker, within a
    time and a memory budget."""
    from core.second_order import program_trace

    trace = program_trace(program, seed, second)
    nbytes = trace_bytes(trace)
    if nbytes > MAX_TRACE_BYTES:
        raise AutodiffError(f"this program's forward and backward pass hold {nbytes / 2**20:,.0f} MB of numbers; "
                            f"a program may hold {MAX_TRACE_BYTES >> 20} MB: use smaller arrays or fewer of them")
    collapsed = default_collapsed(trace) if collapsed is None else frozenset(collapsed)
    return Prepared(trace, compressed_payload(trace, rankdir, collapsed), nbytes, collapsed)


def trace_bytes(trace: Trace) -> int:
    """The bytes of the arrays a trace keeps: every node's value, and each backward step's
    gradient, contributions and running sums (shared arrays counted once)."""
    seen, total = set(), 0
    arrays = [n.value for n in trace.nodes]
    for step in trace.backward_steps:
        arrays.append(step.grad)
        for c in step.contributions:
            arrays += [c.value, c.accumulated]
    for a in arrays:
        if id(a) not in seen:
            seen.add(id(a))
            total += np.asarray(a).nbytes
    return total


# ---- what the browser receives, once per program ---------------------------------------------------


class ProgramPayload(NamedTuple):
    """The program's part of the payload: gzip-compressed JSON (a 5,000-node program's is about
    8 MB of JSON, under 1 MB compressed), and a key the browser tells programs apart by."""

    key: str
    data: bytes


def compressed_payload(trace: Trace, rankdir: str = "TB", collapsed=frozenset()) -> ProgramPayload:
    data = gzip.compress(program_payload(trace, rankdir, collapsed), compresslevel=6, mtime=0)
    return ProgramPayload(hashlib.sha256(data).hexdigest()[:16], data)


def program_payload(trace: Trace, rankdir: str = "TB", collapsed=frozenset()) -> bytes:
    """Everything the step view shows at every step of ``trace``, as UTF-8 JSON, with the frames
    ``collapsed`` drawn as single nodes. A node's looks list only the text lines that change:
    ``None`` repeats the line of the entry before."""
    view = GraphView(trace)
    clusters = Clusters(view, collapsed)
    statuses = list(STATUS_STYLES)
    status_index = {s: i for i, s in enumerate(statuses)}
    edge_index = {s: i for i, s in enumerate(EDGE_STATES)}
    data = {
        "version": PAYLOAD_VERSION,
        "tEnd": trace.t_end,
        "tForwardEnd": trace.t_forward_end,
        "note": trace.note,
        "svg": layout_svg(view, rankdir, clusters=clusters),
        "statuses": statuses,
        "styles": [[s.fill, s.border, s.text, s.grad_text, s.dashed, s.border_width] for s in STATUS_STYLES.values()],
        "meanings": [STATUS_MEANING[s] for s in statuses],
        "edgeStyles": [list(EDGE_STYLES[s]) for s in EDGE_STATES],
        "nodes": [[n.kind, n.title, trace.nodes[n.id].op or n.kind, _shape_text(trace.nodes[n.id].shape)]
                  for n in view.nodes],
        "looks": [_carried([[t, status_index[look.status], *look.lines] for t, look in view.node_timeline(n.id)])
                  for n in view.nodes],
        "edges": [[e.parent, e.child] for e in view.edges],
        "edgeLooks": [[[t, edge_index[look.state], look.label] for t, look in view.edge_timeline(e.id)]
                      for e in view.edges],
        # Calls and loop iterations: [id, kind, label, parent, collapsed, forward (first, last) t,
        # backward (first, last) t]; each node's collapsed frame (or None); the looks of the
        # collapsed frames, and of the edges that stand for the edges into and out of them.
        "frames": [[f.id, f.kind, f.label, f.parent, f.collapsed, *f.steps] for f in clusters.frames],
        "owner": list(clusters.owner),
        "clusters": [[fid, _carried([[t, status_index[look.status], *look.lines]
                                     for t, look in clusters.node_timeline(fid)])] for fid in clusters.members],
        "clusterOutputs": {str(fid): node for fid, node in clusters.outputs.items()},
        "clusterEdges": [["".join(map(str, e.source)), "".join(map(str, e.target)),
                          [[t, edge_index[look.state], look.label] for t, look in clusters.edge_timeline(e.id)]]
                         for e in clusters.edges],
        "steps": [_step(trace, t) for t in range(trace.t_end + 1)],
        "inspect": [_inspect(trace, node.id) for node in trace.nodes],
        # Predict-then-reveal asks these before each backward step: {t: [[position, parent,
        # question, what to type], ...]}.
        "prompts": prompts(trace),
    }
    return json.dumps(data, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _carried(entries: list) -> list:
    """Each entry's text lines as ``None`` where they equal the entry before (a node's title and
    value rarely change; only its gradient line does)."""
    for previous, entry in zip(entries[::-1][1:], entries[::-1]):
        for i in range(2, len(entry)):
            if entry[i] == previous[i]:
                entry[i] = None
    return entries


def _step(trace: Trace, t: int) -> list:
    """A step's title, sentence, formulas, node, heatmaps of the arrays too big to write out, and
    each matrix product's contribution entry by entry."""
    n = narrate(trace, t)
    return [n.title, n.sentence, list(n.formulas), n.node,
            [[caption, heat(a), gradient] for caption, a, gradient in n.arrays],
            [[e.caption, list(e.shape), list(e.values), list(e.entries)] for e in n.expansions]]


def _shape_text(shape: tuple) -> str:
    return "scalar" if not shape else "×".join(map(str, shape))


def _inspect(trace: Trace, node_id: int) -> dict:
    """What the inspector shows of a node over the pass: its value (a heatmap for arrays), every
    contribution it receives with the running sum, and its gradient's heatmaps where it changes."""
    node = trace.nodes[node_id]
    is_array = bool(node.shape)
    forward_end = trace.t_forward_end
    arrivals = [[forward_end + k, trace.backward_steps[k - 1].node, format_value(c.value), format_value(c.accumulated)]
                for k, c in trace.received(node_id, trace.t_end)]
    out = {"arrivals": arrivals}
    if is_array:
        out["value"] = heat(node.value)
        grads = []
        if node_id == trace.output and trace.backward_steps:
            grads.append([forward_end + 1, heat(trace.backward_steps[0].grad)])
        grads += [[forward_end + k, heat(c.accumulated)] for k, c in trace.received(node_id, trace.t_end)]
        out["grads"] = grads
    return out


def heat(value) -> dict:
    """An array as a small grid of numbers for a heatmap: folded to 2-D (leading axes into rows),
    and block-averaged down to at most HEAT_CELLS × HEAT_CELLS cells."""
    a = np.asarray(value, dtype=float)
    m, block = block_means(as_matrix(a), HEAT_CELLS)
    norm = finite_norm(a)
    return {
        "shape": list(a.shape), "block": list(block),
        "rows": m.shape[0], "cols": m.shape[1],
        "v": [None if not np.isfinite(x) else float(f"{x:.4g}") for x in m.ravel().tolist()],
        "norm": "—" if norm is None else format_value(norm),
    }


# ---- what changes with the page, on every run ------------------------------------------------------


def page_part(*, program: str, revision: int, request: dict, present: bool, claims: PageClaims = NO_CLAIMS,
              predictions: dict | None = None, score: tuple = (0, 0)) -> bytes:
    """The small first line of the payload: the view the server asks for (``request``: t, node,
    playing, speed), which the browser takes only when ``revision`` differs from the last it took
    (a new program, a link, what-if), the mode, the student's claims as marks on the graph, the
    answers marked so far and their score, and the names the browser code shares with Python and
    the tests; ``program`` is the key of the program part that follows. It does not change when the
    browser reports a step, so such a rerun sends the browser the very message it has (Streamlit
    then sends only its hash)."""
    return json.dumps({
        "program": program, "revision": revision, "request": request, "present": present,
        "marks": claims.marks, "firstWrong": claims.first_wrong, "predictions": predictions or {},
        "score": list(score), "state": names.VIEW_STATE, "answers": names.ANSWERS_TRIGGER,
        "hooks": names.HOOKS, "static": f"{names.STATIC_URL}/", "assets": static_version(),
    }, separators=(",", ":")).encode("utf-8")


def payload(page: bytes, program: ProgramPayload) -> bytes:
    """One ``bytes`` value: the page part's JSON line, then the program part (gzip)."""
    return page + b"\n" + program.data


@functools.lru_cache(maxsize=1)
def static_version() -> str:
    """A hash of the browser code, put in its URLs so that a browser never runs a stale copy
    (read once per server process: the files do not change under a running server)."""
    digest = hashlib.sha256()
    for path in sorted((STATIC / "studio").glob("*")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]

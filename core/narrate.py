r"""The narrator: what happens at step t of a trace, in one sentence and in formulas.

One module writes every description of a step: the page (each t's text is computed once per
program and stepped through in the browser), the command line (``python -m core``) and
``Trace.explain``. A ``Narration`` holds the step's title ("Backward 2 of 3"), a plain sentence
(``summary``), the same sentence for the page with names marked as code (``sentence``: a tiny
Markdown subset, ``**bold**`` and ```code```), and the formulas in LaTeX.

The op table keeps each VJP's rule in generic letters (``\bar{a} \mathrel{+}= \bar{z}\, b``).
Here those letters become the names on screen (``\bar{x} \mathrel{+}= \bar{z}\, y``) and each rule
is followed by what it evaluated to: numbers for scalars and short vectors, shapes for bigger
arrays. When a node has received all its contributions the fan-out sum is written out:
``\bar{x} = 1 + 3 = 4 ✓``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .arrays import as_matrix
from .language import messages as M  # the words an error uses for where it happened
from .ops import OPS
from .rules import plain_text, substitute
from .trace import Trace, format_value

START, FORWARD, BACKWARD, END = "start", "forward", "backward", "end"
MAX_TERMS = 6  # a running sum of more contributions is written as (the sum so far) + this one
WRITTEN_OUT = 6  # an array of at most this many rows and columns is written out in a formula


@dataclass(frozen=True)
class Expansion:
    """A matrix product's contribution written entry by entry as its sum of products
    (Ā[i, j] = Σ_k z̄[i, k] B[j, k] = … with numbers), for the page to show one on demand."""

    caption: str
    shape: tuple  # of the contribution (rows, columns)
    values: tuple  # the entries, row-major (3 significant digits, as text)
    entries: tuple  # LaTeX per entry, row-major


@dataclass(frozen=True)
class Narration:
    """What happens at step ``t``."""

    t: int
    phase: str  # START, FORWARD, BACKWARD or END (the last backward step)
    step: int  # 1-based index within the phase (0 at the start)
    steps_in_phase: int
    node: int | None  # the node of this step
    title: str  # "Forward 1 of 2", "Backward 2 of 2", "Start"
    summary: str  # one plain sentence (the command line, tests)
    sentence: str  # the same for the page: **bold** and `code` marked
    formulas: tuple  # LaTeX lines
    contributions: tuple = ()  # the backward step's Contribution records
    arrays: tuple = ()  # (caption, array, is a gradient) of the arrays too big to write out
    expansions: tuple = ()  # Expansion of each matrix product's contributions, entry by entry
    where: str = ""  # the calls and loop iterations the node was made in, innermost first, or ""

    @property
    def plain_formulas(self) -> tuple:
        """The formulas as terminal text (``x̄ += z̄ y = 3``)."""
        return tuple(plain_text(f) for f in self.formulas)


def narrate(trace: Trace, t: int) -> Narration:
    """The narration of step ``t`` (0 ≤ t ≤ t_end)."""
    trace._check_t(t)
    if t == 0:
        return _start(trace)
    if t <= trace.t_forward_end:
        return _forward(trace, t)
    return _backward(trace, t)


def _start(trace: Trace) -> Narration:
    shown = ", ".join(f"{name} = {format_value(trace.nodes[i].value)}" for name, i in trace.inputs.items())
    summary = "Nothing is computed yet." + (f" Inputs: {shown}." if shown else "")
    sentence = summary + " Step forward to evaluate the graph node by node."
    return Narration(0, START, 0, trace.t_forward_end, None, "Start", summary, sentence, ())


def _forward(trace: Trace, t: int) -> Narration:
    forward_end = trace.t_forward_end
    node = trace.nodes[trace.forward_steps[t - 1]]
    title = f"Forward {t} of {forward_end}"
    args = ", ".join(trace.title(p) for p in node.parents)
    where = where_made(node)
    summary = f"{title}: {trace.title(node.id)} = {node.op}({args}) = {format_value(node.value)}{_in(where)}"
    sentence = f"**{title}.** Compute `{trace.title(node.id)}` from {_listed(trace, node.parents)}{_in(where)}."
    tex_args = ", ".join(tex_name(trace, p) for p in node.parents)
    arrays = _Arrays()
    value = arrays.tex(node.value, trace.title(node.id), gradient=False)
    formula = rf"{tex_name(trace, node.id)} = \operatorname{{{node.op}}}({tex_args}) = {value}"
    return Narration(t, FORWARD, t, forward_end, node.id, title, summary, sentence, (_long_bars(formula),),
                     arrays=arrays.shown, where=where)


def _backward(trace: Trace, t: int) -> Narration:
    k = t - trace.t_forward_end
    total = len(trace.backward_steps)
    step = trace.backward_steps[k - 1]
    node = trace.nodes[step.node]
    title = f"Backward {k} of {total}"
    me = tex_name(trace, node.id)
    names = {"z": me}
    op = OPS.get(node.op)
    if op is not None:
        names.update(zip(op.arg_names, (tex_name(trace, p) for p in node.parents)))
    arrays, expansions = _Arrays(), []
    formulas = [rf"\bar{{{me}}} = {arrays.tex(step.grad, f'ḡ of {trace.title(node.id)}')}"]
    broadcast_notes = []
    for index, c in enumerate(step.contributions):
        rule = substitute(c.rule, names)
        axes = _broadcast_axes(node.op, np.shape(step.grad), np.shape(c.value))
        if axes:  # the parent was stretched along these axes: what it receives is summed over them
            lhs, rhs = rule.split(r"\mathrel{+}=", 1)
            rule = rf"{lhs}\mathrel{{+}}= \textstyle\sum_{{\text{{{_axes_words(axes)}}}}} \big({rhs.strip()}\big)"
            broadcast_notes.append(f"`{trace.title(c.parent)}` was broadcast along {_axes_words(axes)}, so what "
                                   f"it receives is summed over {'that axis' if len(axes) == 1 else 'those axes'} "
                                   f"(shape {_shape(np.shape(step.grad))} → {_shape(np.shape(c.value))})")
        formulas.append(rule + rf" \;=\; {arrays.tex(c.value, f'to {trace.title(c.parent)}')}")
        formulas.append(_running_sum(trace, c.parent, k, index, arrays))
        expansion = _product_expansion(trace, node, step.grad, c, names)
        if expansion is not None:
            expansions.append(expansion)
    sends = "; ".join(f"sends {format_value(c.value)} to {trace.title(c.parent)} "
                      f"(now {format_value(c.accumulated)})" for c in step.contributions)
    where = where_made(node)
    summary = (f"{title}: {trace.title(node.id)}{_in(where)} has gradient {format_value(step.grad)}"
               + (f" and {sends}" if sends else ""))
    receivers = _listed(trace, [c.parent for c in step.contributions]) or "nobody (its parents need no gradient)"
    sentence = (f"**{title}.** `{trace.title(node.id)}`{_in(where)} has its final gradient ḡ = "
                f"{format_value(step.grad)}; it applies the chain rule and sends a contribution to {receivers}. "
                "Each parent adds what it receives." + "".join(f" {note}." for note in broadcast_notes))
    phase = BACKWARD if t < trace.t_end else END
    return Narration(t, phase, k, total, node.id, title, summary, sentence,
                     tuple(_long_bars(f) for f in formulas), step.contributions, arrays.shown, tuple(expansions),
                     where)


def where_made(node) -> str:
    """The calls and loop iterations a node was made in, innermost first: "in layer(x, W1, b1),
    call 2, in iteration t = 3 of the loop on line 4"; "" for a node made at the top level."""
    return ", ".join(f"in {f.label}, call {f.index}" if f.kind == "call" else M.iteration(f.name, f.index, f.line)
                     for f in reversed(node.scope))


def _in(where: str) -> str:
    return f" ({where})" if where else ""


MAX_EXPANDED_ENTRIES = 400  # a product's contribution with more entries is not expanded
MAX_TERMS_SHOWN = 8  # of a longer sum of products, the first ones and how many more


def _product_expansion(trace: Trace, node, g, c, names: dict) -> Expansion | None:
    """For ``A @ B`` (matrices or vectors): Ā[i, j] = Σ_k z̄[i, k] B[j, k] and
    B̄[i, j] = Σ_k A[k, i] z̄[k, j], written out with the numbers, entry by entry. Vectors are
    read as a row (left) or a column (right), as matmul reads them."""
    if node.op != "matmul":
        return None
    a, b = (np.asarray(trace.nodes[p].value) for p in node.parents)
    if not (1 <= a.ndim <= 2 and 1 <= b.ndim <= 2) or np.size(c.value) > MAX_EXPANDED_ENTRIES:
        return None
    a2, b2 = (a.reshape(1, -1) if a.ndim == 1 else a), (b.reshape(-1, 1) if b.ndim == 1 else b)
    g2 = np.asarray(g).reshape(a2.shape[0], b2.shape[1])
    value = np.asarray(c.value)
    me, other = names["z"], names["B" if c.position == 0 else "A"]
    target = tex_name(trace, c.parent)
    entries = []
    # Index texts as the arrays are, not as matmul promoted them: a vector has one index.
    def at(name: str, row, col, promoted: set) -> str:
        kept = [x for axis, x in enumerate((row, col)) if axis not in promoted]
        return f"{name}[{', '.join(map(str, kept))}]" if kept else name

    a_axis, b_axis = ({0} if a.ndim == 1 else set()), ({1} if b.ndim == 1 else set())
    z_axis = a_axis | b_axis
    zbar = rf"\bar{{{me}}}"
    for i, j in np.ndindex(a2.shape if c.position == 0 else b2.shape):
        if c.position == 0:  # Ā = z̄ Bᵀ
            pairs = [(g2[i, k], b2[j, k]) for k in range(g2.shape[1])]
            k = "k" if len(pairs) > 1 else 0
            product = rf"{at(zbar, i, k, z_axis)}\, {at(other, j, k, b_axis)}"
        else:  # B̄ = Aᵀ z̄
            pairs = [(a2[k, i], g2[k, j]) for k in range(g2.shape[0])]
            k = "k" if len(pairs) > 1 else 0
            product = rf"{at(other, k, i, a_axis)}\, {at(zbar, k, j, z_axis)}"
        sum_tex = rf"\sum_k {product}" if len(pairs) > 1 else product
        terms = [rf"{_term(x)} \cdot {_term(y)}" for x, y in pairs[:MAX_TERMS_SHOWN]]
        if len(pairs) > MAX_TERMS_SHOWN:
            terms.append(rf"\cdots\ ({len(pairs) - MAX_TERMS_SHOWN} \text{{ more}})")
        index = (i, j) if value.ndim == 2 else ((j,) if c.position == 0 else (i,))
        where = ", ".join(map(str, index))
        total = _tex_entry(value[index])
        entries.append(_long_bars(rf"\bar{{{target}}}[{where}] = {sum_tex} = {' + '.join(terms)} = {total}"))
    values = tuple(f"{float(x):.3g}" for x in value.ravel())
    return Expansion(f"what {trace.title(c.parent)} receives, entry by entry", value.shape, values, tuple(entries))


def _broadcast_axes(op: str | None, grad_shape: tuple, parent_shape: tuple) -> tuple:
    """The axes of the output a broadcast operand was stretched along (none if it was not): for the
    ops the op table says broadcast, a contribution is the rule's value summed over those axes."""
    if op not in OPS or not OPS[op].broadcasts or grad_shape == parent_shape:
        return ()
    lead = len(grad_shape) - len(parent_shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(parent_shape)
                                      if n == 1 and grad_shape[lead + i] != 1)


def _axes_words(axes: tuple) -> str:
    return f"axis {axes[0]}" if len(axes) == 1 else "axes " + ", ".join(map(str, axes))


def _shape(shape: tuple) -> str:
    return "×".join(map(str, shape)) or "scalar"


def _running_sum(trace: Trace, parent: int, k_now: int, index: int, arrays: _Arrays) -> str:
    """ḡ of ``parent`` so far (up to contribution ``index`` of backward step ``k_now``) as the sum
    of what it has received: ḡ_x = 3 + 1 = 4, with ✓ when complete. ``a + a`` sends two in one
    step, so the contributions of this step are counted up to ``index``. A long sum is written as
    the sum so far plus this step's contribution, so that each step's text stays short."""
    now = [c for c in trace.backward_steps[k_now - 1].contributions[: index + 1] if c.parent == parent]
    before = trace.contributions_received(parent, trace.t_forward_end + k_now - 1)
    count, total = before + len(now), now[-1].accumulated
    m = trace.contributions_expected(parent)
    status = r"\;\checkmark" if count == m else rf"\quad ({count} \text{{ of }} {m})"
    name = tex_name(trace, parent)
    total_tex = arrays.tex(total, f"ḡ of {trace.title(parent)} so far")
    if count == 1:
        return rf"\bar{{{name}}} = {total_tex}{status}"
    if count > MAX_TERMS:  # a long fan-out: the sum so far, then what this step adds
        earlier = now[-2].accumulated if len(now) > 1 else trace.grad_at(parent, trace.t_forward_end + k_now - 1)
        sum_so_far = rf"\underbrace{{{tex_value(earlier)}}}_{{\text{{{count - 1} earlier}}}}"
        return rf"\bar{{{name}}} = {sum_so_far} + {_term(now[-1].value)} = {total_tex}{status}"
    received = [c for _, c in trace.received(parent, trace.t_forward_end + k_now - 1)] + now
    terms = " + ".join(_term(c.value) for c in received)
    return rf"\bar{{{name}}} = {terms} = {total_tex}{status}"


# ---- names and values in LaTeX ------------------------------------------------------------------------


def tex_name(trace: Trace, node_id: int) -> str:
    """A node's name inside a formula: x, W_{1}, \\mathrm{loss}, or v_{3} for an unnamed node.
    User names are reduced to letters, digits and underscores (escaped), so they cannot inject
    LaTeX."""
    node = trace.nodes[node_id]
    if node.kind == "op" and not node.name:
        return f"v_{{{node.id}}}"
    if node.kind == "constant":
        return _tex_number(node.value) if np.ndim(node.value) == 0 else r"\mathrm{const}"
    label = re.sub(r"[^A-Za-z0-9_]", "", node.label).strip("_") or f"v_{{{node.id}}}"
    match = re.fullmatch(r"([A-Za-z])(\d+)", label)
    escaped = label.replace("_", r"\_")
    base = label if len(label) == 1 else f"{match[1]}_{{{match[2]}}}" if match else rf"\mathrm{{{escaped}}}"
    # The counters of the loops it was made in, as an iterate's superscript (h^{(t=2)}), braced so
    # that a rule's own superscript after it (b^\top) makes no double superscript.
    counters = ",".join(f"{re.sub(r'[^A-Za-z0-9]', '', f.name)}={f.index}" for f in node.scope if f.kind == "loop")
    return f"{{{base}^{{({counters})}}}}" if counters and node.name else base


def _tex_number(value) -> str:
    text = format_value(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _term(value) -> str:
    """A term of a sum: a negative number in parentheses (1 + (−2), not 1 + −2)."""
    text = tex_value(value)
    return f"({text})" if text.startswith("-") else text


def _written_out(a: np.ndarray) -> np.ndarray | None:
    """The array as the rows of a matrix to write out (a vector is one row, higher ranks fold into
    rows), or None when that is more than WRITTEN_OUT rows or columns."""
    rows = as_matrix(a)
    return rows if rows.shape[0] <= WRITTEN_OUT and rows.shape[1] <= WRITTEN_OUT else None


def tex_value(value) -> str:
    """A value in a formula: a number; an array of at most WRITTEN_OUT × WRITTEN_OUT written out;
    a bigger one as its shape and norm (the page shows it as a heatmap beside)."""
    a = np.asarray(value)
    if a.ndim == 0:
        return _tex_number(a)
    rows = _written_out(a)
    if rows is not None:
        body = r" \\ ".join(" & ".join(_tex_entry(x) for x in row) for row in rows)
        return rf"\begin{{bmatrix}}{body}\end{{bmatrix}}"
    norm = format_value(float(np.linalg.norm(a))) if np.all(np.isfinite(a)) else "—"
    shape = r"\times ".join(map(str, a.shape))
    return rf"\boxed{{{shape},\ \|\cdot\| = {norm}}}"


def _tex_entry(x) -> str:
    return _tex_number(float(f"{float(x):.3g}"))


class _Arrays:
    """Formats the values of one step's formulas, and keeps the arrays too big to write out (the
    page shows them as small heatmaps under the formulas)."""

    def __init__(self):
        self.shown: tuple = ()

    def tex(self, value, caption: str, gradient: bool = True) -> str:
        a = np.asarray(value)
        if a.ndim and _written_out(a) is None and all(a is not v for _, v, _ in self.shown):
            self.shown += ((f"{caption} ({_shape(a.shape)})", a, gradient),)
        return tex_value(a)


_BAR = re.compile(r"\\bar\{")


def _long_bars(tex: str) -> str:
    r"""``\bar`` is an accent the width of one letter: over ``\mathrm{logits}`` it reads
    "logīts". A bar over a longer name becomes ``\overline``; ``v_{2}`` keeps its bar on the v."""
    out, pos = [], 0
    for match in _BAR.finditer(tex):
        if match.start() < pos:
            continue
        start = match.end()
        depth, end = 1, start
        while end < len(tex) and depth:
            depth += {"{": 1, "}": -1}.get(tex[end], 0)
            end += 1
        inner = tex[start:end - 1]
        iterate = re.fullmatch(r"\{(.*)(\^\{\([\w=,-]*\)\})\}", inner)  # {h^{(t=2)}}: the bar on h alone
        inner, counters = (iterate[1], iterate[2]) if iterate else (inner, "")
        subscripted = re.fullmatch(r"([A-Za-z])_\{(\w+)\}", inner)  # v_{2}: the bar on v alone
        if len(inner) == 1:
            barred = rf"\bar{{{inner}}}"
        elif subscripted:
            # A rule's own index after it (\bar{x}_i with x = v_{2}) joins the name's: v̄_{2,i}.
            index = re.match(r"_(\w)", tex[end:])
            if index:
                end += index.end()
            barred = rf"\bar{{{subscripted[1]}}}_{{{subscripted[2]}{',' + index[1] if index else ''}}}"
        else:
            barred = rf"\overline{{{inner}}}"
        if counters:
            barred = f"{{{barred}{counters}}}"
        out += [tex[pos:match.start()], barred]
        pos = end
    out.append(tex[pos:])
    return "".join(out)


def _listed(trace: Trace, ids) -> str:
    names = [f"`{trace.title(i)}`" for i in ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]

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

from .ops import OPS
from .rules import plain_text, substitute
from .trace import Trace, format_value

START, FORWARD, BACKWARD, END = "start", "forward", "backward", "end"
MAX_TERMS = 6  # a running sum of more contributions is written as (the sum so far) + this one


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
    formula = rf"{tex_name(trace, node.id)} = \operatorname{{{node.op}}}({tex_args}) = {tex_value(node.value)}"
    return Narration(t, FORWARD, t, forward_end, node.id, title, summary, sentence, (_long_bars(formula),),
                     where=where)


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
    formulas = [rf"\bar{{{me}}} = {tex_value(step.grad)}"]
    for index, c in enumerate(step.contributions):
        formulas.append(substitute(c.rule, names) + rf" \;=\; {tex_value(c.value)}")
        formulas.append(_running_sum(trace, c.parent, k, index))
    sends = "; ".join(f"sends {format_value(c.value)} to {trace.title(c.parent)} "
                      f"(now {format_value(c.accumulated)})" for c in step.contributions)
    where = where_made(node)
    summary = (f"{title}: {trace.title(node.id)}{_in(where)} has gradient {format_value(step.grad)}"
               + (f" and {sends}" if sends else ""))
    receivers = _listed(trace, [c.parent for c in step.contributions]) or "nobody (its parents need no gradient)"
    sentence = (f"**{title}.** `{trace.title(node.id)}`{_in(where)} has its final gradient ḡ = "
                f"{format_value(step.grad)}; it applies the chain rule and sends a contribution to {receivers}. "
                "Each parent adds what it receives.")
    phase = BACKWARD if t < trace.t_end else END
    return Narration(t, phase, k, total, node.id, title, summary, sentence,
                     tuple(_long_bars(f) for f in formulas), step.contributions, where)


def where_made(node) -> str:
    """The calls and loop iterations a node was made in, innermost first: "in layer(x, W1, b1),
    call 2, in iteration t = 3 of the loop on line 4"; "" for a node made at the top level."""
    return ", ".join(f"in {f.label}, call {f.index}" if f.kind == "call" else
                     f"in iteration {f.name} = {f.index} of the loop on line {f.line}"
                     for f in reversed(node.scope))


def _in(where: str) -> str:
    return f" ({where})" if where else ""


def _running_sum(trace: Trace, parent: int, k_now: int, index: int) -> str:
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
    if count == 1:
        return rf"\bar{{{name}}} = {tex_value(total)}{status}"
    if count > MAX_TERMS:  # a long fan-out: the sum so far, then what this step adds
        earlier = now[-2].accumulated if len(now) > 1 else trace.grad_at(parent, trace.t_forward_end + k_now - 1)
        sum_so_far = rf"\underbrace{{{tex_value(earlier)}}}_{{\text{{{count - 1} earlier}}}}"
        return rf"\bar{{{name}}} = {sum_so_far} + {tex_value(now[-1].value)} = {tex_value(total)}{status}"
    received = [c for _, c in trace.received(parent, trace.t_forward_end + k_now - 1)] + now
    terms = " + ".join(tex_value(c.value) for c in received)
    return rf"\bar{{{name}}} = {terms} = {tex_value(total)}{status}"


# ---- names and values in LaTeX ------------------------------------------------------------------------


def tex_name(trace: Trace, node_id: int) -> str:
    """A node's name inside a formula: x, W_{1}, \\mathrm{loss}, or v_{3} for an unnamed node.
    User names are reduced to letters and digits, so they cannot inject LaTeX."""
    node = trace.nodes[node_id]
    if node.kind == "op" and not node.name:
        return f"v_{{{node.id}}}"
    if node.kind == "constant":
        return _tex_number(node.value) if np.ndim(node.value) == 0 else r"\mathrm{const}"
    label = re.sub(r"[^A-Za-z0-9]", "", node.label) or f"v_{{{node.id}}}"
    # The counters of the loops it was made in, as an iterate's superscript: h^{(t=2)}.
    counters = ",".join(f"{re.sub(r'[^A-Za-z0-9]', '', f.name)}={f.index}" for f in node.scope if f.kind == "loop")
    match = re.fullmatch(r"([A-Za-z])(\d+)", label)
    base = label if len(label) == 1 else f"{match[1]}_{{{match[2]}}}" if match else rf"\mathrm{{{label}}}"
    # In braces, so that a rule's own superscript (b^\top) does not make a double superscript.
    return f"{{{base}^{{({counters})}}}}" if counters and node.name else base


def _tex_number(value) -> str:
    text = format_value(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def tex_value(value) -> str:
    """Numbers for scalars and short vectors; for bigger arrays their shape."""
    a = np.asarray(value)
    if a.ndim == 0:
        return _tex_number(a)
    if a.ndim == 1 and a.size <= 3:
        return r"\begin{bmatrix}" + r" & ".join(_tex_number(x) for x in a) + r"\end{bmatrix}"
    return r"\text{" + "×".join(map(str, a.shape)) + " array}"


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
        if inner.startswith("{") and inner.endswith("}") and _balanced(inner[1:-1]):
            inner = inner[1:-1]  # {h^{(t=2)}}, an iterate's name
        # v_{2}, h^{(t=2)}, W_{1}^{(t=0)}: the bar on the letter alone
        subscripted = re.fullmatch(r"([A-Za-z])((?:_\{\w+\})?(?:\^\{\([\w=,-]*\)\})?)", inner)
        if len(inner) == 1:
            barred = rf"\bar{{{inner}}}"
        elif subscripted:
            barred = rf"\bar{{{subscripted[1]}}}{subscripted[2]}"
            if tex[end:end + 1] in ("_", "^"):  # the rule's own index (x̄_i): no double subscript
                barred = f"{{{barred}}}"
        else:
            barred = rf"\overline{{{inner}}}"
        out += [tex[pos:match.start()], barred]
        pos = end
    out.append(tex[pos:])
    return "".join(out)


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _listed(trace: Trace, ids) -> str:
    names = [f"`{trace.title(i)}`" for i in ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]

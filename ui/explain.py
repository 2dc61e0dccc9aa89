r"""(trace, t) -> the step explanation: one sentence in words and the formulas with this step's numbers.

The op table holds each VJP's rule in generic names (``\bar{a} \mathrel{+}= \bar{z}\, b``).
Here the generic names become the names on screen (``\bar{x} \mathrel{+}= \bar{z}\, y``), and
each rule is followed by what it evaluated to: numbers for scalars, shapes for tensors. When a
node has received all its contributions, the fan-out sum is written out: ḡ_x = 3 + 1 = 4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.ops import OPS
from core.rules import substitute
from core.trace import Trace

from .render import fmt


@dataclass(frozen=True)
class StepText:
    title: str  # "Backward 2 of 3"
    sentence: str  # Markdown
    formulas: tuple  # LaTeX lines


def tex_name(trace: Trace, node_id: int) -> str:
    """A node's name inside a formula: x, \\mathrm{W1}, or v_{3} for an unnamed node."""
    node = trace.nodes[node_id]
    if node.kind == "op" and not node.name:
        return f"v_{{{node.id}}}"
    if node.kind == "constant":
        return _tex_number(node.value) if node.value.ndim == 0 else r"\mathrm{const}"
    label = re.sub(r"[^A-Za-z0-9]", "", node.label) or f"v_{{{node.id}}}"
    if len(label) == 1:
        return label
    match = re.fullmatch(r"([A-Za-z])(\d+)", label)
    return f"{match[1]}_{{{match[2]}}}" if match else rf"\mathrm{{{label}}}"


def _tex_number(value) -> str:
    text = fmt(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def tex_value(value) -> str:
    """Numbers for scalars; for tensors their shape (the rule applies entrywise or as matrices)."""
    a = np.asarray(value)
    if a.ndim == 0:
        return _tex_number(a)
    if a.ndim == 1 and a.size <= 3:
        return r"\begin{bmatrix}" + r" & ".join(_tex_number(x) for x in a) + r"\end{bmatrix}"
    return r"\text{" + "×".join(map(str, a.shape)) + " array}"


def explain_step(trace: Trace, t: int) -> StepText:
    e = trace.explain(t)
    if e.phase == "start":
        return StepText("Start", e.summary + " Step forward to evaluate the graph node by node.", ())
    node = trace.nodes[e.node]
    me = tex_name(trace, node.id)
    if e.phase == "forward":
        args = ", ".join(tex_name(trace, p) for p in node.parents)
        formula = rf"{me} = \operatorname{{{node.op}}}({args}) = {tex_value(node.value)}"
        sentence = (f"**Forward {e.step} of {e.steps_in_phase}.** Compute `{trace.title(node.id)}` "
                    f"from {_list(trace, node.parents)}.")
        return StepText(f"Forward {e.step} of {e.steps_in_phase}", sentence, (formula,))
    step = trace.backward_steps[e.step - 1]
    op = OPS.get(node.op)
    names = {"z": me}
    if op is not None:
        for arg_name, parent in zip(op.arg_names, node.parents):
            names[arg_name] = tex_name(trace, parent)
    formulas = [rf"\bar{{{me}}} = {tex_value(step.grad)}"]
    for index, c in enumerate(step.contributions):
        parent = tex_name(trace, c.parent)
        formulas.append(substitute(c.rule, names) + rf" \;=\; {tex_value(c.value)}")
        formulas.append(_running_sum(trace, c.parent, e.step, index, parent))
    sent_to = _list(trace, [c.parent for c in step.contributions]) or "nobody (its parents need no gradient)"
    sentence = (f"**Backward {e.step} of {e.steps_in_phase}.** `{trace.title(node.id)}` has its final "
                f"gradient ḡ = {fmt(step.grad)}; it applies the chain rule and sends a contribution to "
                f"{sent_to}. Each parent adds what it receives.")
    return StepText(f"Backward {e.step} of {e.steps_in_phase}", sentence, tuple(formulas))


def _running_sum(trace: Trace, parent_id: int, k_now: int, index: int, parent_tex: str) -> str:
    """ḡ_x so far (up to contribution ``index`` of step ``k_now``), as the sum of what it has
    received: ḡ_x = 3 + 1 = 4, with ✓ when complete. ``a + a`` sends two in one step."""
    now = trace.backward_steps[k_now - 1].contributions
    received = [(k, c) for k, c in trace.received(parent_id, trace.t_forward_end + k_now - 1)]
    received += [(k_now, c) for c in now[: index + 1] if c.parent == parent_id]
    total = received[-1][1].accumulated
    m = trace.contributions_expected(parent_id)
    status = r"\;\checkmark" if len(received) == m else rf"\quad ({len(received)} \text{{ of }} {m})"
    if len(received) > 1:
        terms = " + ".join(tex_value(c.value) for _, c in received)
        return rf"\bar{{{parent_tex}}} = {terms} = {tex_value(total)}{status}"
    return rf"\bar{{{parent_tex}}} = {tex_value(total)}{status}"


def _list(trace: Trace, ids) -> str:
    names = [f"`{trace.title(i)}`" for i in ids]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]

"""The pure drawing functions: DOT per status, escaping, explanations, heatmaps."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

import core as ad
from core.rules import plain_text, substitute
from ui.explain import explain_step, tex_name
from ui.figures import as_matrix, heatmap, heatmap_svg
from ui.render import STATUS_STYLE, GraphOptions, fmt, graph_dot


def seed():
    return ad.trace(lambda x, y: x * y + x, 2.0, 3.0)


def node_line(dot: str, node_id: int) -> str:
    (line,) = [ln for ln in dot.splitlines() if ln.strip().startswith(f"n{node_id} [")]
    return line


def test_dot_shows_each_status_with_its_style():
    tr = seed()
    x, y = tr.inputs["x"], tr.inputs["y"]
    seen = set()
    for t in range(tr.t_end + 1):
        dot = graph_dot(tr, t)
        for node in tr.nodes:
            status = tr.status_at(node.id, t)
            seen.add(status)
            assert f'fillcolor="{STATUS_STYLE[status]["fillcolor"]}"' in node_line(dot, node.id)
    assert seen == {"pending", "computed", "current", "waiting", "partial", "done"}
    dot3 = graph_dot(tr, 3)
    assert "(1 of 2)" in node_line(dot3, x) and "(0 of 1)" in node_line(dot3, y)
    assert "penwidth=4" in node_line(dot3, tr.output)  # the current node: a heavy border
    assert "▶" in node_line(dot3, tr.output)


def test_dot_edges_carry_contributions_from_the_step_they_are_sent():
    tr = seed()
    x = tr.inputs["x"]
    before = graph_dot(tr, tr.t_forward_end)
    assert "←" not in before
    end = graph_dot(tr, tr.t_end)
    edges_to_x = [ln for ln in end.splitlines() if ln.strip().startswith(f"n{x} ->")]
    labels = sorted(re.search(r'label="← ([^"]+)"', ln)[1] for ln in edges_to_x)
    assert labels == ["1", "3"]
    assert "ḡ 4 ✓" in node_line(end, x)


def test_fan_out_a_plus_a_draws_two_edges_with_their_own_contributions():
    tr = ad.trace(lambda a: a + a, 1.5)
    dot = graph_dot(tr, tr.t_end)
    assert len([ln for ln in dot.splitlines() if "-> n" in ln and "←" in ln]) == 2


HOSTILE = ['"]; evil [label="x', "<b>bold</b>", "a\\b", "x & y", "}\ndigraph {", "</TD></TR></TABLE>>", "é ∂ 😀"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_labels_are_escaped(name):
    tr = ad.trace(lambda v: v * 2.0, 1.0, names=[name])
    dot = graph_dot(tr, tr.t_end)
    escaped = html.escape(" ".join(name.split()))
    assert escaped in node_line(dot, tr.inputs[name])
    label = node_line(dot, tr.inputs[name])
    html_label = label[label.index("label=<") + 6: label.index(">, shape=") + 1]
    assert html_label.count("<") == html_label.count(">")  # balanced: the user's text is all escaped
    assert re.sub(r"</?(B|BR/|FONT[^>]*)>", "", html_label[1:-1]).count("<") == 0
    # Outside the HTML labels (user text lives only inside them, escaped) the structure is ours.
    skeleton = re.sub(r"label=<.*?>, shape=", "label=HTML, shape=", dot)
    assert "<" not in skeleton.replace("->", "")
    assert skeleton.count("digraph") == 1 and skeleton.count("{") == skeleton.count("}") == 1
    assert len([ln for ln in skeleton.splitlines() if re.match(r"\s*n\d+ \[", ln)]) == len(tr.nodes)


def test_constants_are_small_and_options_apply():
    tr = ad.trace(lambda x: x * 0.5, 2.0)
    dot = graph_dot(tr, 0, GraphOptions(rankdir="LR", large=True))
    const = [n for n in tr.nodes if n.kind == "constant"][0]
    assert "shape=plaintext" in node_line(dot, const.id)
    assert "rankdir=LR" in dot and "fontsize=28" in dot


def test_matrix_values_are_compact():
    assert fmt(np.ones((3, 4))) == "3×4 ‖3.46‖"
    assert fmt(np.array([1.0, 2.0])) == "[1, 2]"
    assert fmt(None) == "—" and fmt(4.0) == "4"


def test_explanation_has_numbers_and_the_fan_out_sum():
    tr = seed()
    first_backward = explain_step(tr, 3)
    assert first_backward.title == "Backward 1 of 2"
    last = explain_step(tr, 4)
    joined = "\n".join(last.formulas)
    assert r"\bar{x} \mathrel{+}= \bar{v_{2}}\, y \;=\; 3" in joined
    assert r"\bar{x} = 1 + 3 = 4\;\checkmark" in joined
    forward = explain_step(tr, 1)
    assert forward.formulas == (r"v_{2} = \operatorname{multiply}(x, y) = 6",)


def test_substitute_renames_whole_letters_only():
    assert substitute(r"\bar{x} \mathrel{+}= -\bar{z} \sin x", {"x": "w", "z": "h"}) == \
        r"\bar{w} \mathrel{+}= -\bar{h} \sin w"
    assert substitute(r"\bar{a} \mathrel{+}= \bar{z}\,[a > b]", {"a": "p", "b": "q", "z": "r"}) == \
        r"\bar{p} \mathrel{+}= \bar{r}\,[p > q]"


def test_tex_names():
    tr = ad.trace(lambda W1, alpha: ad.sum(W1) * alpha, np.ones(2), 2.0)
    assert tex_name(tr, tr.inputs["W1"]) == "W_{1}"
    assert tex_name(tr, tr.inputs["alpha"]) == r"\mathrm{alpha}"


def test_heatmaps():
    assert as_matrix(np.arange(6.0)).shape == (1, 6)
    assert as_matrix(np.ones((2, 3, 4))).shape == (6, 4)
    fig = heatmap(np.array([[-2.0, 1.0], [0.5, 0.0]]), "g", diverging=True)
    trace = fig.data[0]
    assert trace.zmid == 0 and trace.zmin == -2.0 and trace.zmax == 2.0
    assert heatmap(np.zeros((2, 2)), "zeros", diverging=True).data[0].zmax == 1.0
    assert heatmap(np.ones((20, 20)), "big").data[0].text is None


def test_rules_as_plain_text():
    assert plain_text(r"\bar{x} \mathrel{+}= \bar{z} \cos x") == "x\u0304 += z\u0304 cos x"
    assert plain_text(r"\bar{A} \mathrel{+}= -A^{-\top}\bar{z}\, z^\top") == "A\u0304 += -A⁻ᵀz\u0304 zᵀ"
    for op in __import__("core").OPS.values():
        for rule in op.rules:
            assert "\\" not in plain_text(rule), rule


def test_fan_out_in_one_step_shows_each_running_sum():
    tr = ad.trace(lambda a: a * a + a, 3.0)  # multiply sends a to a twice in one step
    (mul_step_t,) = [tr.t_forward_end + k for k, s in enumerate(tr.backward_steps, start=1)
                     if tr.nodes[s.node].op == "multiply"]
    sums = [f for f in explain_step(tr, mul_step_t).formulas if f.startswith(r"\bar{a} =")]
    assert sums == [r"\bar{a} = 1 + 3 = 4\quad (2 \text{ of } 3)", r"\bar{a} = 1 + 3 + 3 = 7\;\checkmark"]


def test_svg_heatmaps_for_the_inspector():
    import xml.etree.ElementTree as ET

    svg_div = heatmap_svg(np.array([[-2.0, 1.0], [0.0, np.nan]]), "g <b>", diverging=True)
    root = ET.fromstring(svg_div)
    rects = root.findall(".//{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 4
    fills = [r.get("fill") for r in rects]
    assert fills[2] == "#F7F7F7" and fills[3] == "#BBBBBB"  # 0 is white on the diverging scale; NaN grey
    assert "g &lt;b&gt;" in svg_div and "-2 … 2" in svg_div
    assert heatmap_svg(np.arange(3.0), "v").count("<rect") == 3

"""The graph's view model, its DOT, the one-time layout, the step view's payload and the narrator."""

from __future__ import annotations

import bisect
import json
import re
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import core as ad
from core.errors import ExpressionError
from core.examples import load_examples
from core.language import run
from core.narrate import narrate, tex_name
from core.rules import plain_text, substitute
from core.trace import format_value
from tests.page_model import decode, expanded
from ui import studio
from ui.dot import digraph
from ui.layout import SVG_NS, clean_svg, layout_svg
from ui.view import (
    CONSTANT_TEXT,
    EDGE_STYLES,
    GRAD_COLOR,
    PAGE_BACKGROUND,
    SENDING,
    SENT,
    STATUS_STYLES,
    GraphView,
)


def seed():
    return ad.trace(lambda x, y: x * y + x, 2.0, 3.0)


# ---- the view model ------------------------------------------------------------------------------


def test_looks_at_each_step_of_the_seed_program():
    tr = seed()
    view = GraphView(tr)
    x, y, z = tr.inputs["x"], tr.inputs["y"], tr.output
    assert view.node_look(x, 0) == ("computed", ("x", "= 2", ""))
    assert view.node_look(z, 0).status == "pending" and view.node_look(z, 0).lines[1] == ""
    assert view.node_look(z, 2).lines[0] == "▶ + #3"  # computed at t = 2: the current node
    assert view.node_look(x, 3).lines[2] == "ḡ 1 (1 of 2)"
    assert view.node_look(y, 3) == ("waiting", ("y", "= 3", "ḡ — (0 of 1)"))
    assert view.node_look(x, 4) == ("done", ("x", "= 2", "ḡ 4 ✓"))
    statuses = {view.node_look(n.id, t).status for n in view.nodes for t in range(tr.t_end + 1)}
    assert statuses == set(STATUS_STYLES)


def test_edges_carry_their_contribution_from_the_step_that_sends_it():
    tr = seed()
    view = GraphView(tr)
    x = tr.inputs["x"]
    into_x = [e for e in view.edges if e.parent == x]
    assert all(view.edge_look(e.id, tr.t_forward_end).label == "" for e in into_x)
    assert sorted(view.edge_look(e.id, tr.t_end).label for e in into_x) == ["← 1", "← 3"]
    states = [view.edge_look(e.id, tr.t_end).state for e in into_x]
    assert sorted(states) == [SENDING, SENT]  # the last step's edge is the one sending now
    feeding = [view.edge_look(e.id, 1).state for e in view.edges if e.child == tr.forward_steps[0]]
    assert feeding == ["feeding", "feeding"]


@pytest.mark.parametrize("example", load_examples(), ids=lambda e: e.title)
def test_timelines_give_the_look_of_every_step(example):
    """The browser finds a look by bisection in a node's (t, look) list: that must equal the
    look at every t, for every node and edge of every gallery example."""
    tr = run(example.program)
    view = GraphView(tr)
    for timeline, look_at, items in ((view.node_timeline, view.node_look, view.nodes),
                                     (view.edge_timeline, view.edge_look, view.edges)):
        for item in items:
            changes = timeline(item.id)
            times = [t for t, _ in changes]
            assert times[0] == 0 and times == sorted(set(times))
            for t in range(tr.t_end + 1):
                assert changes[bisect.bisect_right(times, t) - 1][1] == look_at(item.id, t)


def test_layout_lines_are_the_widest_ever_shown():
    tr = ad.trace(lambda a: a * a + a, 3.0)
    view = GraphView(tr)
    a = tr.inputs["a"]
    assert view.widest_lines(a) == ("a", "= 3", "ḡ 1 (1 of 3)")
    assert [view.widest_edge_label(e.id) for e in view.edges if e.parent == a] == ["← 3", "← 3", "← 1"]


def contrast(foreground: str, background: str) -> float:
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_every_text_colour_reads_on_its_fill():
    """WCAG AA for normal text: 4.5:1, for every status's text and gradient line, the constants
    and the edge labels on the page."""
    for status, style in STATUS_STYLES.items():
        assert contrast(style.text, style.fill) >= 4.5, status
        assert contrast(style.grad_text, style.fill) >= 4.5, status
    assert contrast(CONSTANT_TEXT, PAGE_BACKGROUND) >= 4.5
    assert contrast(GRAD_COLOR, PAGE_BACKGROUND) >= 4.5
    for state, (colour, _) in EDGE_STYLES.items():
        if state in (SENT, SENDING):
            assert contrast(colour, PAGE_BACKGROUND) >= 4.5
    assert contrast("#8A3500", "#E69F00") < 4.5  # the check can fail: the old orange-on-orange


def test_status_is_never_shown_by_colour_alone():
    styles = list(STATUS_STYLES.values())
    signatures = {(s.dashed, s.border_width, s.border) for s in styles}
    assert len(signatures) == len(styles)  # borders tell them apart too (and the words do)


# ---- DOT ---------------------------------------------------------------------------------------


def node_line(dot: str, node_id: int) -> str:
    (line,) = [ln for ln in dot.splitlines() if re.match(rf"\s*n{node_id} \[", ln)]
    return line


def test_dot_at_a_step_has_the_looks_and_their_colours():
    tr = seed()
    dot = digraph(GraphView(tr), tr.t_end).source
    x = tr.inputs["x"]
    assert "ḡ 4 ✓" in node_line(dot, x) and f"fillcolor=\"{STATUS_STYLES['done'].fill}\"" in node_line(dot, x)
    labels = sorted(re.findall(r'label="(← [^"]+)"', dot))
    assert labels == ["← 1", "← 1", "← 2", "← 3"]
    layout = digraph(GraphView(tr)).source
    assert "fillcolor" not in layout and sorted(re.findall(r'label="(← [^"]+)"', layout)) == labels


HOSTILE = ['"]; evil [label="x', "<b>bold</b>", "a\\b", "x & y", "}\ndigraph {", "é ∂ 😀", "\\N\\G", "<>",
           'a\\"b', "end\\"]


def dot_label(line: str) -> list:
    """The lines of a node's quoted DOT label, with DOT's escapes undone."""
    quoted = re.search(r'label="((?:[^"\\]|\\.)*)"', line)[1]
    return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], quoted).split("\n")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_cannot_break_the_dot(name):
    tr = ad.trace(lambda v: v * 2.0, 1.0, names=[name])
    dot = digraph(GraphView(tr), tr.t_end).source
    shown = " ".join(name.split())
    # Outside its quoted strings, the DOT is one graph with our nodes and edges only; the name
    # reads back verbatim.
    skeleton = re.sub(r'"(?:[^"\\]|\\.)*"', '""', dot)
    assert skeleton.count("digraph") == 1 and skeleton.count("{") == skeleton.count("}") == 1
    assert len([ln for ln in skeleton.splitlines() if re.match(r"\s*n\d+ \[", ln)]) == len(tr.nodes)
    assert "<" not in skeleton.replace("->", "")
    assert dot_label(node_line(dot, tr.inputs[name]))[0] == shown


def test_layout_svg_is_clean_and_has_every_slot():
    tr = run(next(e for e in load_examples() if "MLP" in e.title).program)
    view = GraphView(tr)
    root = ET.fromstring(layout_svg(view))
    assert not root.findall(f".//{{{SVG_NS}}}title")  # no tooltips saying "n3"
    for node in view.nodes:
        group = root.find(f".//{{{SVG_NS}}}g[@id='n{node.id}']")
        texts = group.findall(f"{{{SVG_NS}}}text")
        assert [t.get("data-slot") for t in texts] == [str(i) for i in range(len(view.widest_lines(node.id)))]
    for edge in view.edges:
        assert root.find(f".//{{{SVG_NS}}}g[@id='e{edge.id}']") is not None


def test_clean_svg_rounds_and_strips():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><g class="graph">'
           '<polygon fill="white" points="0,0 1,1"/><g id="n0" class="node"><title>n0</title>'
           '<ellipse cx="1.23456" cy="-2.5" rx="3" ry="4"/>'
           '<text x="1.26" y="2" font-family="Times" font-size="14.00">a</text></g></g></svg>')
    out = clean_svg(svg)
    assert "<title>" not in out and 'fill="white"' not in out and 'cx="1.2"' in out
    assert 'data-slot="0"' in out and "Times" not in out and 'font-size="14.00"' not in out


# ---- the payload ---------------------------------------------------------------------------------


def test_the_payload_holds_every_step():
    tr = seed()
    data = expanded(json.loads(studio.program_payload(tr)))
    assert data["tEnd"] == tr.t_end == len(data["steps"]) - 1
    assert len(data["looks"]) == len(tr.nodes) and len(data["edgeLooks"]) == len(data["edges"])
    x = tr.inputs["x"]
    status, *lines = data["looks"][x][-1][1:]
    assert data["statuses"][status] == "done" and lines == ["x", "= 2", "ḡ 4 ✓"]
    title, sentence, formulas, node, arrays, expansions = data["steps"][tr.t_end]
    assert title == "Backward 2 of 2" and node == tr.backward_steps[-1].node and formulas
    assert [a[2:] for a in data["inspect"][x]["arrivals"]] == [["1", "1"], ["3", "4"]]
    assert ET.fromstring(data["svg"]).tag == f"{{{SVG_NS}}}svg"


def test_arrays_come_as_small_heatmaps():
    small = studio.heat(np.array([[1.0, -2.0], [0.5, np.nan]]))
    assert small["rows"] == 2 and small["cols"] == 2 and small["v"] == [1.0, -2.0, 0.5, None]
    big = studio.heat(np.ones((100, 1000)))
    assert big["rows"] <= studio.HEAT_CELLS and big["cols"] <= studio.HEAT_CELLS and big["block"] == [5, 42]
    assert big["v"][0] == 1.0 and big["shape"] == [100, 1000]
    tr = run("W = randn(3, 2)\nloss = sum(W * W)\n")
    data = json.loads(studio.program_payload(tr))
    w = data["inspect"][tr.inputs["W"]]
    assert w["value"]["shape"] == [3, 2] and [t for t, _ in w["grads"]] == [a[0] for a in w["arrivals"]]


def test_the_page_part_changes_only_with_what_the_server_asks():
    request = {"t": 2, "node": None, "playing": False, "speed": 1.0}
    a = studio.page_part(program="k", revision=3, request=request, present=False)
    b = studio.page_part(program="k", revision=3, request=dict(request), present=False)
    assert a == b and b"\n" not in a
    program_part = studio.compressed_payload(seed())
    page, program = decode(studio.payload(a, program_part))
    assert page["revision"] == 3 and page["state"] == "view" and program["tEnd"] == 4
    assert studio.compressed_payload(seed()).key == program_part.key  # the same program, the same key
    assert re.fullmatch(r"[0-9a-f]{12}", page["assets"])


# ---- the narrator ----------------------------------------------------------------------------------


def test_narration_has_numbers_and_the_fan_out_sum():
    tr = seed()
    assert [narrate(tr, t).phase for t in range(tr.t_end + 1)] == ["start", "forward", "forward", "backward", "end"]
    assert "x = 2" in narrate(tr, 0).summary
    assert narrate(tr, 1).summary == "Forward 1 of 2: × #2 = multiply(x, y) = 6"
    assert narrate(tr, 1).formulas == (r"v_{2} = \operatorname{multiply}(x, y) = 6",)
    last = narrate(tr, 4)
    assert last.title == "Backward 2 of 2" and "sends 3 to x (now 4)" in last.summary
    joined = "\n".join(last.formulas)
    assert r"\bar{x} \mathrel{+}= \bar{v}_{2}\, y \;=\; 3" in joined
    assert r"\bar{x} = 1 + 3 = 4\;\checkmark" in joined
    assert tr.explain(4) == last
    with pytest.raises(ad.AutodiffError):
        narrate(tr, 5)


def test_fan_out_in_one_step_shows_each_running_sum():
    tr = ad.trace(lambda a: a * a + a, 3.0)  # multiply sends a to a twice in one step
    (mul_step_t,) = [tr.t_forward_end + k for k, s in enumerate(tr.backward_steps, start=1)
                     if tr.nodes[s.node].op == "multiply"]
    sums = [f for f in narrate(tr, mul_step_t).formulas if f.startswith(r"\bar{a} =")]
    assert sums == [r"\bar{a} = 1 + 3 = 4\quad (2 \text{ of } 3)", r"\bar{a} = 1 + 3 + 3 = 7\;\checkmark"]


def test_a_long_fan_out_keeps_each_step_short():
    tr = ad.trace(lambda a: sum((a * a for _ in range(40)), a), 1.0)
    sums = [f for t in range(tr.t_forward_end + 1, tr.t_end + 1) for f in narrate(tr, t).formulas
            if f.startswith(r"\bar{a} =")]
    assert len(sums) == 81 and max(len(f) for f in sums) < 120
    assert sums[-1] == r"\bar{a} = \underbrace{80}_{\text{80 earlier}} + 1 = 81\;\checkmark"
    assert sums[2] == r"\bar{a} = 1 + 1 + 1 = 3\quad (3 \text{ of } 81)"


def test_tensor_steps_write_small_arrays_out_and_show_big_ones():
    tr = run("W = [[1.0, -2.0], [0.5, 3.0]]\nv = [1.0, 1.0]\nloss = sum(W @ v)\n")
    formulas = "\n".join(narrate(tr, tr.t_end).formulas)
    assert r"\begin{bmatrix}1 & 1 \\ 1 & 1\end{bmatrix}" in formulas  # W̄ = ḡ vᵀ, written out
    big = run(next(e for e in load_examples() if "MLP" in e.title).program)
    step = narrate(big, big.t_end)
    assert r"\boxed{16\times 8" in "\n".join(step.formulas)
    assert step.arrays and all(max(np.shape(a)) > 6 for _, a, _ in step.arrays)
    data = expanded(json.loads(studio.program_payload(big)))
    caption, grid, gradient = data["steps"][big.t_end][4][0]
    assert caption.endswith("(16×8)") and grid["rows"] == 16 and gradient is True


def test_a_matrix_product_contribution_is_written_out_entry_by_entry():
    tr = run("A = [[1.0, 2.0], [3.0, 4.0]]\nB = [[0.5, -1.0], [2.0, 1.0]]\nloss = sum(A @ B)\n")
    (a_bar, b_bar) = narrate(tr, tr.t_end - 0).expansions or narrate(tr, tr.t_end - 1).expansions
    assert a_bar.shape == (2, 2) and b_bar.shape == (2, 2)
    # Ā = z̄ Bᵀ with z̄ = ones: Ā[0, 1] = 1·2 + 1·1 = 3
    assert a_bar.entries[1].endswith(r"= 1 \cdot 2 + 1 \cdot 1 = 3") and a_bar.values[1] == "3"
    assert b_bar.entries[1].startswith(r"\bar{B}[0, 1] = \sum_k A[k, 0]")
    dot = ad.trace(lambda u, v: ad.matmul(u, v), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    (u_bar, v_bar) = narrate(dot, dot.t_end).expansions
    assert u_bar.entries[0] == r"\bar{u}[0] = \bar{v}_{2}\, v[0] = 1 \cdot 3 = 3"  # a scalar z̄: no index
    data = expanded(json.loads(studio.program_payload(tr)))
    assert any(step[5] for step in data["steps"])


def test_broadcasting_is_shown_as_the_sum_it_is():
    tr = run("X = randn(4, 3)\nb = [0.1, -0.2, 0.3]\nY = X + b\nloss = sum(Y ** 2)\n")
    last = narrate(tr, tr.t_end)
    (to_b,) = [f for f in last.formulas if f.startswith(r"\bar{b} \mathrel{+}=")]
    assert to_b.startswith(r"\bar{b} \mathrel{+}= \textstyle\sum_{\text{axis 0}} \big(\bar{Y}\big)")
    assert "`b` was broadcast along axis 0" in last.sentence
    (to_x,) = [f for f in last.formulas if f.startswith(r"\bar{X} \mathrel{+}=")]
    assert r"\sum" not in to_x  # X has Y's shape: nothing to sum


@pytest.mark.parametrize("combine", ["y % x", "hypot(y, x)", "arctan2(y, x)", "maximum(y, x)"])
def test_every_broadcasting_op_shows_its_sum(combine):
    """Which ops broadcast is the op table's word, for the narrator and the language's messages."""
    tr = run(f"y = randn(3)\nx = 2.0\nz = sum({combine})\n")
    assert "`x` was broadcast along axis 0" in narrate(tr, tr.t_end).sentence
    with pytest.raises(ExpressionError, match="cannot be broadcast together"):
        run(f"y = randn(3)\nx = randn(2)\nz = sum({combine})\n")


def test_a_rule_index_joins_a_subscripted_name():
    tr = ad.trace(lambda x: ad.sum(x * x), np.ones(2))  # the sum's rule is x̄_i += z̄ with z = v_{2}
    assert any(r"\bar{v}_{1,i}" in f for t in range(tr.t_forward_end + 1, tr.t_end + 1)
               for f in narrate(tr, t).formulas)


def test_long_names_get_a_long_bar():
    tr = ad.trace(lambda logits: ad.sum(logits * logits), np.ones(2))
    formulas = "\n".join(narrate(tr, tr.t_end).formulas)
    assert r"\overline{\mathrm{logits}}" in formulas and r"\bar{\mathrm{logits}}" not in formulas


def test_tex_names():
    tr = ad.trace(lambda W1, alpha: ad.sum(W1) * alpha, np.ones(2), 2.0)
    assert tex_name(tr, tr.inputs["W1"]) == "W_{1}"
    assert tex_name(tr, tr.inputs["alpha"]) == r"\mathrm{alpha}"
    hostile = ad.trace(lambda v: v * 2.0, 1.0, names=["}\\evil{"])
    assert tex_name(hostile, 0) == r"\mathrm{evil}"
    underscored = ad.trace(lambda w0_0: w0_0 * 2.0, 1.0)
    assert tex_name(underscored, 0) == r"\mathrm{w0\_0}"  # not "w00"
    assert plain_text(narrate(underscored, underscored.t_end).formulas[1]).startswith("w0_0")


def test_negative_terms_of_a_sum_are_in_parentheses():
    tr = ad.trace(lambda x: x * 2.0 - x, 1.0)
    assert r"\bar{x} = (-1) + 2 = 1\;\checkmark" in narrate(tr, tr.t_end).formulas


def test_the_command_line_tells_what_the_page_tells():
    from core.cli import format_trace

    tr = seed()
    text = format_trace(tr)
    for t in range(tr.t_forward_end + 1, tr.t_end + 1):
        assert narrate(tr, t).summary in text
    assert "x̄ = 1 + 3 = 4 ✓" in text


def test_values_are_compact_and_never_minus_zero():
    assert format_value(np.ones((3, 4))) == "3×4 ‖3.46‖"
    assert format_value(np.array([1.0, 2.0])) == "[1, 2]"
    assert format_value(None) == "—" and format_value(4.0) == "4"
    assert format_value(-0.0) == "0" and format_value(np.array([-0.0, 1.0])) == "[0, 1]"


def test_rules_as_plain_text():
    assert plain_text(r"\bar{x} \mathrel{+}= \bar{z} \cos x") == "x\u0304 += z\u0304 cos x"
    assert plain_text(r"\bar{A} \mathrel{+}= -A^{-\top}\bar{z}\, z^\top") == "A\u0304 += -A⁻ᵀz\u0304 zᵀ"
    assert plain_text(r"\overline{\mathrm{loss}} = 1\;\checkmark") == "loss\u0304 = 1 ✓"
    for op in ad.OPS.values():
        for rule in op.rules:
            assert "\\" not in plain_text(rule), rule


def test_substitute_renames_whole_letters_only():
    assert substitute(r"\bar{x} \mathrel{+}= -\bar{z} \sin x", {"x": "w", "z": "h"}) == \
        r"\bar{w} \mathrel{+}= -\bar{h} \sin w"


def test_graphviz_package_is_what_builds_the_dot():
    assert isinstance(digraph(GraphView(seed())), graphviz.Digraph)


@pytest.mark.parametrize("name", ['"]; evil [label="x', "<b>bold</b>", "a\\b", "\\N", 'a\\"b'])
def test_hostile_names_lay_out_as_text(name):
    tr = ad.trace(lambda v: v * 2.0, 1.0, names=[name])
    root = ET.fromstring(layout_svg(GraphView(tr)))
    group = root.find(f".//{{{SVG_NS}}}g[@id='n{tr.inputs[name]}']")
    assert group.find(f"{{{SVG_NS}}}text").text == " ".join(name.split())
    assert not root.findall(f".//{{{SVG_NS}}}script") and not root.findall(".//b")


# ---- the fallback layout ---------------------------------------------------------------------------------


def slots_and_edges(svg: str, view: GraphView) -> None:
    """Every node with its text slots, and every edge with a path and an arrowhead, as the page needs."""
    root = ET.fromstring(svg)
    for node in view.nodes:
        group = root.find(f".//{{{SVG_NS}}}g[@id='n{node.id}']")
        assert group is not None and group.get("class") == "node"
        texts = group.findall(f"{{{SVG_NS}}}text")
        assert [t.get("data-slot") for t in texts] == [str(i) for i in range(len(view.widest_lines(node.id)))]
    for edge in view.edges:
        group = root.find(f".//{{{SVG_NS}}}g[@id='e{edge.id}']")
        assert group.find(f"{{{SVG_NS}}}path") is not None and group.find(f"{{{SVG_NS}}}polygon") is not None


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_the_layered_fallback_draws_what_the_page_needs(rankdir):
    from ui.clusters import Clusters
    from ui.layered import layered_svg, ranks_of

    view = GraphView(run(next(e for e in load_examples() if "MLP" in e.title).program))
    items, links = Clusters(view).shown()
    svg = layered_svg(items, links, rankdir)
    slots_and_edges(svg, view)
    root = ET.fromstring(svg)
    _, item_rank = ranks_of(len(items), links)
    rank = {int(item.dot_id[1:]): r for item, r in zip(items, item_rank)}
    centre = {}
    for node in view.nodes:
        shape = root.find(f".//{{{SVG_NS}}}g[@id='n{node.id}']")
        first_text = shape.find(f"{{{SVG_NS}}}text")
        centre[node.id] = (float(first_text.get("x")), float(first_text.get("y")))
    along = 1 if rankdir == "TB" else 0  # ranks go down (TB) or right (LR)
    for edge in view.edges:  # every edge points from a lower rank to a higher one, drawn that way
        assert rank[edge.parent] < rank[edge.child]
        assert centre[edge.parent][along] < centre[edge.child][along]


def test_graphs_dot_cannot_lay_out_fall_back(monkeypatch):
    import ui.layout as layout

    view = GraphView(seed())

    def broken(*args, **kwargs):
        raise layout.LayoutError("call stack exhausted")

    monkeypatch.setattr(layout, "render_svg", broken)
    svg = layout.layout_svg(view)
    slots_and_edges(svg, view)
    assert 'id="graph0"' in svg


def test_the_largest_program_gets_a_layout_and_a_small_payload():
    from bench.programs import largest_program

    tr = run(largest_program())
    assert len(tr.nodes) > 4000
    payload = studio.compressed_payload(tr)
    assert len(payload.data) < 5_000_000
    page, program = decode(studio.payload(b"{}", payload))
    assert len(program["looks"]) == len(tr.nodes) and program["tEnd"] == tr.t_end


# ---- calls and loop iterations ----------------------------------------------------------------------


def rnn():
    return run(next(e for e in load_examples() if "RNN" in e.title).program)


def test_frames_are_boxes_and_a_collapsed_one_is_a_node():
    from ui.clusters import Clusters

    tr = rnn()
    view = GraphView(tr)
    dot = digraph(view).source
    assert dot.count("subgraph cluster_k") == 4 and 'label="for t = 2 (line 6)"' in dot
    collapsed = Clusters(view, {2})
    dot = digraph(view, clusters=collapsed).source
    assert dot.count("subgraph cluster_k") == 3 and "f2 [" in dot
    hidden = [i for i, owner in enumerate(collapsed.owner) if owner == 2]
    assert hidden and all(f"n{i} [" not in dot for i in hidden)
    for edge in collapsed.edges:  # every edge that crossed the frame's border now ends at it
        assert ("f", 2) in (edge.source, edge.target) and edge.source != edge.target
    items, links = collapsed.shown()
    assert [item.dot_id for item in items].count("f2") == 1
    assert all(link.source < link.target for link in links)  # forward: the layered fallback needs it


def test_a_collapsed_frame_sums_its_nodes_up_at_every_step():
    from ui.clusters import Clusters

    tr = rnn()
    clusters = Clusters(GraphView(tr), {2})
    (first, last), (back_first, back_last) = tr.frame_steps(2)
    assert clusters.node_look(2, first - 1).status == "pending"
    assert clusters.node_look(2, first).status == "current" and clusters.node_look(2, last).status == "current"
    assert clusters.node_look(2, last + 1).status == "computed"
    assert clusters.node_look(2, last + 1).lines[1].startswith("= [")  # its output's value
    assert clusters.node_look(2, back_first).status == "current"
    assert clusters.node_look(2, tr.t_end).status == "done" and clusters.node_look(2, tr.t_end).lines[2].endswith("✓")
    changes = clusters.node_timeline(2)
    times = [t for t, _ in changes]
    for t in range(tr.t_end + 1):
        assert changes[bisect.bisect_right(times, t) - 1][1] == clusters.node_look(2, t)


def test_the_payload_says_which_frames_are_collapsed_and_where_their_steps_are():
    tr = rnn()
    data = expanded(json.loads(studio.program_payload(tr, "TB", frozenset({3}))))
    frames = {f[0]: f for f in data["frames"]}
    assert frames[3][4] is True and frames[1][4] is False
    assert tuple(frames[3][5]) == tr.frame_steps(3)[0] and tuple(frames[3][6]) == tr.frame_steps(3)[1]
    assert [fid for fid, _ in data["clusters"]] == [3]
    assert {i for i, owner in enumerate(data["owner"]) if owner == 3} == \
        {n.id for n in tr.nodes if any(f.id == 3 for f in n.scope)}
    assert all(int(end[1:]) == 3 for s, t, _ in data["clusterEdges"] for end in (s, t) if end.startswith("f"))


def test_a_big_program_with_frames_starts_collapsed():
    from ui.clusters import COLLAPSE_ABOVE_NODES, default_collapsed

    small = rnn()
    assert default_collapsed(small) == frozenset()
    program = "x = 0.5\nh = x\nfor i in range(60):\n    h = sin(h) * x + h\nloss = h\n"
    big = run(program)
    assert len(big.nodes) > COLLAPSE_ABOVE_NODES
    assert default_collapsed(big) == frozenset(big.frames())  # every iteration, all top level
    assert studio.prepare(program, 0, None, "TB").collapsed == default_collapsed(big)

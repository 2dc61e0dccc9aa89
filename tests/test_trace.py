"""Trace: the forward and backward pass as data, and its queries at every step t."""

from __future__ import annotations

import gc
import json
import pickle
import tracemalloc

import numpy as np
import pytest

import core as ad
from core.trace import STATUSES, Trace


def seed_trace():
    return ad.trace(lambda x, y: x * y + x, 2.0, 3.0)


def by_label(trace, label):
    (node,) = [n for n in trace.nodes if n.label == label]
    return node.id


def test_seed_figure_x_receives_3_through_times_and_1_through_plus():
    tr = seed_trace()
    x = tr.inputs["x"]
    received = [(tr.nodes[s.node].op, float(c.value)) for s in tr.backward_steps for c in s.contributions
                if c.parent == x]
    assert sorted(received) == [("add", 1.0), ("multiply", 3.0)]
    assert float(tr.grad_at(x, tr.t_end)) == 4.0
    assert float(tr.grads["x"]) == 4.0 and float(tr.grads["y"]) == 2.0
    rules = {tr.nodes[s.node].op: [c.rule for c in s.contributions] for s in tr.backward_steps}
    assert rules["multiply"][0] == r"\bar{a} \mathrel{+}= \bar{z}\, b"


def test_seed_trace_at_every_t():
    tr = seed_trace()
    x, y = tr.inputs["x"], tr.inputs["y"]
    mul, add = by_label(tr, "×"), by_label(tr, "+")
    assert tr.output == add and tr.t_forward_end == 2 and tr.t_end == 4
    expected = {  # t: statuses of (x, y, mul, add), then grads
        0: (("computed", "computed", "pending", "pending"), (None, None, None, None)),
        1: (("computed", "computed", "current", "pending"), (None, None, None, None)),
        2: (("computed", "computed", "computed", "current"), (None, None, None, None)),
        3: (("partial", "waiting", "done", "current"), (1.0, None, 1.0, 1.0)),
        4: (("done", "done", "current", "done"), (4.0, 2.0, 1.0, 1.0)),
    }
    for t, (statuses, grads) in expected.items():
        assert tuple(tr.status_at(i, t) for i in (x, y, mul, add)) == statuses, t
        got = tuple(None if tr.grad_at(i, t) is None else float(tr.grad_at(i, t)) for i in (x, y, mul, add))
        assert got == grads, t
    assert tr.value_at(mul, 0) is None and float(tr.value_at(mul, 1)) == 6.0
    assert float(tr.value_at(x, 0)) == 2.0
    assert (tr.contributions_received(x, 3), tr.contributions_expected(x)) == (1, 2)
    assert {tr.status_at(i, t) for i in range(4) for t in range(5)} <= set(STATUSES)


def test_explain_every_step():
    tr = seed_trace()
    phases = [tr.explain(t).phase for t in range(tr.t_end + 1)]
    assert phases == ["start", "forward", "forward", "backward", "end"]
    assert "x = 2" in tr.explain(0).summary
    assert tr.explain(1).summary == "Forward 1 of 2: × #2 = multiply(x, y) = 6"
    last = tr.explain(4)
    assert last.node == by_label(tr, "×") and "sends 3 to x (now 4)" in last.summary
    with pytest.raises(ad.AutodiffError):
        tr.explain(5)


def test_fan_out_a_plus_a_lists_the_parent_twice():
    tr = ad.trace(lambda a: a + a, 3.0)
    add = tr.output
    a = tr.inputs["a"]
    assert tr.nodes[add].parents == (a, a)
    (step,) = tr.backward_steps
    assert [c.position for c in step.contributions] == [0, 1]
    assert [float(c.accumulated) for c in step.contributions] == [1.0, 2.0]
    assert tr.status_at(a, tr.t_end) == "done"


def test_matrix_and_broadcasting_trace():
    rng = np.random.default_rng(0)
    X, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    tr = ad.trace(lambda X, b: ad.sum(ad.tanh(X + b) ** 2), X, b)
    bid = tr.inputs["b"]
    assert tr.nodes[bid].shape == (3,)
    (to_b,) = [c for s in tr.backward_steps for c in s.contributions if c.parent == bid]
    assert to_b.value.shape == (3,)  # unbroadcast: summed over the 4 rows
    gX, gb = ad.grad(lambda X, b: ad.sum(ad.tanh(X + b) ** 2))(X, b)
    np.testing.assert_allclose(tr.grads["b"], gb)
    np.testing.assert_allclose(tr.grad_at(tr.inputs["X"], tr.t_end), gX)
    for t in range(tr.t_end + 1):
        for n in tr.nodes:
            g = tr.grad_at(n.id, t)
            assert g is None or g.shape == n.shape


def test_constants_need_no_gradient():
    tr = ad.trace(lambda x: x * 0.5 + 1.0, 2.0)
    consts = [n for n in tr.nodes if n.kind == "constant"]
    assert [n.label for n in consts] == ["0.5", "1"]
    for n in consts:
        assert tr.status_at(n.id, tr.t_end) == "computed" and tr.grad_at(n.id, tr.t_end) is None


def test_non_scalar_output_gives_a_forward_only_trace_with_a_note():
    tr = ad.trace(lambda x: x * 2.0, np.ones(3))
    assert tr.backward_steps == () and tr.t_end == tr.t_forward_end == 1
    assert "sum(" in tr.note and "(3,)" in tr.note


def retained_bytes_per_edge(links: int) -> float:
    """Bytes a recorded trace of a chain with fan-out (5 edges per link) keeps alive, per edge,
    measured with tracemalloc after every record was made and every query ran at a few steps."""

    def chain(x):
        for _ in range(links):
            x = ad.sin(x) * 0.5 + x  # x feeds sin and +: two contributions to add up
        return x

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tr = ad.trace(chain, 0.1)
        list(tr.nodes), list(tr.backward_steps)  # the lazy records, made
        for t in (0, tr.t_forward_end, tr.t_end):
            for i in range(len(tr.nodes)):
                tr.grad_at(i, t), tr.status_at(i, t)
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    edges = sum(len(n.parents) for n in tr.nodes)
    assert edges == 5 * links
    return kept / edges


def test_memory_is_linear_in_edges():
    """One contribution and one running sum stored per edge, never a snapshot of every node at
    every step. Measured: about 0.8 KB per edge (graph, records, index), nearly flat in size; a
    snapshot per step (O(nodes × steps)) would make the bytes per edge grow with the chain's length:
    even a list of references per step adds ~8 bytes × nodes per edge, 10× more at 10× the length."""
    small, large = retained_bytes_per_edge(100), retained_bytes_per_edge(1000)
    assert large < 2000, f"{large:.0f} bytes per edge"
    assert large < 1.4 * small, f"{small:.0f} bytes per edge at 500 edges, {large:.0f} at 5000"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_json_round_trip_and_versioning():
    tr = ad.trace(lambda x, y: ad.sum(ad.log(x) * y), np.array([0.0, 1.0]), np.array([1.0, 2.0]))
    text = tr.to_json()
    data = json.loads(text)  # strict JSON: -inf is encoded as a string
    assert data["format"] == "backprop-studio/trace" and data["version"] == 2
    back = Trace.from_json(text)
    assert back.to_json() == text
    # Version 1 (no frames, no scopes) is still read: every node made outside any call or loop.
    old = {**data, "version": 1, "nodes": [{k: v for k, v in n.items() if k != "scope"} for n in data["nodes"]]}
    del old["frames"]
    assert Trace.from_dict(old).to_json() == text and all(n.scope == () for n in back.nodes)
    assert np.isneginf(back.nodes[back.forward_steps[0]].value[0])
    for t in range(tr.t_end + 1):
        statuses = [tr.status_at(i, t) for i in range(len(tr.nodes))]
        assert [back.status_at(i, t) for i in range(len(back.nodes))] == statuses
    with pytest.raises(ad.AutodiffError, match="version"):
        Trace.from_json(json.dumps({**data, "version": 99}))
    with pytest.raises(ad.AutodiffError):
        Trace.from_json("{}")
    with pytest.raises(ad.AutodiffError):
        Trace.from_json("not json")


def test_trace_names_default_to_parameter_names():
    def f(weight, bias):
        return weight * bias

    assert set(ad.trace(f, 1.0, 2.0).inputs) == {"weight", "bias"}
    assert set(ad.trace(f, 1.0, 2.0, names=["w", "b"]).inputs) == {"w", "b"}


def test_trace_is_also_the_matrix_trace():
    A = np.arange(9.0).reshape(3, 3)
    assert ad.trace(A) == 12.0
    assert float(ad.trace(ad.Var(A)).value) == 12.0
    assert isinstance(ad.trace(lambda A: ad.trace(A), A), Trace)


def test_a_multi_line_statement_keeps_the_order_topological():
    from core.language import run

    tr = run("x = 2.0\ny = 3.0\nz = (x *\n sin(y))\n")
    position = {n.id: i for i, n in enumerate(tr.nodes)}
    assert all(position[p] < position[n.id] for n in tr.nodes for p in n.parents)
    assert float(tr.grads["y"]) == pytest.approx(2.0 * np.cos(3.0))


def test_malformed_json_is_an_autodiff_error():
    data = json.loads(seed_trace().to_json())
    with pytest.raises(ad.AutodiffError):
        Trace.from_dict({**data, "grads": [1, 2]})


def test_received_lists_each_contribution_once_in_order():
    tr = ad.trace(lambda a: a * a + a, 3.0)
    a = tr.inputs["a"]
    assert [(k, float(c.value)) for k, c in tr.received(a, tr.t_end)] == [(1, 1.0), (2, 3.0), (2, 3.0)]
    assert [float(c.accumulated) for _, c in tr.received(a, tr.t_end)] == [1.0, 4.0, 7.0]
    assert tr.received(a, tr.t_forward_end) == []


def test_a_trace_pickles_with_everything_it_answers():
    """A trace crosses a process boundary (programs run in worker processes): same answers after."""
    from core.language import run

    tr = run("W = randn(3, 2)\nv = randn(2)\nh = tanh(W @ v)\nz = sum(h * h) + sum(h)\n", seed=1)
    back = pickle.loads(pickle.dumps(tr))
    assert back.program == tr.program and back.seed == 1 and back.inputs == tr.inputs
    for t in range(tr.t_end + 1):
        for i in range(len(tr.nodes)):
            assert back.status_at(i, t) == tr.status_at(i, t)
            assert back.contributions_received(i, t) == tr.contributions_received(i, t)
            np.testing.assert_array_equal(np.asarray(back.grad_at(i, t)), np.asarray(tr.grad_at(i, t)))
    assert back.to_json() == tr.to_json()

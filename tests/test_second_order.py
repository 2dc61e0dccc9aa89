"""Differentiate again: the gradient's own graph, the Hessian and H·v, against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

import core as ad
from core.language import as_function, build
from core.second_order import gradient_trace, hessian_vector_product, program_hessian
from core.trace import STATUSES

PROGRAM = "x = 1.5\ny = 0.5\nz = sin(x) * y + x * x * y + exp(y) / x\n"


def numerical_hessian(program: str, eps: float = 1e-5) -> np.ndarray:
    """Central differences of the engine's gradient (checked itself by test_ops)."""
    names, f = as_function(program)
    _, inputs = build(program)
    point = [float(inputs[n].value) for n in names]
    grad = ad.grad(f, argnums=tuple(range(len(names))))
    H = np.empty((len(names), len(names)))
    for j in range(len(names)):
        plus, minus = list(point), list(point)
        plus[j] += eps
        minus[j] -= eps
        H[:, j] = (np.array(grad(*plus)) - np.array(grad(*minus))) / (2 * eps)
    return H


def closed_form_hessian(x: float, y: float) -> np.ndarray:
    """PROGRAM's Hessian by hand: z = sin(x) y + x² y + eʸ/x."""
    return np.array([
        [-np.sin(x) * y + 2 * y + 2 * np.exp(y) / x ** 3, np.cos(x) + 2 * x - np.exp(y) / x ** 2],
        [np.cos(x) + 2 * x - np.exp(y) / x ** 2, np.exp(y) / x],
    ])


def test_hessian_matches_finite_differences_of_the_gradient():
    names, H = program_hessian(PROGRAM, 0)
    assert names == ("x", "y")
    np.testing.assert_allclose(H, closed_form_hessian(1.5, 0.5), rtol=1e-12)
    np.testing.assert_allclose(H, numerical_hessian(PROGRAM), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_gradient_trace_is_a_steppable_trace_whose_gradients_are_a_hessian_row():
    tr = gradient_trace(PROGRAM, 0, "x")
    assert tr.nodes[tr.output].name == "dz_dx"
    x, y = 1.5, 0.5
    assert float(tr.nodes[tr.output].value) == pytest.approx(np.cos(x) * y + 2 * x * y - np.exp(y) / x ** 2,
                                                             rel=1e-12)
    np.testing.assert_allclose([tr.grads["x"], tr.grads["y"]], closed_form_hessian(x, y)[0], rtol=1e-12)
    inputs = (tr.inputs["x"], tr.inputs["y"])
    for t in range(tr.t_end + 1):  # every query at every step, against what the timeline promises
        for node in tr.nodes:
            status, grad = tr.status_at(node.id, t), tr.grad_at(node.id, t)
            assert status in STATUSES
            assert (tr.value_at(node.id, t) is None) == (status == "pending")
            if t <= tr.t_forward_end:
                assert grad is None and status in ("pending", "computed", "current")
            if grad is not None:
                assert np.shape(grad) == node.shape
    for name, node_id in zip(("x", "y"), inputs):  # the row of the Hessian, complete at the end
        assert tr.status_at(node_id, tr.t_end) == "done"
        assert float(tr.grad_at(node_id, tr.t_end)) == pytest.approx(float(tr.grads[name]), rel=1e-12)
    assert [tr.status_at(n.id, tr.t_end) for n in tr.nodes].count("current") == 1
    ids = {n.id: i for i, n in enumerate(tr.nodes)}
    assert all(ids[p] < ids[n.id] for n in tr.nodes for p in n.parents)  # still topological


def test_hessian_vector_product_without_forming_the_hessian():
    program = "W = randn(3, 3)\nv = randn(3)\nloss = sum(tanh(W @ v) ** 2)\n"
    direction = {"W": np.ones((3, 3)), "v": np.arange(3.0)}
    hv = hessian_vector_product(program, 0, direction)
    names, f = as_function(program)
    _, inputs = build(program)
    values = [inputs[n].value for n in names]
    eps = 1e-5
    grad = ad.grad(f, argnums=(0, 1))
    plus = grad(*[v + eps * direction[n] for n, v in zip(names, values)])
    minus = grad(*[v - eps * direction[n] for n, v in zip(names, values)])
    for k, name in enumerate(names):
        np.testing.assert_allclose(hv[name], (plus[k] - minus[k]) / (2 * eps), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("program,wrt,message", [
    ("W = randn(2)\nz = sum(W * W)\n", "W", "scalar input"),
    ("x = 1.0\nz = [1.0, 2.0] * x\n", "x", "no gradient"),
    ("x = 1.0\ny = 2.0\nz = y * 3.0\n", "x", "does not depend"),
    ("x = 1.0\nz = x * x\n", "q", "not an input"),
    ("x = 1.0\ny = 2.0\nz = x + y\n", "x", "constant 1"),
])
def test_bad_requests_are_clear_errors(program, wrt, message):
    with pytest.raises(ad.AutodiffError, match=message):
        gradient_trace(program, 0, wrt)


def test_hessian_refuses_array_inputs():
    with pytest.raises(ad.AutodiffError, match="scalars"):
        program_hessian("W = randn(2)\nz = sum(W * W)\n", 0)

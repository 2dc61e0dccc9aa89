"""Every gallery example runs, and its gradients agree with finite differences; the CLI prints it."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import core as ad
from core.examples import load_examples
from core.language import as_function, build, run

EXAMPLES = load_examples()
ROOT = Path(__file__).resolve().parent.parent
KINKS = "Kinks: relu and a tied max"  # evaluated exactly at non-differentiable points, on purpose


def test_the_gallery_covers_what_a_course_needs():
    assert len(EXAMPLES) >= 12
    assert len({e.title for e in EXAMPLES}) == len(EXAMPLES)
    assert all(e.note for e in EXAMPLES)
    programs = "\n".join(e.program for e in EXAMPLES)
    for needed in ("solve(", "logdet(", "softmax(", "sigmoid(", "tanh(", "@", "**", "/", "a + a"):
        assert needed in programs, needed


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.title for e in EXAMPLES])
def test_example_gradients_match_finite_differences(example):
    trace = run(example.program)
    assert trace.backward_steps and trace.note is None
    names, f = as_function(example.program)
    _, inputs = build(example.program)
    values = [inputs[name].value for name in names]
    grads = ad.grad(f, argnums=tuple(range(len(values))))(*values)
    for name, g in zip(names, grads):
        np.testing.assert_allclose(trace.grads[name], g, rtol=1e-10, atol=1e-12)
    if example.title == KINKS:
        np.testing.assert_array_equal(trace.grads["x"], [0.0, 0.0, 1.5, 1.5])  # the documented conventions
    else:
        ad.check_grads(f, *values, rtol=1e-5, atol=1e-6)


def test_the_gallery_has_dynamic_programs():
    """Loops, a branch and a function, each showing what it is there for."""
    by_title = {e.title: e.program for e in EXAMPLES}
    rnn = run(by_title["An RNN through time: shared weights"])
    W = rnn.inputs["W"]
    assert rnn.contributions_expected(W) == 4  # one per step: the shared weight's fan-out through time
    assert [rnn.title(n.id) for n in rnn.nodes if n.name == "h" and n.op][-1] == "h (t=3)"
    gd = run(by_title["Gradient descent, differentiated: the learning rate's gradient"])
    A, c = np.array([[3.0, 0.5], [0.5, 1.0]]), np.array([1.0, -1.0])

    def loss_after_three_steps(lr):
        w = np.zeros(2)
        for _ in range(3):
            w = w - lr * (A @ w - c)
        return 0.5 * w @ A @ w - c @ w

    h = 1e-6
    assert float(gd.grads["lr"]) == pytest.approx(
        (loss_after_three_steps(0.2 + h) - loss_after_three_steps(0.2 - h)) / (2 * h), rel=1e-6)
    newton = run(by_title["Newton's method for √a"])
    assert float(newton.nodes[newton.output].value) == pytest.approx(math.sqrt(2), abs=1e-15)
    assert float(newton.grads["a"]) == pytest.approx(1 / (2 * math.sqrt(2)), rel=1e-9)
    branch = by_title["A branch: the graph follows the input's sign"]
    right, left = run(branch), run(branch.replace("x = 1.5", "x = -1.5"))
    assert {n.op for n in right.nodes if n.op} == {"multiply"} and "exp" in {n.op for n in left.nodes}
    assert float(left.grads["x"]) == pytest.approx(3 * math.exp(-1.5))
    mlp = run(by_title["A two-layer MLP with a layer function"])
    assert [f.label for f, _ in mlp.frames().values()] == ["layer(x, W1, b1)", "layer(h, W2, b2)"]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's KaTeX")
def test_every_formula_of_the_gallery_renders_in_katex():
    formulas = []
    for example in EXAMPLES:
        trace = run(example.program)
        for t in range(trace.t_end + 1):
            narration = trace.explain(t)
            formulas += list(narration.formulas) + [e for x in narration.expansions for e in x.entries]
    result = subprocess.run(["node", str(ROOT / "tests" / "katex_check.mjs")], input=json.dumps(formulas),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", result.stdout[:2000]
    assert len(formulas) > 500


def test_seed_example_is_the_seed_figure():
    trace = run(EXAMPLES[0].program)
    assert float(trace.grads["x"]) == 4.0 and float(trace.grads["y"]) == 2.0


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_cli_prints_forward_table_and_backward_steps():
    result = _cli(EXAMPLES[0].program)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Forward pass" in out and "Backward pass" in out
    assert "x̄ = 1 + 3 = 4 ✓" in out and "dz/dx = 4" in out  # the narrator's running sum


def test_cli_json_round_trips(tmp_path):
    program = tmp_path / "prog.txt"
    program.write_text("W = randn(2, 2)\nloss = sum(tanh(W) ** 2)\n")
    result = _cli(str(program), "--seed", "3", "--json")
    assert result.returncode == 0, result.stderr
    trace = ad.Trace.from_json(result.stdout)
    assert trace.seed == 3 and trace.program.startswith("W = randn")
    assert json.loads(result.stdout)["version"] == 2


def test_cli_reports_a_located_error():
    result = _cli("x = 1.0\ny = x +* 2")
    assert result.returncode == 1
    assert "line 2" in result.stderr.lower() and "^" in result.stderr

"""Every gallery example runs, and its gradients agree with finite differences; the CLI prints it."""

from __future__ import annotations

import json
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

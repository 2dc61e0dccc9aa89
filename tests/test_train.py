"""core.train: the optimisers against hand-written loops, iterate k's program, and every bound."""

from __future__ import annotations

import numpy as np
import pytest

import core as ad
from core.errors import AutodiffError
from core.examples import load_examples
from core.language import Limits, run
from core.train import TrainingLimits, program_with, train

QUADRATIC = "w = 0.0  # the parameter\nc = 3.0\nloss = (w - c) ** 2\n"
TWO = "a = 1.0\nb = -0.5\nloss = (a - 2 * b) ** 2 + sin(a) * b ** 2 + 0.1 * a ** 4\n"
MLP = next(e.program for e in load_examples() if "MLP with a layer" in e.title)


def python_two(a, b):
    return (a - 2 * b) ** 2 + ad.sin(a) * b ** 2 + 0.1 * a ** 4


def test_gradient_descent_is_the_hand_written_loop():
    training = train(QUADRATIC, wrt="w", steps=10, learning_rate=0.1)
    w, expected = 0.0, []
    for _ in range(10):
        expected.append((w - 3) ** 2)
        w = w - 0.1 * 2 * (w - 3)
    expected.append((w - 3) ** 2)
    np.testing.assert_allclose(training.losses, expected, rtol=1e-14)
    assert training.names == ("w",) and training.steps == 10 and training.note is None
    np.testing.assert_allclose(training.paths["w"][-1], w, rtol=1e-14)
    assert "c" not in training.paths


@pytest.mark.parametrize("method", ["gd", "momentum", "adam"])
def test_each_method_matches_a_hand_written_loop(method):
    training = train(TWO, method=method, steps=25, learning_rate=0.05, momentum=0.8, betas=(0.8, 0.99))
    params = [np.float64(1.0), np.float64(-0.5)]
    first, second = [0.0, 0.0], [0.0, 0.0]
    losses = []
    for t in range(1, 26):
        loss, grads = ad.value_and_grad(python_two, argnums=(0, 1))(*params)
        losses.append(float(loss))
        for i, g in enumerate(grads):
            g = float(g)
            if method == "gd":
                direction = g
            elif method == "momentum":
                first[i] = 0.8 * first[i] + g
                direction = first[i]
            else:
                first[i] = 0.8 * first[i] + 0.2 * g
                second[i] = 0.99 * second[i] + 0.01 * g * g
                direction = (first[i] / (1 - 0.8 ** t)) / (np.sqrt(second[i] / (1 - 0.99 ** t)) + 1e-8)
            params[i] = params[i] - 0.05 * direction
    losses.append(float(python_two(*params)))
    np.testing.assert_allclose(training.losses, losses, rtol=1e-12)
    np.testing.assert_allclose(training.paths["a"][-1], params[0], rtol=1e-12)
    assert training.losses[-1] < training.losses[0]


def test_the_mlp_learns_and_iterate_k_opens_as_a_program():
    training = train(MLP, wrt=("W1", "b1", "W2", "b2"), method="adam", steps=40, learning_rate=0.05)
    assert training.losses[-1] < 0.1 * training.losses[0]
    assert training.paths["W1"].shape == (41, 3, 2) and training.names == ("W1", "b1", "W2", "b2")
    text = training.program_at(37)
    assert text.startswith("def layer(x, W, b):") and "x = [0.5, -1.0]" in text  # untrained inputs as written
    trace = run(text)
    assert float(trace.nodes[trace.output].value) == training.losses[37]  # exactly: every float written in full
    again = run(MLP, values=training.inputs_at(37))
    assert float(again.nodes[again.output].value) == training.losses[37]
    np.testing.assert_array_equal(trace.grads["W1"], again.grads["W1"])
    assert training.program_at(0) == MLP  # the literals written back as they were


def test_program_with_keeps_the_rest_of_the_text_and_is_bounded():
    assert program_with(QUADRATIC, {"w": 2.5}) == "w = 2.5  # the parameter\nc = 3.0\nloss = (w - c) ** 2\n"
    text = "W = randn(2, 2)\nloss = sum(W)\n"
    assert program_with(text, {"W": np.eye(2)}) == "W = [[1.0, 0.0], [0.0, 1.0]]\nloss = sum(W)\n"
    with pytest.raises(AutodiffError, match="values="):
        program_with("W = randn(40, 40)\nloss = sum(W)\n", {"W": np.random.default_rng(0).standard_normal((40, 40))})
    with pytest.raises(AutodiffError, match="no input"):
        program_with(text, {"V": 1.0})


def test_a_diverging_training_stops_where_it_happened():
    training = train("x = 3.0\nloss = x ** 4", steps=50, learning_rate=1.0)
    assert training.note is not None and "stopped at iterate" in training.note and "learning rate" in training.note
    assert len(training.paths["x"]) == len(training.losses) < 51
    assert np.all(np.isfinite(training.losses))


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0}, "steps must be"),
    ({"steps": 10_001}, "steps must be"),
    ({"steps": 2.5}, "steps must be"),
    ({"method": "sgd"}, "method must be"),
    ({"learning_rate": 0.0}, "above 0"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"momentum": 1.0}, "momentum"),
    ({"wrt": ("w", "nope")}, "'nope' is not one of them"),
    ({"wrt": ()}, "train which inputs"),
    ({"steps": 500, "training_limits": TrainingLimits(max_operations=1e7)}, "at most"),
    ({"steps": 500, "training_limits": TrainingLimits(max_kept=100)}, "numbers"),
])
def test_settings_and_bounds_are_checked_before_any_step(kwargs, message):
    with pytest.raises(AutodiffError, match=message):
        train(QUADRATIC, **{"wrt": "w", **kwargs})


def test_training_needs_one_number_and_a_valid_program():
    with pytest.raises(AutodiffError, match="one number"):
        train("v = [1.0, 2.0]\ny = v * 2", steps=3)
    with pytest.raises(AutodiffError, match="unknown name"):
        train("x = 1.0\ny = z", steps=3)
    with pytest.raises(AutodiffError, match="operations"):
        train("A = randn(1000, 1000)\nloss = sum(A @ A @ A @ A)", steps=3, limits=Limits())


def test_a_training_pickles_for_the_job_workers():
    import pickle

    training = train(QUADRATIC, wrt="w", steps=3)
    back = pickle.loads(pickle.dumps(training))
    np.testing.assert_array_equal(back.losses, training.losses)
    assert back.program_at(2) == training.program_at(2)


def test_a_branchy_program_trains_across_its_branches():
    text = "x = 2.0\nif x > 1:\n    y = (x - 1) ** 2 + 1\nelse:\n    y = 2 * (x - 1) ** 2 + 1\nloss = y\n"
    training = train(text, steps=30, learning_rate=0.2)
    assert abs(training.paths["x"][-1] - 1.0) < 1e-3 and training.note is None

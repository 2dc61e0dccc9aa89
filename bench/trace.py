"""What recording a Trace costs on top of a plain gradient. Not a test: it prints figures.

    python bench/trace.py

Target (the Trace issue): recording adds at most 1.5× to a plain ``grad`` call. Both sides are
timed in this process on the same graphs: ``ad.grad(f)(x)`` against ``ad.trace(f, x)`` (which runs
the same forward pass, the same backward pass with every contribution recorded, and builds the
frozen node and step records), and for programs ``language.build`` + ``backward`` against
``language.run``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import core as ad  # noqa: E402
from bench.ui import median_ms as ui_median_ms  # noqa: E402
from core.backward import backward  # noqa: E402
from core.examples import load_examples  # noqa: E402
from core.language import build, run  # noqa: E402

REPEATS = 7


def median_ms(fn) -> float:
    fn()  # warm-up
    return ui_median_ms(fn, REPEATS)


def scalar_chain(x):
    for _ in range(2500):
        x = ad.sin(x) * 0.01 + x * 0.99
    return x


def matrix_mix(X):
    rng = np.random.default_rng(0)
    W, C = rng.standard_normal((4, 4)) * 0.5, rng.standard_normal((4, 4))
    for _ in range(250):
        X = ad.tanh(X @ W + C) * 0.9
    return ad.sum(X)


def main() -> None:
    rows = [
        ("W1 scalar chain, 10,000 ops", lambda: ad.grad(scalar_chain)(0.5), lambda: ad.trace(scalar_chain, 0.5)),
        ("4×4 matrix mix, 1,001 ops", lambda: ad.grad(matrix_mix)(np.eye(4)), lambda: ad.trace(matrix_mix, np.eye(4))),
    ]
    for example in load_examples():
        if example.title.startswith(("Two-layer MLP", "Gaussian", "The seed")):
            program = example.program

            def plain(program=program):
                out, inputs = build(program)
                backward(out, list(inputs.values()))

            rows.append((f"program: {example.title}", plain, lambda program=program: run(program)))
    print(f"{'graph':<48}{'grad ms':>10}{'trace ms':>10}{'ratio':>8}  target ≤ 1.5×")
    worst = 0.0
    for label, plain, recorded in rows:
        a, b = median_ms(plain), median_ms(recorded)
        worst = max(worst, b / a)
        print(f"{label:<48}{a:>10.2f}{b:>10.2f}{b / a:>7.2f}×  {'PASS' if b / a <= 1.5 else 'MISS'}")
    print(f"worst ratio {worst:.2f}× ({'PASS' if worst <= 1.5 else 'MISS'})")


if __name__ == "__main__":
    main()

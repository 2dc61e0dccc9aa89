"""Calibrate the language's time budget: its estimate (operations) against measured seconds.

    python -m bench.calibrate [--repeat 3]

For each program below (each stresses one kind of work: elementwise ops on big arrays, BLAS,
LAPACK, many small nodes, loops), prints the abstract pass's estimate (``Program.operations``),
the best of ``--repeat`` measured times of ``core.language.run`` (parse, build, and the recorded
backward pass, i.e. the whole ``Trace``), and nanoseconds per operation. The constants in
``core/language/budget.py`` are chosen so that an operation is at most about a nanosecond of
this machine's work (ratio ≤ ~1) for every kind, so the budget (``Limits.max_operations``) reads
as seconds. Not a test: timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import time

from core.language import Limits, parse, run

UNBOUNDED = Limits(max_operations=1e15, max_nodes=50_000, max_steps=10**7)

PROGRAMS = {
    "tanh 10^6": "x = randn(1000, 1000)\ny = sum(tanh(x))",
    "chain of 6 elementwise, 10^6": "x = randn(1000, 1000)\ny = sum(exp(sin(x) * x + x) / (1 + x * x))",
    "fan-out 10^6": "x = randn(1000, 1000)\nh = x * x\ny = sum(h + h + h + h)",
    "matmul 1000": "A = randn(1000, 1000)\nB = randn(1000, 1000)\ny = sum(A @ B)",
    "matmul 300, x10": "A = randn(300, 300)\nh = A\nfor i in range(10):\n    h = tanh(A @ h)\ny = sum(h)",
    "solve 600, 600 rhs": "A = spd(600)\nB = randn(600, 600)\ny = sum(solve(A, B))",
    "inv 600": "A = spd(600)\ny = sum(inv(A))",
    "logabsdet 669 + tanh 10^6": "A = randn(669, 669)\nx = randn(1000, 1000)\ny = logabsdet(A) + sum(tanh(x))",
    "logdet 300, x20": "A = spd(300)\ns = 0.0\nfor i in range(20):\n    s = s + logdet(A * (1 + i))\ny = s",
    "cholesky 800": "A = spd(800)\ny = sum(cholesky(A))",
    "svdvals 500": "A = randn(500, 500)\ny = sum(svdvals(A))",
    "eigvalsh 500": "A = spd(500)\ny = sum(eigvalsh(A))",
    "einsum 400": "A = randn(400, 400)\ny = sum(einsum('ij,jk->ik', A, A))",
    "scalar chain 1200 nodes": "x = 0.5\n" + "".join("x = sin(x) * 0.9 + x\n" for _ in range(300)) + "y = x",
    "scalar loop 4000 nodes": "x = 0.5\nfor i in range(1000):\n    x = sin(x) * 0.9 + x\ny = x",
    "vector loop 1000 x 10^4": "x = randn(10000)\nfor i in range(250):\n    x = tanh(x) * 0.5 + x\ny = sum(x)",
    "mlp in a function, x50": ("W1 = randn(64, 32)\nW2 = randn(1, 64)\nX = randn(32, 256)\n"
                               "def layer(W, h):\n    return tanh(W @ h)\ns = 0.0\nfor i in range(50):\n"
                               "    s = s + sum(layer(W2, layer(W1, X)))\ny = s"),
}


def best_seconds(text: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run(text, limits=UNBOUNDED)
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'program':32} {'operations':>11} {'seconds':>8} {'ns/op':>6}")
    for name, text in PROGRAMS.items():
        operations = parse(text, UNBOUNDED).operations
        seconds = best_seconds(text, args.repeat)
        print(f"{name:32} {operations:11.2e} {seconds:8.3f} {seconds / operations * 1e9:6.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Generated programs of a chosen size, for the benchmarks and the big-graph tests."""

from __future__ import annotations


def chain_program(statements: int) -> str:
    """A scalar program of 1 + 4·statements nodes (sin, ×, + and a constant per line)."""
    lines = ["x = 0.5"] + [f"h{i} = sin({'x' if i == 1 else f'h{i - 1}'}) * 0.9 + {'x' if i == 1 else f'h{i - 1}'}"
                           for i in range(1, statements + 1)]
    return "\n".join(lines) + "\n"


def neuron_layer_program(inputs: int, neurons: int) -> str:
    """micrograd-style: scalar weights, a layer of tanh neurons, a squared loss (a wide graph)."""
    lines = [f"x{i} = {0.05 * (i + 1):.2f}" for i in range(inputs)]
    lines += [f"w{j}_{i} = {((i * 7 + j * 3) % 11 - 5) / 5:.2f}" for j in range(neurons) for i in range(inputs)]
    lines += [f"n{j} = tanh({' + '.join(f'w{j}_{i} * x{i}' for i in range(inputs))})" for j in range(neurons)]
    lines.append("loss = " + " + ".join(f"n{j} ** 2" for j in range(neurons)))
    return "\n".join(lines) + "\n"


def largest_program() -> str:
    """About as many graph nodes as the language allows (5,000), in 500 lines: a deep chain whose
    every line also reuses the input (the shape Graphviz cannot lay out: the page falls back)."""
    body = "".join(f"a{i}=sin({'x' if i == 0 else f'a{i - 1}'})*x+x*x-cos(x)*x+x/2\n" for i in range(499))
    return "x = 0.5\n" + body


def costliest_program() -> str:
    """About the most work the language's limits let through, for the page: a two-layer MLP in a
    function, called in a loop run as many times as ``parse`` accepts (found by bisection, so it
    follows the limits when they change). Many mid-sized array nodes in frames are what costs the
    page most per operation the budget counts (running, the layout and the step view's payload):
    the gallery-sized version, 50 times round the loop, takes about 5 s to open."""
    from core.errors import AutodiffError
    from core.language import parse

    def program(loops: int) -> str:
        return ("W1 = randn(64, 32)\nW2 = randn(1, 64)\nX = randn(32, 256)\n"
                "def layer(W, h):\n    return tanh(W @ h)\n"
                f"s = 0.0\nfor i in range({loops}):\n    s = s + sum(layer(W2, layer(W1, X)))\ny = s\n")

    def allowed(loops: int) -> bool:
        try:
            parse(program(loops))
        except AutodiffError:
            return False
        return True

    low, high = 1, 2  # allowed(low), not allowed(high)
    while allowed(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if allowed(middle) else (low, middle)
    return program(low)

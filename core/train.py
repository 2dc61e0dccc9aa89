"""Training a program: gradient descent (plain, momentum, Adam) on some of its inputs, for a
bounded number of steps, keeping the loss and the inputs' values at every step.

    training = train(text, wrt=("W1", "b1", "W2", "b2"), method="adam", steps=100, learning_rate=0.05)
    training.losses                 # the loss at iterate 0 (the program as written), 1, ..., steps
    training.paths["W1"][37]        # W1 after 37 steps
    run(training.program_at(37))    # step 37's full forward and backward pass, as text (exact)
    run(text, values=training.inputs_at(37))   # the same without writing the numbers into the text

Each step evaluates the program through ``language.as_function`` (the very interpreter the step
view runs) and its gradient with ``value_and_grad``. The work is bounded before the first step:
the program's abstract estimate (``Program.operations``, forward and backward) times the steps
must fit ``TrainingLimits.max_operations``, and the values kept, ``max_kept`` numbers. A step that
makes NaN or infinity (a learning rate too large) stops the training where it happened, with the
language's located message as the ``note``; what was computed so far is kept.

No Streamlit, no plotly: the page draws the curves from ``losses`` and ``paths``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import language
from .api import value_and_grad
from .errors import AutodiffError
from .var import raw

METHODS = ("gd", "momentum", "adam")


@dataclass(frozen=True)
class TrainingLimits:
    max_steps: int = 1_000
    max_operations: float = 3e9  # about 3 s of this machine's work, like the language's budget
    max_kept: int = 2_000_000  # numbers kept: (steps + 1) × the trained inputs' entries


DEFAULT_TRAINING_LIMITS = TrainingLimits()


@dataclass(frozen=True)
class Training:
    program: str
    seed: int
    names: tuple  # the inputs trained, in the program's order
    method: str
    learning_rate: float
    losses: np.ndarray  # losses[k]: the loss at iterate k; k = 0 is the program as written
    paths: dict  # name -> array of shape (len(losses), *input shape): its value at each iterate (read-only)
    note: str | None = None  # why the training stopped before its last step, if it did

    @property
    def steps(self) -> int:
        """The steps taken: the last iterate's number."""
        return len(self.losses) - 1

    def inputs_at(self, k: int) -> dict:
        """The trained inputs' values at iterate ``k`` (for ``run(program, values=...)``)."""
        self._check(k)
        return {name: self.paths[name][k] for name in self.names}

    def program_at(self, k: int, limits: language.Limits = language.DEFAULT_LIMITS) -> str:
        """The program's text with the trained inputs' literals replaced by their values at
        iterate ``k``, written exactly (``repr`` of each float), so that running it gives
        ``losses[k]``. Refused if the text would pass the language's length limit."""
        return program_with(self.program, self.inputs_at(k), limits)

    def _check(self, k) -> None:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= self.steps:
            raise AutodiffError(f"there is no iterate {k!r}: the training has iterates 0 … {self.steps}")


def program_with(text: str, values: dict, limits: language.Limits = language.DEFAULT_LIMITS) -> str:
    """``text`` with the right-hand side of each input in ``values`` replaced by that value, as a
    number or a (nested) list of numbers; comments, spacing and every other line are kept."""
    spans, found = [], language.input_spans(text) if values else {}
    for name, value in values.items():
        span = found.get(name)
        if span is None:
            raise AutodiffError(f"the program has no input {name!r} bound to a literal")
        array = np.asarray(raw(value), dtype=np.float64)
        spans.append((span, repr(float(array)) if array.ndim == 0 else repr(array.tolist())))
    for (start, end), literal in sorted(spans, reverse=True):
        text = text[:start] + literal + text[end:]
        if len(text) > limits.max_chars:
            raise AutodiffError(f"these values make the program {len(text):,} characters long; the limit is "
                                f"{limits.max_chars:,}: run it with values= instead of writing them in")
    return text


def train(program, seed: int = 0, wrt=None, *, method: str = "gd", steps: int = 100, learning_rate: float = 0.1,
          momentum: float = 0.9, betas: tuple = (0.9, 0.999), epsilon: float = 1e-8,
          limits: language.Limits = language.DEFAULT_LIMITS,
          training_limits: TrainingLimits = DEFAULT_TRAINING_LIMITS) -> Training:
    """Minimise the program's output over the inputs ``wrt`` (default: all of them) for ``steps``
    steps of ``method``: "gd" (w ← w − lr·g), "momentum" (v ← μv + g, w ← w − lr·v) or "adam"
    (Kingma & Ba 2015, with bias correction)."""
    parsed = program if isinstance(program, language.Program) else language.parse(program, limits)
    names = _checked_settings(parsed, wrt, method, steps, learning_rate, momentum, betas, epsilon, training_limits)
    output, inputs = language.build(parsed, seed, limits)
    if output.shape != ():
        raise AutodiffError(f"the output has shape {output.shape}; training needs one number: wrap it in sum(...) "
                            "or mean(...)")
    all_names = parsed.input_names
    values = [np.array(raw(inputs[n]), dtype=np.float64) for n in all_names]
    positions = tuple(all_names.index(n) for n in names)
    _, function = language.as_function(parsed, seed, limits)
    loss_and_grads = value_and_grad(function, argnums=positions)
    state = [np.zeros_like(values[p]) for p in positions], [np.zeros_like(values[p]) for p in positions]
    losses, paths, note = [], {n: [values[p].copy()] for n, p in zip(names, positions)}, None
    for k in range(steps + 1):
        try:
            if k == steps:  # the last iterate needs its loss only
                losses.append(float(raw(function(*values))))
                break
            loss, grads = loss_and_grads(*values)
        except AutodiffError as exc:
            note = f"stopped at iterate {k}: {exc}" + (" (a smaller learning rate?)" if k else "")
            break
        losses.append(float(raw(loss)))
        for i, (p, g) in enumerate(zip(positions, grads)):
            values[p] = values[p] - learning_rate * _direction(method, np.asarray(raw(g)), i, k + 1, state,
                                                               momentum, betas, epsilon)
            paths[names[i]].append(values[p].copy())
    kept = len(losses)
    return Training(parsed.text, seed, names, method, float(learning_rate), np.array(losses),
                    {n: np.array(path[:kept]) for n, path in paths.items()}, note)


def _direction(method: str, g, i: int, t: int, state: tuple, momentum: float, betas: tuple, epsilon: float):
    """The step's direction for parameter ``i`` at step ``t`` (1-based), updating its state."""
    first, second = state
    if method == "gd":
        return g
    if method == "momentum":
        first[i] = momentum * first[i] + g
        return first[i]
    beta1, beta2 = betas
    first[i] = beta1 * first[i] + (1 - beta1) * g
    second[i] = beta2 * second[i] + (1 - beta2) * g * g
    return (first[i] / (1 - beta1 ** t)) / (np.sqrt(second[i] / (1 - beta2 ** t)) + epsilon)


def _checked_settings(program, wrt, method, steps, learning_rate, momentum, betas, epsilon, limits) -> tuple:
    """The trained inputs' names, after every setting and bound was checked (nothing has run)."""
    if method not in METHODS:
        raise AutodiffError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= limits.max_steps:
        raise AutodiffError(f"steps must be a whole number from 1 to {limits.max_steps:,}, not {steps!r}")
    for name, value, low, high in (("learning_rate", learning_rate, 0, math.inf), ("momentum", momentum, 0, 1),
                                   ("betas[0]", betas[0], 0, 1), ("betas[1]", betas[1], 0, 1),
                                   ("epsilon", epsilon, 0, math.inf)):
        if not isinstance(value, (int, float, np.floating)) or not (low <= value < high and math.isfinite(value)):
            raise AutodiffError(f"{name} must be a number in [{low}, {high}), not {value!r}")
    if learning_rate == 0:
        raise AutodiffError("learning_rate must be above 0")
    inputs = program.input_names
    names = inputs if wrt is None else tuple([wrt] if isinstance(wrt, str) else wrt)
    unknown = [n for n in names if n not in inputs]
    if unknown or not names:
        raise AutodiffError(f"train which inputs? The program's inputs are {', '.join(inputs) or 'none'}"
                            + (f"; {unknown[0]!r} is not one of them" if unknown else ""))
    names = tuple(n for n in inputs if n in names)  # the program's order, each once
    work = steps * program.operations
    if work > limits.max_operations:
        most = int(limits.max_operations // max(program.operations, 1))
        raise AutodiffError(f"{steps:,} steps of this program need about {work:.1e} operations; training may use "
                            f"{limits.max_operations:.1e}: at most {most:,} steps")
    kept = (steps + 1) * sum(math.prod(program.input_shapes[n]) for n in names)
    if kept > limits.max_kept:
        raise AutodiffError(f"keeping every step's values would take {kept:,} numbers; the limit is "
                            f"{limits.max_kept:,}: fewer steps or fewer inputs")
    return names

"""One gradient checker: the engine's gradient against central finite differences of the same
function, as a report (the gradient-check tab, the "my gradient" claims) or raising
(``check_grads``, for tests and notebooks).

Central differences, ``(f(x + εv) − f(x − εv)) / 2ε``, have error O(ε²) from truncation and
O(δ/ε) from rounding (δ ≈ 1e-16 · |f|), so ε = 1e-6 leaves about 1e-10 · |f| in double
precision — far below a wrong VJP (a test shows that 0.1% off is caught). Small inputs are
checked entry by entry (2 evaluations each), big ones along random directions ``v``: ⟨∇f, v⟩ must
equal the directional derivative, which tests the whole gradient at once (the idea of autograd's
``check_grads``; Nocedal & Wright, *Numerical Optimization*, section 8.1).

**One tolerance law**, for every comparison of a gradient with another (``allowed``)::

    |engine − numeric| ≤ atol · max(1, |f|) + rtol · max(|engine|, |numeric|)

The absolute part grows with the output ``|f|``: rounding in the differences does, and a fixed
absolute tolerance would fail correct gradients of large outputs.

Program-level checks (``check_program``) evaluate the program through ``language.as_function``, so
the differences run the very program whose gradient the engine computed; a problem of the
*program* (it does not build, its output is not a scalar) is the report's ``error``, not an
exception. A request that cannot be met (bad options) raises ``CheckError``.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

from .api import grad
from .errors import AutodiffError, ExpressionError, GradientCheckError
from .ops import sum as ad_sum
from .var import as_value, raw

RTOL = 1e-5
ATOL = 1e-7  # multiplied by max(1, |f|)
SYMMETRIC_EXPLANATION = (
    "A covariance Σ can only move symmetrically, so only symmetric perturbations are meaningful. The "
    "engine's gradient G is the unconstrained, entrywise one (for logdet Σ it is Σ⁻ᵀ); a symmetric step "
    "moves entries (i, j) and (j, i) together, so the finite difference along E_ij + E_ji equals "
    "G_ij + G_ji, and it is compared with G + Gᵀ − diag(G). The seed project's Gaussian demo compares "
    "the entrywise gradient with entrywise differences; both comparisons pass for a correct engine."
)


class CheckError(AutodiffError):
    """A check that cannot be run as asked; the message says what to change."""


def allowed(engine, numeric, output_value: float, rtol: float = RTOL, atol: float = ATOL) -> np.ndarray:
    """The tolerance law: how far ``engine`` may be from ``numeric`` (entrywise)."""
    scale = np.maximum(np.abs(engine), np.abs(numeric))
    return atol * max(1.0, abs(float(output_value))) + rtol * scale


def central_difference(f, args, index: int, v, eps: float) -> float:
    """(f(x + εv) − f(x − εv)) / 2ε along direction ``v`` of argument ``index``."""
    plus, minus = list(args), list(args)
    plus[index] = args[index] + eps * v
    minus[index] = args[index] - eps * v
    return (_scalar(f(*plus)) - _scalar(f(*minus))) / (2.0 * eps)


def _scalar(out) -> float:
    value = raw(out)
    if np.shape(value) != ():
        raise AutodiffError(f"the function must return a scalar here, not shape {np.shape(value)}")
    return float(value)


def _scalarized(f, out_weights):
    """f contracted with fixed random weights, so every output entry takes part in the check."""

    def contracted(*args):
        out = f(*args)
        if np.shape(raw(out)) == ():
            return out
        key = np.shape(raw(out))
        if key not in out_weights:
            out_weights[key] = np.random.default_rng(len(out_weights) + 7).standard_normal(key)
        return ad_sum(out * out_weights[key])

    return contracted


# ---- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class InputCheck:
    """One input's check. ``engine``, ``numeric``, ``abs_error``, ``allowed`` have the input's shape
    (entrywise) or one entry per random direction (``method == "directions"``)."""

    name: str
    shape: tuple
    method: str  # "entrywise", "symmetric" (entrywise along E_ij + E_ji) or "directions"
    reason: str  # why this method, in a sentence for the app
    gradient: np.ndarray  # the engine's gradient, as computed
    engine: np.ndarray  # what is compared: gradient entries, G + Gᵀ − diag(G), or ⟨G, v⟩ per direction
    numeric: np.ndarray  # central finite differences of the same quantity
    abs_error: np.ndarray
    rel_error: np.ndarray  # |error| / max(|engine|, |numeric|)
    allowed: np.ndarray  # the tolerance law (``allowed``) for each compared pair
    evaluations: int
    message: str = ""  # set when the program failed at a perturbed point: nothing was compared

    @property
    def ok(self) -> np.ndarray:
        return self.abs_error <= self.allowed  # NaN (a step outside the domain) is not ok

    @property
    def passed(self) -> bool:
        return not self.message and bool(np.all(self.ok))

    @property
    def max_abs_error(self) -> float:
        return float(np.max(self.abs_error)) if self.abs_error.size else math.nan

    @property
    def max_rel_error(self) -> float:
        return float(np.max(self.rel_error)) if self.rel_error.size else math.nan

    @property
    def labels(self) -> tuple:
        """``W[0, 1]`` per entry (``x`` for a scalar), or ``direction 1`` per direction, in ``.ravel()`` order."""
        if self.method == "directions":
            return tuple(f"direction {k + 1}" for k in range(self.engine.size))
        return tuple(self.name + (f"[{', '.join(map(str, i))}]" if i else "") for i in np.ndindex(self.shape))


@dataclass(frozen=True)
class CheckSettings:
    """How the check was run: the tolerances, and when an input is checked entrywise."""

    symmetric: bool
    max_entries: int
    directions: int
    eps: float
    rtol: float
    atol: float
    atol_used: float  # atol · max(1, |output|): the absolute part of the tolerance law
    seed: int
    output_value: float  # |f| scales the absolute tolerance


@dataclass(frozen=True, eq=False)
class GradientCheckReport:
    """Every input's check, in the program's order, and ``error`` when there was nothing to check."""

    inputs: tuple  # of InputCheck
    output_name: str
    output_value: float
    settings: CheckSettings | None  # None when nothing was checked (``error``)
    evaluations: int
    seconds: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(check.passed for check in self.inputs)


def _compare(engine, numeric, s: CheckSettings) -> dict:
    engine, numeric = np.asarray(engine, dtype=float), np.asarray(numeric, dtype=float)
    abs_error = np.abs(engine - numeric)
    scale = np.maximum(np.abs(engine), np.abs(numeric))
    return {"engine": engine, "numeric": numeric, "abs_error": abs_error,
            "rel_error": abs_error / np.maximum(scale, 1e-300),
            "allowed": allowed(engine, numeric, s.output_value, s.rtol, s.atol)}


def _plan(value, symmetric: bool, s: CheckSettings, budget: int) -> tuple:
    """(method, reason, evaluations): entrywise when the input is small and the budget allows it."""
    size = int(np.size(value))
    cost = value.shape[0] * (value.shape[0] + 1) if symmetric else 2 * size
    if size <= s.max_entries and cost <= budget:
        if symmetric:
            return "symmetric", f"{size} entries, perturbed in symmetric pairs (i, j) and (j, i)", cost
        return "entrywise", f"{size} entr{'y' if size == 1 else 'ies'}, each perturbed on its own", cost
    count = max(1, min(s.directions, budget // 2))
    why = (f"{size:,} entries > max_entries={s.max_entries}" if size > s.max_entries
           else f"entrywise would need {cost:,} evaluations, more than the budget left")
    return "directions", f"{why}: checked along {count} random{' symmetric' * symmetric} directions", 2 * count


def _entrywise(f: Callable, values: tuple, index: int, eps: float, symmetric: bool) -> np.ndarray:
    shape = np.shape(values[index])
    numeric = np.empty(shape)
    for position in np.ndindex(shape):
        mirror = position[::-1]
        if symmetric and position[0] > position[1]:
            numeric[position] = numeric[mirror]  # row-major order reached (j, i) first: one step moved both
            continue
        step = np.zeros(shape)
        step[position] = step[mirror if symmetric else position] = 1.0
        numeric[position] = central_difference(f, values, index, step, eps)
    return numeric


def _check_input(f: Callable, values: tuple, name: str, index: int, gradient, s: CheckSettings,
                 budget: int) -> InputCheck:
    value = values[index]
    symmetric = s.symmetric and np.ndim(value) == 2 and value.shape[0] == value.shape[1] \
        and bool(np.allclose(value, value.T))
    method, reason, evaluations = _plan(value, symmetric, s, budget)
    made = partial(InputCheck, name, np.shape(value), method, reason, gradient, evaluations=evaluations)
    try:
        if method == "directions":  # ⟨G, v⟩ against the directional difference: the whole gradient at once
            rng = np.random.default_rng([s.seed, index])
            engine, numeric = [], []
            for _ in range(evaluations // 2):  # one direction at a time: a 10⁶-entry input stays cheap
                v = rng.standard_normal(np.shape(value))
                v = (v + v.T) / 2 if symmetric else v
                engine.append(float(np.sum(gradient * v)))
                numeric.append(central_difference(f, values, index, v, s.eps))
        else:
            numeric = _entrywise(f, values, index, s.eps, symmetric)
            engine = gradient + gradient.T - np.diag(np.diag(gradient)) if symmetric else gradient
        compared = _compare(engine, numeric, s)
        undefined = not np.isfinite(compared["abs_error"]).all()
        return made(**compared, message="NaN or inf: a step of ±ε leaves the domain, or the gradient is infinite"
                    if undefined else "")
    except AutodiffError as exc:
        nan = np.full(np.shape(value), np.nan)
        return made(**_compare(nan, nan, s), message=f"the program fails at a perturbed point: {exc.message}")


def check_function(f: Callable, values: tuple, names: tuple, *, gradients=None, output_name: str = "f",
                   symmetric: bool = False, max_entries: int = 400, directions: int = 8, eps: float = 1e-6,
                   rtol: float = RTOL, atol: float = ATOL, max_evaluations: int = 4000,
                   time_budget: float = 2.0, seed: int = 0) -> GradientCheckReport:
    """The gradient of a scalar function ``f(*values)`` with respect to each of ``values`` against
    central finite differences; ``gradients`` replaces the engine's (what a claim or a test
    offers instead).

    Inputs of at most ``max_entries`` entries are checked entrywise (2 evaluations per entry) while
    the budget lasts: ``max_evaluations`` evaluations in all, fewer if one evaluation is slow enough
    that they would exceed ``time_budget`` seconds. Other inputs are checked along ``directions``
    random directions v (⟨G, v⟩ against the directional difference), at least one each.
    """
    _check_options(max_entries, directions, max_evaluations, eps, time_budget)
    started = time.perf_counter()
    with np.errstate(all="ignore"):
        timer = time.perf_counter()
        output_value = float(_scalar(f(*values)))
        once = time.perf_counter() - timer
        if gradients is None:
            gradients = grad(f, argnums=tuple(range(len(values))))(*values)
            gradients = gradients if isinstance(gradients, tuple) else (gradients,)
        s = CheckSettings(bool(symmetric), max_entries, directions, eps, rtol, atol,
                          atol * max(1.0, abs(output_value)), seed, output_value)
        budget = max_evaluations if math.isinf(time_budget) else \
            min(max_evaluations, int(time_budget / max(once, 1e-6)))
        checks = []
        for index, name in enumerate(names):
            checks.append(_check_input(f, values, name, index, np.asarray(raw(gradients[index]), dtype=float), s,
                                       budget))
            budget = max(budget - checks[-1].evaluations, 0)
    return GradientCheckReport(tuple(checks), output_name, output_value, s,
                               sum(check.evaluations for check in checks), time.perf_counter() - started)


def _check_options(max_entries, directions, max_evaluations, eps, time_budget) -> None:
    for label, value, low in (("max_entries", max_entries, 0), ("directions", directions, 1),
                              ("max_evaluations", max_evaluations, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise CheckError(f"{label} must be a whole number ≥ {low}, not {value!r}")
    if not isinstance(eps, numbers.Real) or not 0 < eps < 1:
        raise CheckError(f"eps must be a small positive number, like 1e-6, not {eps!r}")
    if not isinstance(time_budget, numbers.Real) or not 0 < time_budget <= math.inf:
        raise CheckError(f"time_budget must be a positive number of seconds, not {time_budget!r}")


# ---- a program's check -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramFunction:
    """A built program as a function: its inputs' names and values, its scalar output, and
    ``function(*values)`` (``as_function(check_finite=False)``: domain edges give NaN, not errors)."""

    names: tuple
    values: tuple
    output_name: str
    output_value: float
    function: Callable


def program_function(program, seed: int, why_scalar: str) -> ProgramFunction:
    """A program with a scalar output as a function of its inputs (``CheckError`` otherwise)."""
    from .language import Program, as_function, build, parse

    parsed = program if isinstance(program, Program) else parse(program)
    output, inputs = build(parsed, seed)
    names, function = as_function(parsed, seed, check_finite=False)
    if not names:
        raise CheckError("the program has no inputs: bind a name to a number, like x = 1.0")
    output_name = parsed.output_name or "output"
    if np.shape(raw(output)) != ():
        raise CheckError(f"the output {output_name} has shape {np.shape(raw(output))}: {why_scalar}; "
                         "make it a scalar, like sum(...) or mean(...)")
    return ProgramFunction(names, tuple(raw(inputs[name]) for name in names), output_name, float(raw(output)),
                           function)


def check_program(program, seed: int = 0, *, grads: Mapping | None = None, **options) -> GradientCheckReport:
    """The engine's gradient of every input of a program against central finite differences of the
    same program (``options`` as for ``check_function``). ``grads`` replaces the engine's gradient
    of the inputs it names: the seam that shows the checker failing a wrong gradient."""
    try:
        c = program_function(program, seed, "only a scalar output has a gradient to check")
        with np.errstate(all="ignore"):
            engine = grad(c.function, argnums=tuple(range(len(c.names))))(*c.values)
    except AutodiffError as exc:
        where = f"line {exc.line}: " if isinstance(exc, ExpressionError) and exc.line else ""
        return GradientCheckReport((), "", math.nan, None, 0, 0.0, error=where + exc.message)
    engine = engine if isinstance(engine, tuple) else (engine,)
    for name, value in (grads or {}).items():
        if name not in c.names:
            raise CheckError(f"there is no input named {name!r}; the inputs are {', '.join(c.names)}")
        index = c.names.index(name)
        if np.shape(value) != np.shape(c.values[index]):
            raise CheckError(f"the gradient given for {name} has shape {np.shape(value)}, "
                             f"but {name} has shape {np.shape(c.values[index])}")
        engine = engine[:index] + (value,) + engine[index + 1:]
    return check_function(c.function, c.values, c.names, gradients=engine, output_name=c.output_name, **options)


# ---- the raising form -------------------------------------------------------------------------------


def check_grads(f, *args, order: int = 1, directions: int = 3, eps: float = 1e-6,
                rtol: float = RTOL, atol: float = ATOL, seed: int = 0) -> None:
    """Raise ``GradientCheckError`` unless the VJPs of ``f`` agree with finite differences.

    Every positional argument is checked along ``directions`` random directions, by the same
    checker and tolerance law as the reports. ``order=2`` also checks the gradient of the gradient
    (through nested ``grad``) the same way, and so on. A non-scalar output is contracted with fixed
    random weights first, so that every entry takes part.
    """
    if order < 1:
        raise AutodiffError("check_grads needs order >= 1")
    values = tuple(as_value(a, f"argument {i}") for i, a in enumerate(args))
    names = tuple(f"argument {i}" for i in range(len(values)))
    rng = np.random.default_rng(seed)
    fn = _scalarized(f, {})
    for level in range(1, order + 1):
        report = check_function(fn, values, names, max_entries=0, directions=directions, eps=eps, rtol=rtol,
                                atol=atol, max_evaluations=10**9, time_budget=math.inf, seed=seed)
        failed = next((check for check in report.inputs if not check.passed), None)
        if failed is not None:
            raise GradientCheckError(_failure(f, level, failed, report.settings))
        if level < order:
            fn = _next_order(fn, rng, [np.shape(v) for v in values])


def _next_order(fn, rng, shapes):
    """The scalar function ⟨∇fn(x), w⟩ with random w: its gradient is a Hessian-vector product."""
    weights = [rng.standard_normal(s) for s in shapes]

    def directional_gradient(*args):
        grads = grad(fn, argnums=tuple(range(len(args))))(*args)
        total = 0.0
        for g, w in zip(grads, weights):
            total = total + ad_sum(g * w)
        return total

    return directional_gradient


def _failure(f, level: int, check: InputCheck, s: CheckSettings) -> str:
    name = getattr(f, "__name__", "f")
    what = "gradient" if level == 1 else f"order-{level} derivative"
    k = int(np.argmax(np.where(check.ok, -np.inf, check.abs_error - check.allowed)))
    analytic, numeric = float(check.engine[k]), float(check.numeric[k])
    error = abs(analytic - numeric)
    relative = error / max(abs(analytic), abs(numeric), 1e-300)
    return (
        f"{what} of {name} w.r.t. {check.name} (shape {check.shape}) disagrees with finite "
        f"differences along random direction {k}:\n"
        f"  VJP (analytic)      {analytic: .12g}\n"
        f"  finite differences  {numeric: .12g}\n"
        f"  |error| {error:.3g}, relative {relative:.3g} (allowed: {float(check.allowed[k]):.3g} = "
        f"{s.atol:g}·max(1, |f|) + {s.rtol:g}·|value|)" + (f"\n  {check.message}" if check.message else "")
    )


def numerical_grad(f, *args, eps: float = 1e-6):
    """Entrywise central differences of a scalar ``f`` for every positional argument.

    Returns what ``grad(f)(*args)`` returns (one array for one argument, else a tuple), computed
    without the engine's VJPs: 2·n evaluations of ``f`` for n entries, so keep inputs small.
    """
    values = [as_value(a, f"argument {i}") for i, a in enumerate(args)]
    result = []
    for index, value in enumerate(values):
        numeric = _entrywise(f, values, index, eps, symmetric=False)
        result.append(numeric if np.shape(value) else np.float64(numeric))
    return result[0] if len(result) == 1 else tuple(result)

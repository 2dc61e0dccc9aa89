"""The numbers behind the analysis tools: a gradient check, and 1-D and 2-D function views.

Pure functions of a program's text (no Streamlit); results are frozen dataclasses that the panels
put in tables and ``ui.figures`` draws. Everything is evaluated through ``as_function``, so the
finite differences run the very program whose gradient the engine computed.

Errors: a request that cannot be met (a bad range, an unknown or non-scalar input) raises
``AnalysisError``, an ``AutodiffError``, so the app catches one type and shows its message. The
gradient check is a report rather than an exception for problems of the *program* (it does not
build, its output is not a scalar): the report's ``error`` says why there is nothing to check.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

import numpy as np

import core as ad
from core.errors import AutodiffError, ExpressionError
from core.gradcheck import central_difference
from core.language import Program, as_function, build, parse
from core.var import raw

RTOL = 1e-5  # relative tolerance of the gradient check
ATOL = 1e-7  # absolute tolerance, multiplied by max(1, |output|): see gradient_check
MAX_SWEEP_POINTS = 2001
_PLOTS_SCALARS = "a function view plots a scalar output"
MAX_GRID_POINTS = 101  # per axis: 101² forward evaluations take about half a second for a small program
SYMMETRIC_EXPLANATION = (
    "A covariance Σ can only move symmetrically, so only symmetric perturbations are meaningful. The "
    "engine's gradient G is the unconstrained, entrywise one (for logdet Σ it is Σ⁻ᵀ); a symmetric step "
    "moves entries (i, j) and (j, i) together, so the finite difference along E_ij + E_ji equals "
    "G_ij + G_ji, and it is compared with G + Gᵀ − diag(G). The seed project's Gaussian demo compares "
    "the entrywise gradient with entrywise differences; both comparisons pass for a correct engine."
)


class AnalysisError(AutodiffError):
    """A request the analysis cannot carry out; the message says what to change."""


@dataclass(frozen=True)
class _Compiled:
    """A built program: its inputs' names and values, its scalar output, and f(*values)."""

    names: tuple
    values: tuple
    output_name: str
    output_value: float
    function: Callable  # as_function(check_finite=False): domain edges give NaN, not errors


def _compile(program, seed: int, why_scalar: str) -> _Compiled:
    parsed = program if isinstance(program, Program) else parse(program)
    output, inputs = build(parsed, seed)
    names, function = as_function(parsed, seed, check_finite=False)
    if not names:
        raise AnalysisError("the program has no inputs: bind a name to a number, like x = 1.0")
    output_name = parsed.output_name or "output"
    if np.shape(raw(output)) != ():
        raise AnalysisError(f"the output {output_name} has shape {np.shape(raw(output))}: {why_scalar}; "
                            "make it a scalar, like sum(...) or mean(...)")
    values = tuple(raw(inputs[name]) for name in names)
    return _Compiled(names, values, output_name, float(raw(output)), function)


# ---- gradient check --------------------------------------------------------------------------------------


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
    allowed: np.ndarray  # atol_used + rtol · max(|engine|, |numeric|)
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
    atol_used: float  # atol · max(1, |output|): see gradient_check
    seed: int


@dataclass(frozen=True, eq=False)
class GradientCheckReport:
    """Every input's check, in the program's order, and ``error`` when there was nothing to check."""

    inputs: tuple  # of InputCheck
    output_name: str
    output_value: float
    settings: CheckSettings
    evaluations: int
    seconds: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(check.passed for check in self.inputs)


def _compare(engine, numeric, s) -> dict:
    engine, numeric = np.asarray(engine, dtype=float), np.asarray(numeric, dtype=float)
    abs_error = np.abs(engine - numeric)
    scale = np.maximum(np.abs(engine), np.abs(numeric))
    return {"engine": engine, "numeric": numeric, "abs_error": abs_error,
            "rel_error": abs_error / np.maximum(scale, 1e-300), "allowed": s.atol_used + s.rtol * scale}


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


def _entrywise(c: _Compiled, index: int, eps: float, symmetric: bool) -> np.ndarray:
    shape = np.shape(c.values[index])
    numeric = np.empty(shape)
    for position in np.ndindex(shape):
        mirror = position[::-1]
        if symmetric and position[0] > position[1]:
            numeric[position] = numeric[mirror]  # row-major order reached (j, i) first: one step moved both
            continue
        step = np.zeros(shape)
        step[position] = step[mirror if symmetric else position] = 1.0
        numeric[position] = central_difference(c.function, c.values, index, step, eps)
    return numeric


def _check_input(c: _Compiled, index: int, gradient, s: CheckSettings, budget: int) -> InputCheck:
    value = c.values[index]
    symmetric = s.symmetric and np.ndim(value) == 2 and value.shape[0] == value.shape[1] \
        and bool(np.allclose(value, value.T))
    method, reason, evaluations = _plan(value, symmetric, s, budget)
    made = partial(InputCheck, c.names[index], np.shape(value), method, reason, gradient, evaluations=evaluations)
    try:
        if method == "directions":  # ⟨G, v⟩ against the directional difference: the whole gradient at once
            rng = np.random.default_rng([s.seed, index])
            engine, numeric = [], []
            for _ in range(evaluations // 2):  # one direction at a time: a 10⁶-entry input stays cheap
                v = rng.standard_normal(np.shape(value))
                v = (v + v.T) / 2 if symmetric else v
                engine.append(float(np.sum(gradient * v)))
                numeric.append(central_difference(c.function, c.values, index, v, s.eps))
        else:
            numeric = _entrywise(c, index, s.eps, symmetric)
            engine = gradient + gradient.T - np.diag(np.diag(gradient)) if symmetric else gradient
        compared = _compare(engine, numeric, s)
        undefined = not np.isfinite(compared["abs_error"]).all()
        return made(**compared, message="NaN or inf: a step of ±ε leaves the domain, or the gradient is infinite"
                    if undefined else "")
    except AutodiffError as exc:
        nan = np.full(np.shape(value), np.nan)
        return made(**_compare(nan, nan, s), message=f"the program fails at a perturbed point: {exc.message}")


def gradient_check(program, seed: int = 0, *, symmetric: bool = False, max_entries: int = 400,
                   directions: int = 8, eps: float = 1e-6, rtol: float = RTOL, atol: float = ATOL,
                   max_evaluations: int = 4000, time_budget: float = 2.0,
                   grads: Mapping | None = None) -> GradientCheckReport:
    """The engine's gradient of every input against central finite differences of the same program.

    An entry passes when ``|engine − numeric| ≤ atol·max(1, |f|) + rtol·max(|engine|, |numeric|)``.
    Inputs of at most ``max_entries`` entries are checked entrywise (2 evaluations per entry) while
    the budget lasts: ``max_evaluations`` evaluations in all, fewer if one evaluation is slow enough
    that they would exceed ``time_budget`` seconds. Other inputs are checked along ``directions``
    random directions v (⟨G, v⟩ against the directional difference), at least one each.
    ``grads`` replaces the engine's gradient of the inputs it names: the seam that shows the
    checker failing a wrong gradient.
    """
    _check_options(max_entries, directions, max_evaluations, eps, time_budget)
    started = time.perf_counter()
    settings = partial(CheckSettings, bool(symmetric), max_entries, directions, eps, rtol, atol, seed=seed)
    try:
        c = _compile(program, seed, "only a scalar output has a gradient to check")
        with np.errstate(all="ignore"):
            engine = ad.grad(c.function, argnums=tuple(range(len(c.names))))(*c.values)
    except AutodiffError as exc:
        where = f"line {exc.line}: " if isinstance(exc, ExpressionError) and exc.line else ""
        return GradientCheckReport((), "", math.nan, settings(atol_used=atol), 0, time.perf_counter() - started,
                                   error=where + exc.message)
    gradients = {**dict(zip(c.names, engine)), **_overrides(grads or {}, c)}
    # Central differences lose about machine-ε·|f|/ε to rounding (1e-10·|f| for ε = 1e-6): a fixed
    # absolute tolerance would fail correct gradients of large outputs, so it grows with |f|.
    s = settings(atol_used=atol * max(1.0, abs(c.output_value)))
    with np.errstate(all="ignore"):
        timer = time.perf_counter()
        c.function(*c.values)
        budget = min(max_evaluations, int(time_budget / max(time.perf_counter() - timer, 1e-6)))
        checks = []
        for index, name in enumerate(c.names):
            checks.append(_check_input(c, index, np.asarray(gradients[name], dtype=float), s, budget))
            budget = max(budget - checks[-1].evaluations, 0)
    return GradientCheckReport(tuple(checks), c.output_name, c.output_value, s,
                               sum(check.evaluations for check in checks), time.perf_counter() - started)


def _check_options(max_entries, directions, max_evaluations, eps, time_budget) -> None:
    for label, value, low in (("max_entries", max_entries, 0), ("directions", directions, 1),
                              ("max_evaluations", max_evaluations, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise AnalysisError(f"{label} must be a whole number ≥ {low}, not {value!r}")
    if not isinstance(eps, numbers.Real) or not 0 < eps < 1:
        raise AnalysisError(f"eps must be a small positive number, like 1e-6, not {eps!r}")
    if not isinstance(time_budget, numbers.Real) or not 0 < time_budget < math.inf:
        raise AnalysisError(f"time_budget must be a positive number of seconds, not {time_budget!r}")


def _overrides(grads: Mapping, c: _Compiled) -> dict:
    """Gradients to check instead of the engine's: the test seam that proves a wrong one fails."""
    for name, value in grads.items():
        if np.shape(value) != np.shape(c.values[_input_index(c, name)]):
            raise AnalysisError(f"the gradient given for {name} has shape {np.shape(value)}, "
                                f"but {name} has shape {np.shape(c.values[c.names.index(name)])}")
    return dict(grads)


def check_rows(report: GradientCheckReport) -> list:
    """One row per input for the app's summary table."""
    return [{"input": check.name, "shape": str(check.shape), "method": check.method,
             "max |error|": check.max_abs_error, "max relative error": check.max_rel_error,
             "evaluations": check.evaluations, "result": "✓ pass" if check.passed else "✗ FAIL",
             "note": check.message or check.reason} for check in report.inputs]


def entry_rows(check: InputCheck) -> list:
    """One row per entry (or direction) of one input: the table of engine against finite differences."""
    return [{"entry": label, "engine": e, "finite differences": n, "|error|": a, "relative error": r,
             "allowed": t, "result": "✓" if ok else "✗"}
            for label, e, n, a, r, t, ok in zip(check.labels, check.engine.ravel(), check.numeric.ravel(),
                                                 check.abs_error.ravel(), check.rel_error.ravel(),
                                                 check.allowed.ravel(), check.ok.ravel())]


# ---- function views ------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Sweep1D:
    """The output and its engine derivative along one scalar input, everything else fixed.
    NaN marks points where the program is undefined (log of a negative number, a singular solve)."""

    input_name: str
    output_name: str
    xs: np.ndarray
    values: np.ndarray
    derivatives: np.ndarray  # the engine's d output / d input at every point (reverse mode)
    fd_derivatives: np.ndarray  # np.gradient(values, xs): a finite-difference cross-check along the sweep
    x0: float  # the input's value in the program
    value0: float
    slope0: float  # the engine's derivative at x0
    fd_slope0: float  # central difference at x0, step 1e-6·max(1, |x0|)
    tangent: np.ndarray  # value0 + slope0·(xs − x0)
    seconds: float

    @property
    def undefined_points(self) -> int:
        return int(np.count_nonzero(~np.isfinite(self.values)))


@dataclass(frozen=True, eq=False)
class Sweep2D:
    """The output on a grid of two scalar inputs; ``values[i, j]`` is at (xs[j], ys[i]), as plotly draws z."""

    x_name: str
    y_name: str
    output_name: str
    xs: np.ndarray
    ys: np.ndarray
    values: np.ndarray
    x0: float
    y0: float
    value0: float
    gradient0: tuple  # the engine's (∂/∂x, ∂/∂y) at (x0, y0)
    fd_gradient0: tuple  # central differences at (x0, y0)
    seconds: float


def _input_index(c: _Compiled, name, scalar: bool = False) -> int:
    if name not in c.names:
        raise AnalysisError(f"there is no input named {name!r}; the inputs are {', '.join(c.names)}")
    if scalar and np.shape(c.values[c.names.index(name)]) != ():
        raise AnalysisError(f"choose a scalar input; {name} has shape {np.shape(c.values[c.names.index(name)])}")
    return c.names.index(name)


def _checked_range(bounds, name: str) -> tuple:
    """(low, high) as finite floats with low < high: a plot range the user typed."""
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise AnalysisError(f"the range of {name} must be two numbers (minimum, maximum), not {bounds!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise AnalysisError(f"the range of {name} must have finite bounds, not {low:g} to {high:g}")
    if low >= high:
        raise AnalysisError(f"the range's minimum must be less than its maximum ({name} from {low:g} to {high:g})")
    return low, high


def _checked_points(n, most: int) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 3 <= n <= most:
        raise AnalysisError(f"the number of points must be a whole number from 3 to {most}, not {n!r}")
    return int(n)


def _require_finite(values) -> None:
    if not np.isfinite(values).any():
        raise AnalysisError("the program is undefined (NaN, or an error) everywhere on this range; try another")


def _at(c: _Compiled, replacements: dict) -> list:
    return [np.float64(replacements[i]) if i in replacements else v for i, v in enumerate(c.values)]


def _value_and_slope(c: _Compiled, index: int, x) -> tuple:
    """(value, engine derivative) at x; NaN where the program fails (a singular solve)."""
    try:
        value, slope = ad.value_and_grad(c.function, argnums=index)(*_at(c, {index: x}))
        return float(raw(value)), float(slope)
    except (AutodiffError, ArithmeticError, ValueError):  # the backward pass runs outside the language's net
        return math.nan, math.nan


def _central(c: _Compiled, index: int) -> float:
    """The finite-difference slope at the program's own value, with a step relative to it."""
    step = 1e-6 * max(1.0, abs(float(c.values[index])))
    try:
        return central_difference(c.function, c.values, index, np.float64(1.0), step)
    except AutodiffError:
        return math.nan


def sweep_1d(program, seed: int, input_name: str, lo, hi, n: int = 201) -> Sweep1D:
    """Sweep one scalar input over [lo, hi]: output, engine derivative, tangent and FD slope at x0.

    The derivative is a reverse pass at every point (201 points of a small program take a few
    hundredths of a second), so the curve shows the engine's gradient, not a difference quotient.
    """
    lo, hi = _checked_range((lo, hi), input_name)
    n = _checked_points(n, MAX_SWEEP_POINTS)
    started = time.perf_counter()
    c = _compile(program, seed, _PLOTS_SCALARS)
    index = _input_index(c, input_name, scalar=True)
    xs = np.linspace(lo, hi, n)
    with np.errstate(all="ignore"):
        values, derivatives = np.array([_value_and_slope(c, index, x) for x in xs]).T
        _require_finite(values)
        derivatives[~np.isfinite(values)] = np.nan  # log(x) at x < 0: 1/x is finite, the function is not
        x0 = float(c.values[index])
        slope0 = _value_and_slope(c, index, x0)[1]
        fd_derivatives = np.gradient(values, xs, edge_order=2)
        fd_slope0 = _central(c, index)
        tangent = c.output_value + slope0 * (xs - x0)
    return Sweep1D(input_name, c.output_name, xs, values, derivatives, fd_derivatives, x0, c.output_value,
                   slope0, fd_slope0, tangent, time.perf_counter() - started)


def sweep_2d(program, seed: int, x_name: str, y_name: str, x_range, y_range, n: int = 41) -> Sweep2D:
    """The output on an n × n grid of two scalar inputs (forward only, at NumPy speed), and the
    engine's gradient (∂/∂x, ∂/∂y) at the current point with central differences beside it."""
    if x_name == y_name:
        raise AnalysisError(f"choose two different inputs; both axes are {x_name}")
    (x_lo, x_hi), (y_lo, y_hi) = _checked_range(x_range, x_name), _checked_range(y_range, y_name)
    n = _checked_points(n, MAX_GRID_POINTS)
    started = time.perf_counter()
    c = _compile(program, seed, _PLOTS_SCALARS)
    ix, iy = _input_index(c, x_name, scalar=True), _input_index(c, y_name, scalar=True)
    xs, ys = np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n)
    values = np.full((n, n), np.nan)
    with np.errstate(all="ignore"):
        for (i, y), (j, x) in itertools.product(enumerate(ys), enumerate(xs)):
            with contextlib.suppress(AutodiffError):  # undefined here: a gap in the contour
                values[i, j] = float(raw(c.function(*_at(c, {ix: x, iy: y}))))
        _require_finite(values)
        gx, gy = ad.grad(c.function, argnums=(ix, iy))(*c.values)
        fd = (_central(c, ix), _central(c, iy))
    return Sweep2D(x_name, y_name, c.output_name, xs, ys, values, float(c.values[ix]), float(c.values[iy]),
                   c.output_value, (float(gx), float(gy)), fd, time.perf_counter() - started)

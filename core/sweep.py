"""Function views: a program's output swept along one or two of its scalar inputs, with the
engine's derivative beside finite differences. The numbers only; ``ui/figures.py`` draws them.

Everything is evaluated through the program as a function of its inputs
(``gradcheck.program_function``), so the sweep runs the very program whose gradient the engine
computed. A request that cannot be met (a bad range, an unknown or non-scalar input) raises
``SweepError``, an ``AutodiffError``, so the page catches one type and shows its message.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from .api import grad, value_and_grad
from .errors import AutodiffError
from .gradcheck import CheckError, ProgramFunction, central_difference, program_function
from .var import raw

MAX_SWEEP_POINTS = 2001
MAX_GRID_POINTS = 101  # per axis: 101² forward evaluations take about half a second for a small program
_PLOTS_SCALARS = "a function view plots a scalar output"


class SweepError(CheckError):
    """A sweep that cannot be drawn as asked; the message says what to change."""


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


def _input_index(c: ProgramFunction, name, scalar: bool = False) -> int:
    if name not in c.names:
        raise SweepError(f"there is no input named {name!r}; the inputs are {', '.join(c.names)}")
    if scalar and np.shape(c.values[c.names.index(name)]) != ():
        raise SweepError(f"choose a scalar input; {name} has shape {np.shape(c.values[c.names.index(name)])}")
    return c.names.index(name)


def _checked_range(bounds, name: str) -> tuple:
    """(low, high) as finite floats with low < high: a plot range the user typed."""
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise SweepError(f"the range of {name} must be two numbers (minimum, maximum), not {bounds!r}") from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise SweepError(f"the range of {name} must have finite bounds, not {low:g} to {high:g}")
    if low >= high:
        raise SweepError(f"the range's minimum must be less than its maximum ({name} from {low:g} to {high:g})")
    return low, high


def _checked_points(n, most: int) -> int:
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 3 <= n <= most:
        raise SweepError(f"the number of points must be a whole number from 3 to {most}, not {n!r}")
    return int(n)


def _require_finite(values) -> None:
    if not np.isfinite(values).any():
        raise SweepError("the program is undefined (NaN, or an error) everywhere on this range; try another")


def _at(c: ProgramFunction, replacements: dict) -> list:
    return [np.float64(replacements[i]) if i in replacements else v for i, v in enumerate(c.values)]


def _value_and_slope(c: ProgramFunction, index: int, x) -> tuple:
    """(value, engine derivative) at x; NaN where the program fails (a singular solve)."""
    try:
        value, slope = value_and_grad(c.function, argnums=index)(*_at(c, {index: x}))
        return float(raw(value)), float(slope)
    except (AutodiffError, ArithmeticError, ValueError):  # the backward pass runs outside the language's net
        return math.nan, math.nan


def _central(c: ProgramFunction, index: int) -> float:
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
    c = program_function(program, seed, _PLOTS_SCALARS)
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
        raise SweepError(f"choose two different inputs; both axes are {x_name}")
    (x_lo, x_hi), (y_lo, y_hi) = _checked_range(x_range, x_name), _checked_range(y_range, y_name)
    n = _checked_points(n, MAX_GRID_POINTS)
    started = time.perf_counter()
    c = program_function(program, seed, _PLOTS_SCALARS)
    ix, iy = _input_index(c, x_name, scalar=True), _input_index(c, y_name, scalar=True)
    xs, ys = np.linspace(x_lo, x_hi, n), np.linspace(y_lo, y_hi, n)
    values = np.full((n, n), np.nan)
    with np.errstate(all="ignore"):
        for (i, y), (j, x) in itertools.product(enumerate(ys), enumerate(xs)):
            with contextlib.suppress(AutodiffError):  # undefined here: a gap in the contour
                values[i, j] = float(raw(c.function(*_at(c, {ix: x, iy: y}))))
        _require_finite(values)
        gx, gy = grad(c.function, argnums=(ix, iy))(*c.values)
        fd = (_central(c, ix), _central(c, iy))
    return Sweep2D(x_name, y_name, c.output_name, xs, ys, values, float(c.values[ix]), float(c.values[iy]),
                   c.output_value, (float(gx), float(gy)), fd, time.perf_counter() - started)

"""Finite-difference checks of any function's gradient: the test every op must pass.

Central differences, ``(f(x + εv) − f(x − εv)) / 2ε``, have error O(ε²) from truncation and
O(δ/ε) from rounding (δ ≈ 1e-16 · |f|), so ε = 1e-6 leaves about 1e-10 relative error in double
precision — far below a wrong VJP (a test shows that 0.1% off is caught). Checking along a few
random directions ``v`` tests the whole gradient at once: ⟨∇f, v⟩ must equal the directional
derivative (the idea of autograd's ``check_grads``; Nocedal & Wright, *Numerical Optimization*,
section 8.1). Non-scalar outputs are contracted with a random vector first.
"""

from __future__ import annotations

import numpy as np

from .api import grad
from .errors import AutodiffError, GradientCheckError
from .ops import sum as ad_sum
from .var import as_value, raw


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


def check_grads(f, *args, order: int = 1, directions: int = 3, eps: float = 1e-6,
                rtol: float = 1e-5, atol: float = 1e-7, seed: int = 0) -> None:
    """Raise ``GradientCheckError`` unless the VJPs of ``f`` agree with finite differences.

    Every positional argument is checked along ``directions`` random directions. ``order=2``
    also checks the gradient of the gradient (through nested ``grad``) the same way, and so on.
    A pair agrees when ``|analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|)``.
    """
    if order < 1:
        raise AutodiffError("check_grads needs order >= 1")
    values = [as_value(a, f"argument {i}") for i, a in enumerate(args)]
    rng = np.random.default_rng(seed)
    fn = _scalarized(f, {})
    for level in range(1, order + 1):
        for index, value in enumerate(values):
            gradient = raw(grad(fn, argnums=index)(*values))
            for k in range(directions):
                v = rng.standard_normal(np.shape(value))
                analytic = float(np.sum(gradient * v))
                numeric = central_difference(fn, values, index, v, eps)
                if abs(analytic - numeric) > atol + rtol * max(abs(analytic), abs(numeric)):
                    raise GradientCheckError(_report(f, level, index, value, k, analytic, numeric, rtol, atol))
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


def _report(f, level, index, value, k, analytic, numeric, rtol, atol) -> str:
    name = getattr(f, "__name__", "f")
    error = abs(analytic - numeric)
    relative = error / max(abs(analytic), abs(numeric), 1e-300)
    what = "gradient" if level == 1 else f"order-{level} derivative"
    return (
        f"{what} of {name} w.r.t. argument {index} (shape {np.shape(value)}) disagrees with finite "
        f"differences along random direction {k}:\n"
        f"  VJP (analytic)      {analytic: .12g}\n"
        f"  finite differences  {numeric: .12g}\n"
        f"  |error| {error:.3g}, relative {relative:.3g} (allowed: {atol:g} + {rtol:g}·|value|)"
    )


def numerical_grad(f, *args, eps: float = 1e-6):
    """Entrywise central differences of a scalar ``f`` for every positional argument.

    Returns what ``grad(f)(*args)`` returns (one array for one argument, else a tuple), computed
    without the engine's VJPs: 2·n evaluations of ``f`` for n entries, so keep inputs small.
    """
    values = [as_value(a, f"argument {i}") for i, a in enumerate(args)]
    result = []
    for index, value in enumerate(values):
        flat = np.array(value, dtype=np.float64).reshape(-1)
        out = np.empty(flat.size)
        for j in range(flat.size):
            step = np.zeros(flat.size)
            step[j] = 1.0
            out[j] = central_difference(f, values, index, step.reshape(np.shape(value)), eps)
        result.append(out.reshape(np.shape(value)) if np.shape(value) else np.float64(out[0]))
    return result[0] if len(result) == 1 else tuple(result)

"""Plotly figures for tensors. Pure functions of arrays; the panels only place them.

Values use a sequential scale; gradients a diverging one centred at 0 (blue negative, orange
positive: PuOr, readable with the common colour-vision deficiencies), because the sign of a
gradient entry is what a reader looks for first.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from core.arrays import as_matrix


def heatmap(value, title: str, *, diverging: bool = False, height: int = 260) -> go.Figure:
    m = as_matrix(value)
    kwargs = {}
    if diverging:
        bound = float(np.nanmax(np.abs(m))) if m.size and np.isfinite(m).any() else 1.0
        bound = bound or 1.0
        kwargs = {"colorscale": "PuOr_r", "zmid": 0.0, "zmin": -bound, "zmax": bound}
    else:
        kwargs = {"colorscale": "Viridis"}
    text = [[f"{x:.3g}" for x in row] for row in m] if m.size <= 64 else None
    fig = go.Figure(go.Heatmap(z=m, text=text, texttemplate="%{text}" if text else None,
                               hovertemplate="[%{y}, %{x}] = %{z:.6g}<extra></extra>", **kwargs))
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10))
    fig.update_yaxes(autorange="reversed", title=None)
    fig.update_xaxes(title=None)
    return fig


# ---- analysis tools: gradient check and function views -------------------------------------------------
# Okabe & Ito's colour-blind-safe palette; pass/fail also differ in marker shape and text, never colour alone.

ORANGE, SKY_BLUE, BLUISH_GREEN, BLUE, VERMILION = "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00"
_ERROR_FLOOR = 1e-6  # an exact match (|error| = 0) is drawn here: a log axis has no 0


def gradient_check_figure(report) -> go.Figure:
    """Every compared entry (or direction) as |engine − FD| ÷ its tolerance, per input, on a log axis.

    Dividing by the entry's own tolerance (atol·max(1, |f|) + rtol·|value|) puts every input against
    one line at 1, which a raw |error| could not: the tolerance differs from entry to entry.
    """
    fig = go.Figure()
    ticks = []
    for ok_wanted, name, colour, symbol in ((True, "within tolerance", BLUE, "circle"),
                                            (False, "outside tolerance", VERMILION, "x")):
        xs, ys, hover = [], [], []
        for position, check in enumerate(report.inputs):
            ratio = np.where(np.isfinite(check.abs_error), check.abs_error / check.allowed, np.inf).ravel()
            keep = check.ok.ravel() == ok_wanted
            jitter = np.random.default_rng(position).uniform(-0.18, 0.18, ratio.size)
            xs += list((position + jitter)[keep])
            ys += list(np.clip(ratio, _ERROR_FLOOR, 1e12)[keep])  # NaN and inf: drawn at the top
            hover += [f"{label}<br>engine {e:.8g}<br>finite differences {n:.8g}<br>|error| {a:.3g} "
                      f"(allowed {t:.3g})" for label, e, n, a, t, k in
                      zip(check.labels, check.engine.ravel(), check.numeric.ravel(), check.abs_error.ravel(),
                          check.allowed.ravel(), keep) if k]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=name, text=hover, hoverinfo="text",
                                 marker=dict(color=colour, symbol=symbol, size=8, line=dict(width=1))))
    for position, check in enumerate(report.inputs):
        verdict = "✓ pass" if check.passed else "✗ FAIL"
        ticks.append(f"{check.name}<br>{check.method}")
        fig.add_annotation(x=position, y=1.0, yref="paper", yanchor="bottom", showarrow=False, text=verdict,
                           font=dict(color=BLUISH_GREEN if check.passed else VERMILION, size=13))
    fig.add_hline(y=1.0, line=dict(color="black", dash="dash"), annotation_text="tolerance",
                  annotation_position="top left")
    n_failed = sum(not check.passed for check in report.inputs)
    if report.error:
        title = f"Nothing to check: {report.error}"
    elif n_failed:
        title = f"{n_failed} of {len(report.inputs)} inputs fail the gradient check"
    else:
        title = f"All {len(report.inputs)} inputs pass the gradient check"
    fig.update_layout(title=title, height=360, margin=dict(l=10, r=10, t=70, b=10), legend=dict(orientation="h"))
    fig.update_xaxes(tickvals=list(range(len(ticks))), ticktext=ticks, range=[-0.6, max(len(ticks), 1) - 0.4])
    fig.update_yaxes(type="log", title="|engine − FD| ÷ tolerance", exponentformat="power")
    return fig


def _padded_range(*arrays) -> list | None:
    finite = np.concatenate([np.ravel(a) for a in arrays])
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return None
    low, high = float(finite.min()), float(finite.max())
    pad = 0.08 * (high - low) or 0.5 * max(abs(high), 1.0)
    return [low - pad, high + pad]


def _finite(values) -> np.ndarray:
    """±inf as NaN: plotly draws NaN as a gap, inf it cannot draw at all."""
    return np.where(np.isfinite(values), values, np.nan)


def sweep_1d_figure(sweep) -> go.Figure:
    """The output with its tangent at the current value (top), and the engine's derivative with the
    finite-difference derivative of the plotted curve (bottom): the slope at x0 is where they meet."""
    from plotly.subplots import make_subplots

    x, out = sweep.input_name, sweep.output_name
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1, row_heights=[0.6, 0.4],
                        subplot_titles=(f"{out} as a function of {x}", f"d{out}/d{x}"))
    fig.add_trace(go.Scatter(x=sweep.xs, y=_finite(sweep.values), mode="lines", name=out,
                             line=dict(color=BLUE, width=2.5)), row=1, col=1)
    fig.add_trace(go.Scatter(x=sweep.xs, y=_finite(sweep.tangent), mode="lines",
                             name=f"tangent at {x} = {sweep.x0:.4g}", line=dict(color=ORANGE, dash="dash", width=2)),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=[sweep.x0], y=[sweep.value0], mode="markers", name="current value",
                             marker=dict(color=VERMILION, symbol="diamond", size=11, line=dict(width=1))),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=sweep.xs, y=_finite(sweep.derivatives), mode="lines", name="engine derivative",
                             line=dict(color=BLUISH_GREEN, width=2.5)), row=2, col=1)
    fig.add_trace(go.Scatter(x=sweep.xs, y=_finite(sweep.fd_derivatives), mode="lines",
                             name="finite differences of the curve", line=dict(color=SKY_BLUE, dash="dot", width=2)),
                  row=2, col=1)
    fig.add_trace(go.Scatter(x=[sweep.x0], y=[sweep.slope0], mode="markers",
                             name=f"slope: engine {sweep.slope0:.8g}, FD {sweep.fd_slope0:.8g}",
                             marker=dict(color=VERMILION, symbol="diamond", size=11, line=dict(width=1))),
                  row=2, col=1)
    fig.update_yaxes(range=_padded_range(sweep.values, [sweep.value0]), row=1, col=1)
    fig.update_xaxes(title=x, row=2, col=1)
    gaps = f" · {sweep.undefined_points} points undefined (gaps)" if sweep.undefined_points else ""
    fig.update_layout(title=f"Slope at {x} = {sweep.x0:.4g}: engine {sweep.slope0:.8g}, "
                            f"finite differences {sweep.fd_slope0:.8g}{gaps}",
                      height=520, margin=dict(l=10, r=10, t=80, b=10), legend=dict(orientation="h", y=-0.12))
    return fig


def sweep_2d_figure(sweep) -> go.Figure:
    """Contours of the output, the current point, and the gradient as an arrow, drawn to a visible
    length (a quarter of the plot) in its true direction; axes share a scale when the ranges are
    comparable, so the arrow looks perpendicular to the contour lines, as it is."""
    gx, gy = sweep.gradient0
    fig = go.Figure(go.Contour(x=sweep.xs, y=sweep.ys, z=_finite(sweep.values), colorscale="Viridis",
                               colorbar=dict(title=sweep.output_name), name=sweep.output_name,
                               hovertemplate=f"{sweep.x_name} %{{x:.4g}}, {sweep.y_name} %{{y:.4g}}: %{{z:.6g}}"
                                             "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[sweep.x0], y=[sweep.y0], mode="markers", name="current point",
                             marker=dict(color="white", symbol="circle", size=11, line=dict(color="black", width=2))))
    width, height = sweep.xs[-1] - sweep.xs[0], sweep.ys[-1] - sweep.ys[0]
    length = float(np.hypot(gx / width, gy / height)) if np.isfinite([gx, gy]).all() else 0.0
    label = f"∇ = ({gx:.6g}, {gy:.6g}); finite differences ({sweep.fd_gradient0[0]:.6g}, {sweep.fd_gradient0[1]:.6g})"
    if length > 0:
        scale = 0.25 / length
        tip = (sweep.x0 + scale * gx, sweep.y0 + scale * gy)
        fig.add_annotation(x=tip[0], y=tip[1], ax=sweep.x0, ay=sweep.y0, xref="x", yref="y", axref="x", ayref="y",
                           showarrow=True, arrowhead=2, arrowsize=1.2, arrowwidth=3, arrowcolor=VERMILION, text="")
        fig.add_trace(go.Scatter(x=[sweep.x0, tip[0]], y=[sweep.y0, tip[1]], mode="lines", name="gradient (arrow)",
                                 line=dict(color=VERMILION, width=2.5), hoverinfo="text", text=[label, label]))
        label += f"; arrow drawn ×{scale:.3g}"
    else:
        fig.add_annotation(x=sweep.x0, y=sweep.y0, text="∇ = 0 here" if gx == gy == 0 else "∇ is not finite here",
                           showarrow=False, yshift=16, font=dict(color="white"))
    fig.update_xaxes(title=sweep.x_name, range=[sweep.xs[0], sweep.xs[-1]])
    fig.update_yaxes(title=sweep.y_name, range=[sweep.ys[0], sweep.ys[-1]])
    if 1 / 3 <= width / height <= 3:
        fig.update_yaxes(scaleanchor="x", scaleratio=1)
        fig.update_xaxes(constrain="domain")
    fig.update_layout(title=dict(text=f"{sweep.output_name} over ({sweep.x_name}, {sweep.y_name})<br>"
                                      f"<sup>{label}</sup>"),
                      height=480, margin=dict(l=10, r=10, t=80, b=10), legend=dict(orientation="h", y=-0.15))
    return fig


def training_figure(training) -> go.Figure:
    """The loss at every iterate (log scale when it stays positive) beside each trained input's
    path: its value for a number, its norm for an array."""
    from plotly.subplots import make_subplots

    steps = np.arange(len(training.losses))
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "the trained inputs"))
    fig.add_trace(go.Scatter(x=steps, y=training.losses, mode="lines", name="loss",
                             line=dict(color=BLUE, width=2.5)), row=1, col=1)
    palette = (ORANGE, BLUISH_GREEN, VERMILION, SKY_BLUE, "#CC79A7", "#000000")
    for k, name in enumerate(training.names):
        path = np.asarray(training.paths[name])
        scalar = path.ndim == 1
        values = path if scalar else np.linalg.norm(path.reshape(len(path), -1), axis=1)
        fig.add_trace(go.Scatter(x=steps[:len(values)], y=values, mode="lines", name=name if scalar else f"‖{name}‖",
                                 line=dict(color=palette[k % len(palette)], width=2)), row=1, col=2)
    if np.all(training.losses > 0):
        fig.update_yaxes(type="log", row=1, col=1)
    fig.update_xaxes(title="iterate")
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.2))
    return fig

"""Plotly figures for tensors. Pure functions of arrays; the panels only place them.

Values use a sequential scale; gradients a diverging one centred at 0 (blue negative, orange
positive: PuOr, readable with the common colour-vision deficiencies), because the sign of a
gradient entry is what a reader looks for first.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def as_matrix(value) -> np.ndarray:
    """Arrays of any rank as a 2-D picture: a vector is one row; higher ranks fold their
    leading axes into rows."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(-1, a.shape[-1])


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

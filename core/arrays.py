"""How an array is shown as a picture or written out: folded to a matrix, block means of a big one,
the norm of its finite entries. Numbers for the page's heatmaps and the narrator's formulas; no
drawing here."""

from __future__ import annotations

import numpy as np


def as_matrix(value) -> np.ndarray:
    """Arrays of any rank as a 2-D picture: a vector is one row; higher ranks fold their
    leading axes into rows."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return a.reshape(1, 1)
    if a.ndim == 1:
        return a.reshape(1, -1)
    return a.reshape(-1, a.shape[-1])


def block_means(m: np.ndarray, cells: int) -> tuple:
    """(``m`` block-averaged down to at most ``cells`` × ``cells``, the block's (rows, cols));
    NaNs and the padding of a ragged last block do not count."""
    rows, cols = m.shape
    block_rows, block_cols = -(-rows // cells), -(-cols // cells)
    if block_rows > 1 or block_cols > 1:
        padded = np.full((-(-rows // block_rows) * block_rows, -(-cols // block_cols) * block_cols), np.nan)
        padded[:rows, :cols] = m
        blocks = padded.reshape(padded.shape[0] // block_rows, block_rows, padded.shape[1] // block_cols, block_cols)
        m = np.nanmean(blocks, axis=(1, 3))
    return m, (block_rows, block_cols)


def finite_norm(a: np.ndarray) -> float | None:
    """The 2-norm of the finite entries, or None when there are none."""
    finite = np.isfinite(a)
    return float(np.linalg.norm(a[finite])) if finite.any() else None

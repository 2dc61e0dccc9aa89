"""The peers that ``engine.py`` measures ours against, each wrapped as a ``Kit``.

A ``Kit`` is one framework's way of running the *same* workload code: the workloads in
``engine.py`` are written once, with ``+``, ``*`` and ``@`` plus the few functions a kit provides
(``sin``, ``tanh``, ``total`` ...), so every framework performs exactly the same primitive ops.
``grad(f)(*args)`` is the framework's own idiom for "gradient of f with respect to every argument",
returning one gradient per argument.

The hand-written NumPy references (forward and backward by hand, no graph) are at the bottom.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg


def _unchanged(array):
    return array


@dataclass(frozen=True)
class Kit:
    """A framework as the workloads see it; a missing function means "can't run that workload"."""

    name: str
    grad: Callable  # grad(f)(*args) -> tuple with one gradient per argument
    sin: Callable | None = None
    tanh: Callable | None = None
    total: Callable | None = None  # the sum of every entry
    logdet: Callable | None = None
    solve: Callable | None = None
    const: Callable = _unchanged  # a constant array in the framework's type

    def supports(self, *needed: str) -> bool:
        return all(getattr(self, name) is not None for name in needed)


def _to_numpy(x):
    """Gradients as NumPy (torch tensors converted); used for the agreement checks, not timed."""
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return np.asarray(x, dtype=np.float64)


def as_numpy_tuple(grads) -> tuple:
    return tuple(_to_numpy(g) for g in grads)


# ---- micrograd (Karpathy's pip package 0.1.0) -----------------------------------------------------

_DEFAULT_RECURSION_LIMIT = sys.getrecursionlimit()


@contextlib.contextmanager
def recursion_limit(limit: int):
    """micrograd's topological sort is recursive: one Python frame per node on the longest path.
    Raise the limit only around micrograd's backward, so every other row runs with the default."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def micrograd_kit(recursion_needed: int = 100_000):
    """micrograd 0.1.0 has neither sin nor tanh: they are added here the micrograd way, a new
    ``Value`` whose ``_backward`` closure adds the local derivative times ``out.grad``."""
    from micrograd.engine import Value

    def sin(v):
        out = Value(math.sin(v.data), (v,), "sin")

        def _backward():
            v.grad += math.cos(v.data) * out.grad

        out._backward = _backward
        return out

    def tanh(v):
        t = math.tanh(v.data)
        out = Value(t, (v,), "tanh")

        def _backward():
            v.grad += (1.0 - t * t) * out.grad

        out._backward = _backward
        return out

    def grad(f):
        def gradients(*args):
            leaves = [Value(float(a)) for a in args]
            out = f(*leaves)
            with recursion_limit(recursion_needed):
                out.backward()
            return tuple(leaf.grad for leaf in leaves)

        return gradients

    return Kit("micrograd", grad, sin=sin, tanh=tanh)


# ---- PyTorch (CPU, float64) -----------------------------------------------------------------------


def torch_kit():
    import torch

    def leaf(a):
        if np.ndim(a) == 0:
            return torch.tensor(float(a), dtype=torch.float64, requires_grad=True)
        return torch.from_numpy(a).requires_grad_(True)  # shares memory with the NumPy array

    def grad(f):
        def gradients(*args):
            leaves = [leaf(a) for a in args]
            f(*leaves).backward()
            return tuple(x.grad for x in leaves)

        return gradients

    return Kit(
        "torch", grad, sin=torch.sin, tanh=torch.tanh, total=torch.sum,
        logdet=torch.logdet, solve=torch.linalg.solve, const=torch.from_numpy,
    )


# ---- HIPS autograd --------------------------------------------------------------------------------


def autograd_kit():
    import autograd
    import autograd.numpy as anp

    def grad(f):
        def gradients(*args):
            if len(args) == 1:
                return (autograd.grad(f)(*args),)
            # A tuple argnum is autograd's idiom for several arguments (it unpacks a boxed tuple).
            return autograd.grad(f, tuple(range(len(args))))(*args)

        return gradients

    return Kit(
        "autograd", grad, sin=anp.sin, tanh=anp.tanh, total=anp.sum,
        logdet=lambda S: anp.linalg.slogdet(S)[1], solve=anp.linalg.solve,
    )


# ---- hand-written NumPy: forward and backward by hand, the floor an engine can approach --------


def hand_matrix_mix(X, W, C, D, iterations: int):
    """Gradient of sum(X_n) for X_{k+1} = tanh(X_k @ W + C) * D (the W3 recurrence)."""
    saved_tanh = []
    for _ in range(iterations):
        T = np.tanh(X @ W + C)
        saved_tanh.append(T)
        X = T * D
    g = np.ones_like(X)
    WT = W.T
    for T in reversed(saved_tanh):
        g = (g * D * (1.0 - T * T)) @ WT
    return (g,)


def hand_tanh_matmul(A, B, C):
    """Gradients of sum(tanh(A @ B) @ C) with respect to A, B and C."""
    T = np.tanh(A @ B)
    _ = (T @ C).sum()
    g_out = np.ones((A.shape[0], C.shape[1]))  # the upstream gradient of sum
    g_T = g_out @ C.T
    g_C = T.T @ g_out
    g_P = g_T * (1.0 - T * T)
    return g_P @ B.T, A.T @ g_P, g_C


def hand_gaussian_nll(S, XT):
    """dL/dΣ of L = N/2 log det Σ + 1/2 sum(Xᵀ ⊙ Σ⁻¹Xᵀ), through one Cholesky factorization:
    dΣ = N/2 Σ⁻¹ − 1/2 Σ⁻¹XᵀXΣ⁻¹, and Σ⁻¹XᵀXΣ⁻¹ = Z Zᵀ with Z = Σ⁻¹Xᵀ from the forward pass."""
    n_samples = XT.shape[1]
    factor = scipy.linalg.cho_factor(S, lower=True, check_finite=False)
    Z = scipy.linalg.cho_solve(factor, XT, check_finite=False)
    _ = n_samples * np.sum(np.log(np.diagonal(factor[0]))) + 0.5 * np.sum(XT * Z)
    S_inv = scipy.linalg.cho_solve(factor, np.eye(S.shape[0]), check_finite=False)
    return (0.5 * n_samples * S_inv - 0.5 * (Z @ Z.T),)

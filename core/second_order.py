"""Differentiate again: the gradient of a program as a graph of its own, and its Hessian.

Reverse mode computes ∂out/∂x with VJPs; when those VJPs run on Vars (``create_graph``) they
build a second graph whose output *is* ∂out/∂x. Tracing that graph shows how a gradient is itself
computed, and its backward pass gives one row of the Hessian, ∂²out/∂x∂·. This is "reverse over
reverse" (Griewank & Walther, *Evaluating Derivatives*, 2nd ed., ch. 5).
"""

from __future__ import annotations

import numpy as np

from .api import hessian
from .backward import backward
from .errors import AutodiffError
from .language import as_function, build, run
from .ops import getitem
from .trace import Trace
from .var import Var

MAX_HESSIAN_INPUTS = 64  # a dense Hessian beyond that is a table nobody reads; use hvp


def program_trace(program: str, seed: int, second: str | None = None) -> Trace:
    """The trace the page shows: the program's own, or with ``second`` its gradient's graph."""
    return gradient_trace(program, seed, second) if second else run(program, seed=seed)


def gradient_trace(program: str, seed: int, wrt: str) -> Trace:
    """The trace of the graph that computes ∂out/∂``wrt`` for a scalar input ``wrt``.

    Its forward pass is the program's forward pass followed by the backward pass written out as
    ops (each VJP a few new nodes); its backward pass differentiates that, so its gradients are
    the row ``wrt`` of the Hessian.
    """
    out, inputs = build(program, seed)
    if wrt not in inputs:
        raise AutodiffError(f"'{wrt}' is not an input of this program (inputs: {', '.join(inputs)})")
    x = inputs[wrt]
    if x.shape != ():
        raise AutodiffError(f"differentiate again works on a scalar input; {wrt} has shape {x.shape}")
    if out.shape != ():
        raise AutodiffError(f"the output has shape {out.shape}; there is no gradient to differentiate")
    g = backward(out, [x], create_graph=True)[x]
    if type(g) is not Var:  # the output does not depend on x
        raise AutodiffError(f"the output does not depend on {wrt}, so its gradient is 0 everywhere")
    if g.op is None:  # only sums on the way: the gradient is the seed itself, a constant
        raise AutodiffError(f"∂out/∂{wrt} is the constant {float(g.value):g}: there is no graph to "
                            "differentiate again (and the second derivatives are 0)")
    out_name = out.name or "out"
    if g.name is None:
        g.name = f"d{out_name}_d{wrt}"
    return Trace.build(g, inputs, program=program, seed=seed)


def program_hessian(program: str, seed: int) -> tuple:
    """(input names, Hessian) for a program whose inputs are all scalars."""
    names, f = as_function(program, seed)
    _, inputs = build(program, seed)
    shapes = {name: inputs[name].shape for name in names}
    if any(shape != () for shape in shapes.values()):
        raise AutodiffError("the Hessian is shown for programs whose inputs are all scalars; "
                            "use hessian_vector_product for arrays")
    if len(names) > MAX_HESSIAN_INPUTS:
        raise AutodiffError(f"{len(names)} inputs: too many for a readable Hessian (at most {MAX_HESSIAN_INPUTS})")
    point = np.array([float(inputs[name].value) for name in names])
    packed = lambda v: f(*[getitem(v, index=i) for i in range(len(names))])  # noqa: E731
    return tuple(names), hessian(packed)(point)


def hessian_vector_product(program: str, seed: int, direction: dict) -> dict:
    """H·v for any program, without forming H: the gradient of ⟨∇f, v⟩ (one reverse-over-reverse
    pass). ``direction`` maps input names to arrays of their shapes; returns the same kind of map."""
    from .api import grad
    from .ops import sum as ad_sum

    names, f = as_function(program, seed)
    _, inputs = build(program, seed)
    values = [inputs[name].value for name in names]
    vs = [np.asarray(direction.get(name, np.zeros(np.shape(v))), dtype=float) for name, v in zip(names, values)]
    everything = tuple(range(len(names)))

    def directional(*args):
        grads = grad(f, argnums=everything)(*args)
        grads = grads if isinstance(grads, tuple) else (grads,)
        total = 0.0
        for g, v in zip(grads, vs):
            total = total + ad_sum(g * v)
        return total

    result = grad(directional, argnums=everything)(*values)
    result = result if isinstance(result, tuple) else (result,)
    return dict(zip(names, result))

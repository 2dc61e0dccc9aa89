"""``grad``, ``value_and_grad``, ``jacobian``, ``hessian``: functions in, derivative functions out.

The seed project's API, in autograd's spirit: ``grad(f)`` is a new function that runs ``f`` on
fresh leaves, walks the graph backwards once and returns the gradients. Each call builds its own
graph and nothing is stored between calls, so ``grad(f)`` is safe to call from several threads.

Returned gradients have their argument's shape: ``numpy.float64`` for a scalar argument and a
float64 ``ndarray`` otherwise (inside an enclosing ``grad`` they are Vars, so they can be
differentiated again; a top-level call never returns a Var). The engine computes in float64: a
float32 (or float16) argument gets its gradient back in its own type, an integer or boolean
argument is promoted and gets a float64 gradient. The output must have one entry: a scalar, or
a size-1 array such as ``sum(x, keepdims=True)``, as in autograd.
"""

from __future__ import annotations

import numpy as np

from .backward import backward
from .errors import AutodiffError, ShapeError
from .ops_elementwise import zeros_like
from .var import GradScope, Var, as_value, input_leaf


def _argnums_of(argnums, nargs: int):
    """(indices, single): which positional arguments are differentiated, and whether to return
    one gradient (an int argnums, or None with one argument) or a tuple."""
    if argnums is None:
        return tuple(range(nargs)), nargs == 1
    if isinstance(argnums, int):
        indices, single = (argnums,), True
    else:
        indices, single = tuple(argnums), False
    for i in indices:
        if not -nargs <= i < nargs:
            raise AutodiffError(f"argnums={argnums!r} but the function was given {nargs} positional arguments")
    return tuple(i % nargs for i in indices), single


def _run(f, args, kwargs, indices, scope: GradScope):
    leaves = [input_leaf(args[i], scope) for i in indices]
    call_args = list(args)
    for i, leaf in zip(indices, leaves):
        call_args[i] = leaf
    return f(*call_args, **kwargs), leaves


def value_and_grad(f, argnums=None):
    """``value_and_grad(f)(*args)`` -> ``(f(*args), gradients)``; see ``grad`` for ``argnums``."""

    def value_and_grad_f(*args, **kwargs):
        indices, single = _argnums_of(argnums, len(args))
        with GradScope() as scope:
            return _value_and_grad(f, args, kwargs, indices, single, scope)

    value_and_grad_f.__name__ = f"value_and_grad_{getattr(f, '__name__', 'f')}"
    return value_and_grad_f


def _value_and_grad(f, args, kwargs, indices, single, scope):
    out, leaves = _run(f, args, kwargs, indices, scope)
    if type(out) is not Var:  # f ignored its inputs: a constant function
        value = as_value(out, "the function's output")
        if np.size(value) != 1:
            raise _not_scalar(np.shape(value))
        grads = [zeros_like(leaf) for leaf in leaves]
    else:
        if out.size != 1:  # a scalar, or a size-1 array such as sum(x, keepdims=True)
            raise _not_scalar(out.shape)
        by_leaf = backward(out, leaves)
        grads = [zeros_like(leaf) if by_leaf[leaf] is None else by_leaf[leaf] for leaf in leaves]
        value = out if any(type(g) is Var for g in grads) else out._value
    grads = _unalias([_in_dtype_of(g, args[i]) for g, i in zip(grads, indices)])
    return value, (grads[0] if single else tuple(grads))


def grad(f, argnums=None):
    """The gradient function of a scalar-valued ``f``.

    ``grad(f)(x, y)`` returns ``(∂f/∂x, ∂f/∂y)`` (a tuple over all positional arguments, as in the
    seed project); with one argument, or an int ``argnums``, it returns that one gradient, so
    ``grad(grad(g))(x)`` reads as it should. ``argnums`` may also be a tuple of indices.
    """
    value_and_grad_f = value_and_grad(f, argnums)

    def grad_f(*args, **kwargs):
        return value_and_grad_f(*args, **kwargs)[1]

    grad_f.__name__ = f"grad_{getattr(f, '__name__', 'f')}"
    return grad_f


def jacobian(f, argnums: int = 0):
    """``jacobian(f)(*args)``: the array of shape ``out.shape + arg.shape`` of ∂out_i/∂arg_j.

    Computed by reverse mode, one backward pass per output entry over the same graph (the graph
    holds no gradients, so it can be walked as often as needed).
    """

    def jacobian_f(*args, **kwargs):
        with GradScope() as scope:
            return _jacobian(f, args, kwargs, argnums, scope)

    jacobian_f.__name__ = f"jacobian_{getattr(f, '__name__', 'f')}"
    return jacobian_f


def _jacobian(f, args, kwargs, argnums, scope):
    (index,), _ = _argnums_of(argnums, len(args))
    out, (leaf,) = _run(f, args, kwargs, (index,), scope)
    if type(out) is not Var:
        out_shape = np.shape(as_value(out, "the function's output"))
        return np.zeros(out_shape + leaf.shape)
    rows = []
    for k in range(out.size):
        seed = np.zeros(out.size)
        seed[k] = 1.0
        seed = seed.reshape(out.shape) if out.shape else np.float64(1.0)
        row = backward(out, [leaf], seed)[leaf]
        if type(row) is Var:
            raise AutodiffError(
                "jacobian cannot itself be differentiated; use hessian(f), or grad(grad(f)) for scalars"
            )
        rows.append(zeros_like(leaf) if row is None else row)
    return np.reshape(np.stack(rows), out.shape + leaf.shape)


def hessian(f, argnums: int = 0):
    """The Hessian of a scalar ``f``: the jacobian of its gradient (reverse over reverse)."""
    return jacobian(grad(f, argnums=argnums), argnums=argnums)


def _in_dtype_of(gradient, argument):
    """The gradient in its argument's floating-point type when that is narrower than float64
    (float32, float16): the engine computes in float64, the caller gets what they passed in.
    Integer and boolean arguments are promoted to float64 (an integer gradient would be wrong)."""
    dtype = getattr(argument, "dtype", None)
    if dtype is None or dtype == np.float64 or dtype.kind != "f" or type(gradient) is Var:
        return gradient
    return np.asarray(gradient).astype(dtype) if np.ndim(gradient) else dtype.type(gradient)


def _not_scalar(shape) -> ShapeError:
    return ShapeError(
        f"grad needs a function with a scalar output, but this one returns shape {shape}; "
        "wrap the output in sum(...) (or mean(...)), or use jacobian(f) for every partial derivative",
        op="grad", shapes=(shape,),
    )


def _unalias(grads: list) -> list:
    """Copy a gradient array that is the very same object as another (``add`` passes its incoming
    gradient to both parents), or a read-only view (``sum``'s VJP broadcasts without copying), so
    updating one gradient in place never changes another and always works."""
    seen = set()
    out = []
    for g in grads:
        if type(g) is np.ndarray and (id(g) in seen or not g.flags.writeable):
            g = g.copy()
        seen.add(id(g))
        out.append(g)
    return out

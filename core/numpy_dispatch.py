"""NumPy's own functions on Vars: ``numpy.sum(v)`` and ``numpy.sin(v)`` run the engine's ops.

A ``Var`` implements NumPy's two dispatch protocols, ``__array_ufunc__`` (NEP 13: ufuncs such as
``np.sin``, ``np.add`` and ``ndarray * Var``) and ``__array_function__`` (NEP 18: ``np.sum``,
``np.stack``, ``np.linalg.solve`` ...). Both look the NumPy function up *by name* among the
engine's public functions (``core.ops.FUNCTIONS``), so a newly declared op is reachable from NumPy
without a second list. Functions with no derivative (comparisons, ``isfinite``, ``floor`` ...)
run on the values and return plain arrays, as in autograd: their gradient is zero almost
everywhere, and a plain array is a constant. Anything else raises an ``AutodiffError`` that names
the engine function to use, if there is one.
"""

from __future__ import annotations

import difflib
from types import MappingProxyType

from .errors import AutodiffError
from .optable import FUNCTIONS

# NumPy names that differ from the engine's.
_ALIASES = MappingProxyType({
    "absolute": "abs", "fabs": "abs", "true_divide": "divide", "amax": "max", "amin": "min",
    "concat": "concatenate", "row_stack": "vstack",
})
# On real numbers these return their argument: the Var itself, no node.
_IDENTITY = frozenset({"conjugate", "conj", "real", "positive", "real_if_close", "asanyarray"})
# Engine names whose NumPy namesake means something else (np.identity(n) makes a matrix).
_NOT_NUMPY = frozenset({"identity", "scatter", "getitem"})
# numpy.linalg functions with the engine's semantics (numpy.linalg.trace, say, reads the last two
# axes where numpy.trace reads the first two: not the same function).
_LINALG = frozenset({"norm", "svd", "eigh", "inv", "solve", "det", "slogdet", "cholesky", "pinv", "matmul"})
# Functions whose derivative is zero almost everywhere: computed on the values, returned plain.
_NO_DERIVATIVE = frozenset({
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and",
    "logical_or", "logical_xor", "logical_not", "isfinite", "isinf", "isnan", "signbit", "floor",
    "ceil", "trunc", "rint", "round", "around", "floor_divide", "argmax", "argmin", "argsort",
    "nonzero", "count_nonzero", "isclose", "allclose", "array_equal", "any", "all", "shape", "ndim",
    "size", "result_type", "iscomplexobj", "isrealobj",
})


def _engine_function(name: str, linalg: bool):
    if linalg and name not in _LINALG:
        return None
    name = _ALIASES.get(name, name)
    public = FUNCTIONS.get(name)
    return None if public is None or name in _NOT_NUMPY else public.function


def _values(x):
    """Vars replaced by their values, in arguments and in (nested) lists and tuples of them."""
    from .var import Var

    if type(x) is Var:
        return x._value
    if type(x) in (list, tuple):
        return type(x)(_values(item) for item in x)
    return x


def _unsupported(what: str, name: str) -> AutodiffError:
    known = [n for n in FUNCTIONS if n not in _NOT_NUMPY]
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f"; did you mean core.{' or core.'.join(close)}?" if close else ""
    return AutodiffError(
        f"{what} does not work on a Var: the engine has no core.{name}{hint} "
        "(core.FUNCTIONS lists what it has; var.value gives the numbers, as a constant)"
    )


def _call(engine, name: str, args, kwargs):
    try:
        return engine(*args, **kwargs)
    except TypeError as exc:
        raise AutodiffError(f"numpy.{name} on a Var runs core.{name}, which says: {exc}") from None


def array_ufunc(ufunc, method: str, inputs, kwargs):
    """``Var.__array_ufunc__``: a ufunc called on a Var (or an ndarray meeting a Var)."""
    name = ufunc.__name__
    if kwargs.get("out") is not None:
        raise AutodiffError(f"numpy.{name}(..., out=...) would write into an array: a Var's value never "
                            "changes; assign the result instead")
    if name in _NO_DERIVATIVE:
        return getattr(ufunc, method)(*_values(inputs), **kwargs)
    if name in _IDENTITY and method == "__call__" and len(inputs) == 1 and not kwargs:
        return inputs[0]
    engine = _engine_function(name, linalg=False)
    if method != "__call__" or engine is None:
        what = f"numpy.{name}" + ("" if method == "__call__" else f".{method}")
        raise _unsupported(what, _ALIASES.get(name, name))
    return _call(engine, name, inputs, kwargs)


def array_function(func, args, kwargs):
    """``Var.__array_function__``: a NumPy function called with a Var among its arguments."""
    name = func.__name__
    linalg = func.__module__.endswith("linalg")
    if name in _NO_DERIVATIVE and not linalg:
        return func(*_values(args), **_values(kwargs))
    if name in _IDENTITY and len(args) == 1 and not kwargs:
        return args[0]
    engine = _engine_function(name, linalg)
    if engine is None:
        module = func.__module__.replace("numpy._core.", "numpy.").replace("numpy.core.", "numpy.")
        raise _unsupported(f"{module.split('.')[0]}{'.linalg' if linalg else ''}.{name}", _ALIASES.get(name, name))
    return _call(engine, name, args, kwargs)


def array_conversion():
    """``Var.__array__``: turning a Var into a plain array would silently cut its graph."""
    raise AutodiffError(
        "a Var cannot become a plain NumPy array (numpy.array, numpy.asarray): that would drop its "
        "graph and its gradient; use the engine's functions (core.array, core.stack), or var.value "
        "for the numbers as a constant"
    )


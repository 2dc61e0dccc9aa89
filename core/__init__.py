"""Backprop Studio's engine: reverse-mode automatic differentiation on NumPy and SciPy.

    import core as ad
    ad.grad(lambda x, y: x * y + x)(2.0, 3.0)   # -> (4.0, 2.0)

Every function below is a primitive of the one op table (``core.ops.OPS``) or a thin composition
of primitives; each works on plain numbers and arrays (plain NumPy, no graph) and on ``Var``s
(recording the graph that ``grad`` walks backwards).
"""

from .api import grad, hessian, jacobian, value_and_grad
from .backward import backward, toposort
from .errors import AutodiffError, GradientCheckError, LinAlgError, ShapeError
from .gradcheck import check_grads, numerical_grad
from .ops import (
    FUNCTIONS,
    OPS,
    abs,
    add,
    broadcast_to,
    cholesky,
    cos,
    det,
    diag,
    divide,
    dot,
    exp,
    getitem,
    identity,
    inv,
    log,
    logabsdet,
    logdet,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    multiply,
    negative,
    outer,
    power,
    relu,
    reshape,
    scatter,
    sigmoid,
    sin,
    slogdet,
    softmax,
    softplus,
    solve,
    sqrt,
    subtract,
    sum,
    tan,
    tanh,
    transpose,
    unbroadcast,
)
from .trace import Trace, trace
from .var import Var

__all__ = [
    "Var", "Trace", "trace", "grad", "value_and_grad", "jacobian", "hessian", "backward", "toposort",
    "check_grads", "numerical_grad", "OPS", "unbroadcast",
    "AutodiffError", "ShapeError", "LinAlgError", "GradientCheckError",
    "abs", "add", "broadcast_to", "cos", "divide", "exp", "getitem", "identity", "log",
    "logsumexp", "max", "maximum", "mean", "min", "minimum", "multiply", "negative", "power",
    "relu", "reshape", "scatter", "sigmoid", "sin", "softmax", "softplus", "sqrt", "subtract",
    "sum", "tan", "tanh", "transpose",
    "cholesky", "det", "diag", "dot", "inv", "logabsdet", "logdet", "matmul", "outer", "slogdet",
    "solve", "trace",
]

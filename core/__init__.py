"""Backprop Studio's engine: reverse-mode automatic differentiation on NumPy and SciPy.

    import core as ad
    ad.grad(lambda x, y: x * y + x)(2.0, 3.0)   # -> (4.0, 2.0)

Every function below is a primitive of the one op table (``core.ops.OPS``) or a thin composition
of primitives (``core.FUNCTIONS`` lists them all); each works on plain numbers and arrays (plain
NumPy, no graph) and on ``Var``s (recording the graph that ``grad`` walks backwards).
"""

# Var first: it imports the op table at its end (its operators need the ops, the ops need Var),
# which works from here, whichever submodule a caller names.
from . import var  # noqa: I001
from .api import grad, hessian, jacobian, value_and_grad
from .backward import backward, toposort
from .errors import AutodiffError, GradientCheckError, LinAlgError, ShapeError
from .gradcheck import check_grads, numerical_grad
from .ops import *  # noqa: F403  (every public function of the op table: ops.__all__)
from .ops import FUNCTIONS, OPS, unbroadcast
from .trace import Trace, trace
from .var import Var

__all__ = [
    "Var", "Trace", "grad", "value_and_grad", "jacobian", "hessian", "backward", "toposort",
    "check_grads", "numerical_grad", "OPS", "FUNCTIONS", "unbroadcast",
    "AutodiffError", "ShapeError", "LinAlgError", "GradientCheckError",
    *sorted(FUNCTIONS),
]

"""The backward pass's own guard: every contribution has its parent's shape."""

from __future__ import annotations

import numpy as np
import pytest

import core as ad
from core.ops import Op
from core.var import Var


def node_with_a_wrong_vjp(x: Var) -> Var:
    """A node whose op claims y = 2x but whose VJP sends back a (1, 3) array for a (3,) parent:
    the kind of bug a new op's VJP has when it forgets to unbroadcast or reshape. The op is made
    by hand, not declared with ``primitive``, so the shared op table stays as it is."""
    op = Op("doubled", "2×", lambda v: 2 * v, ("x",), (lambda g, z, v: (2 * g)[None, :],), (r"\bar x = 2\bar z",))
    return Var(2 * x.value, None, (x,), op)


def test_a_vjp_of_the_wrong_shape_is_an_error_not_a_silently_broadcast_gradient():
    x = Var(np.arange(3.0))
    loss = ad.sum(node_with_a_wrong_vjp(x))
    with pytest.raises(ad.AutodiffError, match=r"VJP of doubled for argument 0 has shape \(1, 3\), expected \(3,\)"):
        ad.backward(loss, [x])


def test_the_same_node_with_a_right_vjp_differentiates():
    x = Var(np.arange(3.0))
    op = Op("doubled", "2×", lambda v: 2 * v, ("x",), (lambda g, z, v: 2 * g,), (r"\bar x = 2\bar z",))
    loss = ad.sum(Var(2 * x.value, None, (x,), op))
    np.testing.assert_array_equal(ad.backward(loss, [x])[x], [2.0, 2.0, 2.0])

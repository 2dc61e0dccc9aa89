r"""Products and contractions: ``matmul``, ``outer``, ``einsum``, ``tensordot``; and ``dot``,
``inner``, ``kron`` as compositions of them.

``matmul`` follows NumPy: 1-D operands are promoted to a row (left) or a column (right) and the
added axis dropped again; leading axes are batch axes and broadcast. The VJPs are the classic
matrix-calculus results (M. B. Giles, *An extended collection of matrix derivative results for
forward and reverse mode algorithmic differentiation*, 2008): Ā = z̄ Bᵀ and B̄ = Aᵀ z̄.

``einsum`` takes any subscripts NumPy takes: explicit (``"ij,jk->ik"``) or implicit output,
ellipses (``"...ij,...jk"``), repeated indices within an operand (``"ii->i"``, a diagonal),
size-1 axes that broadcast. The VJP of an einsum is an einsum: the gradient with respect to one
operand contracts z̄ with all the *other* operands into that operand's indices (indices it alone
has are summed against ones; repeated ones are written back onto their diagonal), and each
node's rule shows that einsum. ``tensordot`` runs NumPy's BLAS-backed ``tensordot`` and has the
einsum VJPs of its subscripts.
"""

from __future__ import annotations

import string

import numpy as np

from .errors import ShapeError
from .ops_shape import reshape, transpose, unbroadcast
from .optable import composite, primitive, size_of
from .var import raw


def _mT(x):
    """Swap the last two axes (the matrix transpose of a batch of matrices)."""
    if x.ndim == 2:
        return transpose(x)
    return transpose(x, axes=tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


# ---- matmul ---------------------------------------------------------------------------------------


def _as_matrices(g, a, b):
    """View 1-D operands (and ``g``) as matrices, as np.matmul does, so one formula serves all."""
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    out = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]) + (a2.shape[-2], b2.shape[-1])
    g2 = reshape(g, out) if g.shape != out else g
    return g2, a2, b2


def _contiguous(g):
    """g as BLAS wants it: a broadcast view (sum's VJP, see unreduce) takes a slow path in matmul."""
    return g if g.flags.c_contiguous else np.ascontiguousarray(g)


def _matmul_forward(a, b):
    """np.matmul; for two matrices ndarray.dot, the same BLAS product without the generalized
    ufunc's dispatch (300 ns instead of 750 ns on 4×4 matrices, most of a small product's time)."""
    if type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return a.dot(b)
    return np.matmul(a, b)  # NumPy refuses scalars itself (ValueError)


def _matmul_vjp_a(g, z, a, b):
    if type(g) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return _contiguous(g).dot(b.T)  # the common case, on plain arrays: nothing to promote or unbroadcast
    g2, a2, b2 = _as_matrices(g, a, b)
    ga = unbroadcast(matmul(g2, _mT(b2)), a2.shape)
    return reshape(ga, a.shape) if ga.shape != a.shape else ga


def _matmul_vjp_b(g, z, a, b):
    if type(g) is np.ndarray and type(a) is np.ndarray and a.ndim == 2 and b.ndim == 2:
        return a.T.dot(_contiguous(g))
    g2, a2, b2 = _as_matrices(g, a, b)
    gb = unbroadcast(matmul(_mT(a2), g2), b2.shape)
    return reshape(gb, b.shape) if gb.shape != b.shape else gb


def _matmul_dims(a: tuple, b: tuple) -> tuple:
    """(batch shape, m, k, n) of ``a @ b`` under NumPy's rules, or ValueError."""
    if not a or not b:
        raise ValueError("matmul does not take scalars; use * to scale")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ValueError(f"the inner sizes {a2[-1]} and {b2[-2]} differ")
    return np.broadcast_shapes(a2[:-2], b2[:-2]), a2[-2], a2[-1], b2[-1]


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    batch, m, _, n = _matmul_dims(a, b)
    return batch + ((m,) if len(a) > 1 else ()) + ((n,) if len(b) > 1 else ())


def _matmul_cost(a: tuple, b: tuple) -> int:
    batch, m, k, n = _matmul_dims(a, b)
    return size_of(batch) * m * k * n


matmul = primitive("matmul", _matmul_forward, symbol="@", shape=_matmul_shape, cost=_matmul_cost, grads=[
    ("A", _matmul_vjp_a, r"\bar{A} \mathrel{+}= \bar{z}\, B^\top"),
    ("B", _matmul_vjp_b, r"\bar{B} \mathrel{+}= A^\top \bar{z}"),
])


def _dot_rules(a: tuple, b: tuple) -> tuple:
    """(shape, cost) of dot: a product, a matmul, or a tensordot over a's last and b's second-to-last."""
    if not a or not b:
        shape = np.broadcast_shapes(a, b)
        return shape, size_of(shape)
    if len(a) <= 2 and len(b) <= 2:
        return _matmul_shape(a, b), _matmul_cost(a, b)
    return _tensordot_rules(a, b, ([-1], [-2 if len(b) > 1 else 0]))


def _inner_rules(a: tuple, b: tuple) -> tuple:
    if not a or not b:
        shape = np.broadcast_shapes(a, b)
        return shape, size_of(shape)
    return _tensordot_rules(a, b, ([-1], [-1]))


@composite("dot", operands=("a", "b"), shape=lambda a, b: _dot_rules(a, b)[0], cost=lambda a, b: _dot_rules(a, b)[1])
def dot(a, b):
    """NumPy's ``dot``: a product with a scalar, ``matmul`` up to 2-D, and above 2-D the sum over
    a's last axis and b's second-to-last (a ``tensordot``; unlike ``matmul``, no batching)."""
    if np.ndim(raw(a)) == 0 or np.ndim(raw(b)) == 0:
        return a * b
    if np.ndim(raw(a)) <= 2 and np.ndim(raw(b)) <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [-2 if np.ndim(raw(b)) > 1 else 0]))


def _outer_forward(a, b):
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError("outer takes two vectors")
    return np.outer(a, b)


def _outer_shape(a: tuple, b: tuple) -> tuple:
    if len(a) != 1 or len(b) != 1:
        raise ValueError("outer takes two vectors")
    return a + b


outer = primitive("outer", _outer_forward, symbol="⊗", shape=_outer_shape, grads=[
    ("a", lambda g, z, a, b: matmul(g, b), r"\bar{a} \mathrel{+}= \bar{z}\, b"),
    ("b", lambda g, z, a, b: matmul(a, g), r"\bar{b} \mathrel{+}= \bar{z}^\top a"),
])


# ---- einsum -------------------------------------------------------------------------------------------

_LABELS = frozenset(string.ascii_letters)


def parse_einsum(subscripts: str, shapes) -> tuple:
    """``(input terms, output term, size of each label)`` of an einsum, with ellipses written out as
    letters no term uses and an implicit output made explicit, as NumPy reads them; ShapeError if
    the subscripts don't fit the shapes."""
    text = subscripts.replace(" ", "")
    if any(c not in _LABELS and c not in ",.->" for c in text):
        raise ShapeError(f"einsum subscripts are letters, ',', '->' and '...', not {subscripts!r}")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ShapeError(f"einsum subscripts {subscripts!r} name {len(terms)} operand(s), but {len(shapes)} were given")
    spare = [c for c in string.ascii_letters if c not in text]
    ellipsis_dims = 0
    for term, shape in zip(terms, shapes):
        if term.count("...") > 1 or term.replace("...", "").count(".") or "-" in term or ">" in term:
            raise ShapeError(f"einsum term {term!r} is malformed")
        if "..." in term:
            ellipsis_dims = max(ellipsis_dims, len(shape) - (len(term) - 3))
    broadcast_labels = "".join(spare[:ellipsis_dims])
    expanded = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            n = len(shape) - (len(term) - 3)
            if n < 0:
                raise ShapeError(f"einsum term {term!r} has more labels than operand shape {shape} has axes")
            term = term.replace("...", broadcast_labels[ellipsis_dims - n:])
        if len(term) != len(shape):
            raise ShapeError(f"einsum term {term!r} has {len(term)} labels but its operand has shape {shape}")
        expanded.append(term)
    if arrow:
        if output.count("...") > 1 or output.replace("...", "").count("."):
            raise ShapeError(f"einsum output {output!r} is malformed")
        output = output.replace("...", broadcast_labels)
    else:
        counts = "".join(expanded)
        output = broadcast_labels + "".join(sorted(c for c in set(counts) if counts.count(c) == 1
                                                   and c not in broadcast_labels))
    sizes = {}
    for term, shape in zip(expanded, shapes):
        own = {}
        for label, n in zip(term, shape):  # a label repeated within one operand: a diagonal, no broadcasting
            if own.setdefault(label, n) != n:
                raise ShapeError(f"einsum label {label!r} repeats in {term!r} with sizes {own[label]} and {n}")
        for label, n in zip(term, shape):
            if sizes.get(label, 1) != 1 and n not in (1, sizes[label]):
                raise ShapeError(f"einsum label {label!r} has sizes {sizes[label]} and {n}")
            if n != 1 or label not in sizes:
                sizes[label] = n
    if len(set(output)) != len(output) or any(c not in sizes for c in output):
        raise ShapeError(f"einsum output {output!r} repeats a label or names one no operand has")
    return expanded, output, sizes


def _einsum_forward(*operands, subscripts):
    terms, output, sizes = parse_einsum(subscripts, [np.shape(x) for x in operands])
    # NumPy's own contraction order (BLAS where it can) pays for its planning on big problems only.
    big = size_of([sizes[c] for c in sizes]) > 20_000
    return np.einsum(",".join(terms) + "->" + output, *operands, optimize=big)


def _einsum_shape(*shapes, subscripts):
    _, output, sizes = parse_einsum(subscripts, shapes)
    return tuple(sizes[c] for c in output)


def _einsum_cost(*shapes, subscripts):
    """The naive contraction: one multiply-add per combination of every label's values."""
    _, _, sizes = parse_einsum(subscripts, shapes)
    return size_of(sizes.values()) * max(1, len(shapes) - 1)


def einsum_vjp_plan(terms: list, output: str, position: int, shape: tuple) -> tuple:
    """How the VJP for operand ``position`` is computed, as einsums: ``(subscripts, needs_ones,
    diagonal)``. ``subscripts`` contracts z̄ and the other operands (then ones over the labels only
    this operand has, if ``needs_ones`` lists them) into this operand's distinct labels;
    ``diagonal``, if not None, is the einsum that writes that result back onto the diagonal of
    repeated labels (with one identity matrix per repeat)."""
    wrt = terms[position]
    distinct = "".join(dict.fromkeys(wrt))
    others = terms[:position] + terms[position + 1:]
    reachable = set(output).union(*others) if others else set(output)
    alone = "".join(c for c in distinct if c not in reachable)
    inputs = [output] + others + ([alone] if alone else [])
    subscripts = ",".join(inputs) + "->" + distinct
    diagonal = None
    if len(distinct) != len(wrt):
        spare = [c for c in string.ascii_letters if c not in "".join(terms) + output]
        renamed, deltas, seen = [], [], set()
        for c in wrt:
            if c in seen:
                fresh = spare.pop(0)
                renamed.append(fresh)
                deltas.append(c + fresh)
            else:
                seen.add(c)
                renamed.append(c)
        diagonal = ",".join([distinct] + deltas) + "->" + "".join(renamed)
    return subscripts, alone, diagonal


def _einsum_vjp(position, g, z, *operands, subscripts):
    """x̄_i = einsum(z̄, the other operands -> x_i's labels), then onto x_i's diagonals, summed
    over the axes where x_i was broadcast."""
    shapes = [np.shape(raw(x)) for x in operands]
    terms, output, sizes = parse_einsum(subscripts, shapes)
    plan, alone, diagonal = einsum_vjp_plan(terms, output, position, shapes[position])
    others = list(operands[:position] + operands[position + 1:])
    ones = [np.ones([sizes[c] for c in alone])] if alone else []
    result = einsum(plan, g, *others, *ones)
    if diagonal is not None:
        distinct = diagonal.split(",")[0]
        eyes = [np.eye(result.shape[distinct.index(pair[0])]) for pair in diagonal.split("->")[0].split(",")[1:]]
        result = einsum(diagonal, result, *eyes)
    return unbroadcast(result, shapes[position])


def _einsum_rule(position, attrs) -> str:
    """The einsum that computes this operand's VJP, written with the node's own subscripts (an
    ellipsis stays an ellipsis)."""
    subscripts = attrs["subscripts"]
    terms = subscripts.replace(" ", "").split("->")[0].split(",")
    shapes = [(1,) * (len(t.replace("...", "")) + ("..." in t)) for t in terms]
    try:
        terms, output, _ = parse_einsum(subscripts, shapes)
        plan, alone, diagonal = einsum_vjp_plan(terms, output, position, shapes[position])
    except ShapeError:
        return _EINSUM_RULE
    if "..." in subscripts:  # the one letter that stood for the ellipsis goes back to "..."
        letter = next(c for c in string.ascii_letters if c not in subscripts)
        plan, diagonal = plan.replace(letter, "..."), diagonal and diagonal.replace(letter, "...")
    operands = [r"\bar{z}"] + [f"x_{{{j}}}" for j in range(len(terms)) if j != position]
    operands += [r"\mathbf{1}"] if alone else []
    rule = rf"\bar{{x}}_{{{position}}} \mathrel{{+}}= \operatorname{{einsum}}(\text{{{plan}}}, {', '.join(operands)})"
    return rule + (rf"\text{{, onto the diagonal: {diagonal}}}" if diagonal else "")


_EINSUM_RULE = r"\bar{x}_i \mathrel{+}= \operatorname{einsum}(\bar{z}, x_{j \ne i})"
einsum = primitive("einsum", _einsum_forward, attrs=("subscripts",), call="subscripts", shape=_einsum_shape,
                   cost=_einsum_cost, rule_for=_einsum_rule, symbol="einsum", grads=[
    # "operands", not a one-letter name: the rule's x_i then stays generic in the app's rendering
    ("operands", _einsum_vjp, _EINSUM_RULE),
])

# ---- tensordot, and the compositions ------------------------------------------------------------


def tensordot_subscripts(a: tuple, b: tuple, axes=2) -> str:
    """The einsum subscripts of ``tensordot(a, b, axes)``: a's free axes, then b's."""
    if isinstance(axes, (int, np.integer)):
        if not 0 <= axes <= min(len(a), len(b)):
            raise ShapeError(f"tensordot can't contract {axes} axes of shapes {a} and {b}")
        axes_a, axes_b = list(range(len(a) - axes, len(a))), list(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    if len(axes_a) != len(axes_b):
        raise ShapeError(f"tensordot needs as many axes of a as of b, got {axes_a} and {axes_b}")
    try:
        axes_a = [int(i) % len(a) if -len(a) <= i < len(a) else None for i in axes_a]
        axes_b = [int(i) % len(b) if -len(b) <= i < len(b) else None for i in axes_b]
    except ZeroDivisionError:
        raise ShapeError("tensordot contracts axes that a scalar doesn't have") from None
    if None in axes_a or None in axes_b or len(set(axes_a)) != len(axes_a) or len(set(axes_b)) != len(axes_b):
        raise ShapeError(f"tensordot axes {axes!r} don't fit shapes {a} and {b}")
    if any(a[i] != b[j] for i, j in zip(axes_a, axes_b)):
        raise ShapeError(f"tensordot contracts axes of different sizes: {a} and {b} along {axes!r}")
    letters = iter(string.ascii_letters)
    sub_a = [next(letters) for _ in a]
    sub_b = [next(letters) for _ in b]
    for i, j in zip(axes_a, axes_b):
        sub_b[j] = sub_a[i]
    free = [c for i, c in enumerate(sub_a) if i not in axes_a] + [c for j, c in enumerate(sub_b) if j not in axes_b]
    return "".join(sub_a) + "," + "".join(sub_b) + "->" + "".join(free)


def _tensordot_vjp(position, g, z, a, b, axes=2):
    terms, output = tensordot_subscripts(np.shape(raw(a)), np.shape(raw(b)), axes).split("->")
    term_a, term_b = terms.split(",")
    if position == 0:
        return einsum(f"{output},{term_b}->{term_a}", g, b)
    return einsum(f"{term_a},{output}->{term_b}", a, g)


def _tensordot_rule(position, attrs) -> str:
    return (r"\bar{a} \mathrel{+}= \operatorname{einsum}(\bar{z}, b)" if position == 0
            else r"\bar{b} \mathrel{+}= \operatorname{einsum}(a, \bar{z})")


def _tensordot_rules(a: tuple, b: tuple, axes=2) -> tuple:
    subscripts = tensordot_subscripts(a, b, axes)
    return _einsum_shape(a, b, subscripts=subscripts), _einsum_cost(a, b, subscripts=subscripts)


tensordot = primitive(
    "tensordot", lambda a, b, axes=2: np.tensordot(a, b, axes), attrs=("axes",),
    shape=lambda a, b, axes=2: _tensordot_rules(a, b, axes)[0],
    cost=lambda a, b, axes=2: _tensordot_rules(a, b, axes)[1], grads=[
        ("a", lambda g, z, a, b, axes=2: _tensordot_vjp(0, g, z, a, b, axes), _tensordot_rule(0, None)),
        ("b", lambda g, z, a, b, axes=2: _tensordot_vjp(1, g, z, a, b, axes), _tensordot_rule(1, None)),
    ])


@composite("inner", operands=("a", "b"), shape=lambda a, b: _inner_rules(a, b)[0],
           cost=lambda a, b: _inner_rules(a, b)[1])
def inner(a, b):
    """NumPy's ``inner``: the sum over the last axes of both (a product if either is a scalar)."""
    if np.ndim(raw(a)) == 0 or np.ndim(raw(b)) == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [-1]))


def _kron_shape(a: tuple, b: tuple) -> tuple:
    d = max(len(a), len(b))
    return tuple(m * n for m, n in zip((1,) * (d - len(a)) + a, (1,) * (d - len(b)) + b))


@composite("kron", operands=("a", "b"), shape=_kron_shape)
def kron(a, b):
    """The Kronecker product: every entry of a times the whole of b, in blocks (an einsum of the
    two, then a reshape that lays each block in place)."""
    sa, sb = np.shape(raw(a)), np.shape(raw(b))
    d = max(len(sa), len(sb))
    sa, sb = (1,) * (d - len(sa)) + sa, (1,) * (d - len(sb)) + sb
    a, b = reshape(a, sa), reshape(b, sb)
    la, lb = string.ascii_letters[:d], string.ascii_letters[d:2 * d]
    paired = einsum(f"{la},{lb}->{''.join(x + y for x, y in zip(la, lb))}", a, b)
    return reshape(paired, tuple(m * n for m, n in zip(sa, sb)))

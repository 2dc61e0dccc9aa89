"""The tool tabs under the step view: what-if inputs, gradient check, function view, second
order, export. Each reads the session state and draws; the work is in core and ui's pure modules,
and expensive results are computed on request and kept in the session (keyed by what they depend
on), so stepping through the timeline never recomputes them."""

from __future__ import annotations

import zlib

import numpy as np
import streamlit as st

from core import gradcheck, sweep
from core.errors import AutodiffError
from core.second_order import MAX_HESSIAN_INPUTS, hessian_vector_product, program_hessian
from core.train import DEFAULT_TRAINING_LIMITS, METHODS, train

from . import panels, shared
from . import state as S
from .figures import gradient_check_figure, heatmap, sweep_1d_figure, sweep_2d_figure, training_figure
from .names import Model, Widget


def _scalar_inputs(trace) -> list:
    return [name for name, i in trace.inputs.items() if trace.nodes[i].shape == ()]


def _cached(key: tuple, compute):
    """compute() once per key in this session; an AutodiffError is kept and shown, not raised."""
    return S.remember(st.session_state, key, compute)


# ---- what if ---------------------------------------------------------------------------------------

WHAT_IF_BOXES = 8


def what_if() -> None:
    state = st.session_state
    trace = state[Model.TRACE]
    names = _scalar_inputs(trace)
    if not names:
        st.info("This program has no scalar inputs to change. Bind a name to a number (x = 2.0) to get one.")
        return
    st.caption("Change a number: the program's text, the graph, the gradients and the link follow, "
               "at the same step of the timeline.")
    if len(names) > WHAT_IF_BOXES:  # hundreds of weights: pick the ones to change
        names = st.multiselect(f"Inputs to change ({len(names)} in all)", names, default=names[:WHAT_IF_BOXES],
                               max_selections=WHAT_IF_BOXES, key=Widget.WHAT_IF_INPUTS)
        if not names:
            return
    columns = st.columns(min(4, len(names)))
    version = zlib.crc32(f"{state.get(Model.PROGRAM)}\0{state.get(Model.SEED)}".encode())
    for k, name in enumerate(names):
        key = f"{Widget.WHAT_IF}{name}_{version}"  # a new program or seed: fresh widgets with its values
        columns[k % len(columns)].number_input(
            name, value=float(trace.nodes[trace.inputs[name]].value), step=0.1, key=key,
            on_change=_what_if_changed, args=(name, key),
        )


def _what_if_changed(name: str, key: str) -> None:
    state = st.session_state
    S.set_input_value(state, name, state[key], panels.run_program)


# ---- second order ----------------------------------------------------------------------------------


def second_order() -> None:
    state = st.session_state
    trace = state[Model.TRACE]
    if trace.note:
        st.info(trace.note)
        return
    names = _scalar_inputs(trace)
    if names:
        st.markdown("**Differentiate again.** The backward pass can be written out as a graph of its own: "
                    "pick an input x and step through the graph that computes ∂out/∂x. Its backward pass "
                    "gives the row x of the Hessian.")
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        wrt = left.selectbox("The gradient with respect to", names, key=Widget.SECOND_WRT)
        right.button("Differentiate again", icon=":material/functions:", on_click=S.set_second_order,
                     args=(state, wrt, panels.gradient_trace), type="primary", width="stretch",
                     key=Widget.SECOND_GO)
    else:
        st.info("Differentiate again shows the gradient's graph for a scalar input; this program's inputs "
                "are arrays. The Hessian-vector product below still works.")
    program, seed = state[Model.PROGRAM], state.get(Model.SEED, 0)
    status, result = "error", None
    if len(names) == len(trace.inputs) and len(names) <= MAX_HESSIAN_INPUTS:
        status, result = _cached(("hessian", program, seed), lambda: shared.bounded(program_hessian, program, seed))
    if status == "ok":
        labels, H = result
        st.markdown("**Hessian** ∂²out/∂xᵢ∂xⱼ (reverse over reverse; symmetric up to rounding):")
        st.dataframe({"∂²out/∂·∂·": list(labels), **{name: H[:, j] for j, name in enumerate(labels)}},
                     hide_index=True)
        if len(labels) > 1:
            st.plotly_chart(heatmap(H, "Hessian", diverging=True), width="stretch")
    else:  # array inputs (or too many): H·v, which needs no dense H
        status, result = _cached(("hvp", program, seed), lambda: _hvp_along_ones(program, seed, trace))
        if status == "error":
            st.error(result)
            return
        st.markdown("**Hessian-vector product** H·v with v = all ones (one reverse-over-reverse pass, "
                    "without forming H):")
        for name, value in result.items():
            st.markdown(f"- (H·v) for **{name}**: `{np.array2string(np.asarray(value), precision=4, threshold=12)}`")


def _hvp_along_ones(program: str, seed: int, trace) -> dict:
    direction = {name: np.ones(trace.nodes[i].shape) for name, i in trace.inputs.items()}
    return shared.bounded(hessian_vector_product, program, seed, direction)


# ---- gradient check ----------------------------------------------------------------------------------


def gradient_check() -> None:
    state = st.session_state
    program, seed = state[Model.PROGRAM], state.get(Model.SEED, 0)
    st.markdown("The engine's gradient of every input against **central finite differences** "
                "(f(x + εe) − f(x − εe)) / 2ε on the same program: entrywise for small inputs, along "
                "random directions for large ones.")
    symmetric = st.toggle("Perturb symmetric matrices symmetrically", key=Widget.CHECK_SYMMETRIC,
                          help=gradcheck.SYMMETRIC_EXPLANATION)
    if symmetric:
        st.caption(gradcheck.SYMMETRIC_EXPLANATION)
    if not st.button("Run the check", icon=":material/rule:", key=Widget.CHECK_RUN) and \
            ("check", program, seed, symmetric) not in st.session_state.get(Model.TOOL_CACHE, {}):
        return
    status, report = _cached(("check", program, seed, symmetric),
                             lambda: shared.bounded(gradcheck.check_program, program, seed, symmetric=symmetric))
    if status == "error":
        st.error(report)
        return
    _show_check(report)


def _show_check(report) -> None:
    if report.error:
        st.error(report.error)
        return
    st.dataframe(check_rows(report), hide_index=True, width="stretch")
    # The two gradients side by side, entry by entry (or direction by direction), for each input.
    for check in report.inputs:
        verdict = "✓" if check.passed else "✗"
        with st.expander(f"{verdict} {check.name}: the engine's gradient beside finite differences ({check.method})",
                         expanded=not check.passed):
            st.dataframe(entry_rows(check), hide_index=True, width="stretch")
    st.plotly_chart(gradient_check_figure(report), width="stretch")


def check_rows(report: gradcheck.GradientCheckReport) -> list:
    """One row per input for the summary table."""
    return [{"input": check.name, "shape": str(check.shape), "method": check.method,
             "max |error|": check.max_abs_error, "max relative error": check.max_rel_error,
             "evaluations": check.evaluations, "result": "✓ pass" if check.passed else "✗ FAIL",
             "note": check.message or check.reason} for check in report.inputs]


def entry_rows(check: gradcheck.InputCheck) -> list:
    """One row per entry (or direction) of one input: the table of engine against finite differences."""
    return [{"entry": label, "engine": e, "finite differences": n, "|error|": a, "relative error": r,
             "allowed": t, "result": "✓" if ok else "✗"}
            for label, e, n, a, r, t, ok in zip(check.labels, check.engine.ravel(), check.numeric.ravel(),
                                                 check.abs_error.ravel(), check.rel_error.ravel(),
                                                 check.allowed.ravel(), check.ok.ravel())]



# ---- function view -------------------------------------------------------------------------------


def function_view() -> None:
    state = st.session_state
    trace = state[Model.TRACE]
    program, seed = state[Model.PROGRAM], state.get(Model.SEED, 0)
    names = list(trace.inputs)
    if not names:
        st.info("This program has no inputs.")
        return
    st.markdown("Sweep one input with everything else fixed: the output, its derivative from the engine, the "
                "tangent at the current value, and the finite-difference slope beside it. Pick two inputs for "
                "a contour plot with the gradient arrow.")
    chosen = st.multiselect("Inputs to sweep (one or two scalars)", names, default=_scalar_inputs(trace)[:1],
                            max_selections=2, key=Widget.SWEEP_INPUTS)
    if not chosen:
        return
    ranges = []
    columns = st.columns(len(chosen))
    for column, name in zip(columns, chosen):
        node = trace.nodes[trace.inputs[name]]
        centre = float(node.value) if node.shape == () else 0.0
        half = max(1.0, abs(centre))
        # Keyed by the input's value: a what-if change re-centres the range on the new value.
        version = f"{name}_{centre!r}"
        low = column.number_input(f"{name} from", value=centre - half, key=f"{Widget.SWEEP_LOW}{version}")
        high = column.number_input(f"{name} to", value=centre + half, key=f"{Widget.SWEEP_HIGH}{version}")
        ranges.append((low, high))
    if len(chosen) == 1:
        swept = lambda: shared.bounded(sweep.sweep_1d, program, seed, chosen[0], *ranges[0])  # noqa: E731
        status, result = _cached(("sweep", program, seed, chosen[0], ranges[0]), lambda: sweep_1d_figure(swept()))
    else:
        swept = lambda: shared.bounded(sweep.sweep_2d, program, seed, *chosen, *ranges)  # noqa: E731
        status, result = _cached(("sweep2", program, seed, tuple(chosen), tuple(ranges)),
                                 lambda: sweep_2d_figure(swept()))
    if status == "error":
        st.error(result, icon=":material/error:")
    else:
        st.plotly_chart(result, width="stretch")


# ---- training ------------------------------------------------------------------------------------------

METHOD_NAMES = {"gd": "gradient descent", "momentum": "momentum", "adam": "Adam"}


def training() -> None:
    """Gradient descent (or momentum, Adam) on some inputs of the program: the loss curve, the
    inputs' paths, and any iterate's whole pass opened in the step view."""
    state = st.session_state
    trace, program, seed = state[Model.TRACE], state[Model.PROGRAM], state.get(Model.SEED, 0)
    names = list(trace.inputs)
    if not names or trace.note:
        st.info("Training needs a program with inputs and one number as its output.")
        return
    st.markdown("Minimise the output over some of the program's inputs, step by step, and open any step's "
                "forward and backward pass in the step view above.")
    chosen = st.multiselect("Inputs to train", names, default=names, key=Widget.TRAIN_INPUTS)
    left, middle, right = st.columns(3)
    method = left.selectbox("Method", METHODS, format_func=METHOD_NAMES.get, key=Widget.TRAIN_METHOD)
    learning_rate = middle.number_input("Learning rate", min_value=1e-6, max_value=10.0, value=0.1, step=0.01,
                                        format="%g", key=Widget.TRAIN_RATE)
    steps = right.number_input("Steps", min_value=1, max_value=DEFAULT_TRAINING_LIMITS.max_steps, value=100,
                               key=Widget.TRAIN_STEPS)
    key = ("train", program, seed, tuple(chosen), method, float(learning_rate), int(steps))
    asked = st.button("Train", icon=":material/model_training:", key=Widget.TRAIN_RUN, disabled=not chosen)
    if not asked and key not in state.get(Model.TOOL_CACHE, {}):
        return
    status, result = _cached(key, lambda: shared.bounded(train, program, seed, wrt=tuple(chosen), method=method,
                                                         steps=int(steps), learning_rate=float(learning_rate)))
    if status == "error":
        st.error(result)
        return
    st.plotly_chart(training_figure(result), width="stretch")
    st.caption(f"Loss {result.losses[0]:.6g} → {result.losses[-1]:.6g} after {result.steps} steps of "
               f"{METHOD_NAMES[result.method]}.")
    if result.note:
        st.warning(result.note)
    pick, go = st.columns([3, 1], vertical_alignment="bottom")
    k = pick.slider("Iterate to open", 0, result.steps, result.steps, key=Widget.TRAIN_ITERATE)
    go.button("Open its pass", icon=":material/open_in_browser:", key=Widget.TRAIN_OPEN, on_click=_open_iterate,
              args=(result, k), width="stretch")


def _open_iterate(result, k: int) -> None:
    """Put iterate k's values into the program's text and run it: the step view shows its pass."""
    state = st.session_state
    try:
        text = result.program_at(k)
    except AutodiffError as exc:
        state[Model.ERROR] = S.ProgramError(f"cannot open iterate {k}: {exc.message}")
        return
    S.set_editor_text(state, text)
    S.run_editor(state, panels.run_program)

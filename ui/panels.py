"""The Streamlit panels. Each reads the page model and draws; the logic lives elsewhere (``state``
changes the model, ``studio`` builds what the step view shows, ``shared`` computes it once for
all sessions)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.examples import load_examples
from core.language import caret_excerpt

from . import derivation, names, shared, studio
from . import export as exporting
from . import state as S
from .figures import heatmap
from .names import Model, Widget

ASSETS = Path(__file__).resolve().parent.parent / "assets"
CSS = (ASSETS / "style.css").read_text()
STEP_VIEW = st.components.v2.component(names.COMPONENT, js=(studio.STATIC / "studio" / "loader.js").read_text())


def run_program(text: str, seed: int):
    """The Trace of a program, prepared once for all sessions in a bounded job (ui/shared.py)."""
    return shared.prepared(text, seed, None, st.session_state.get(Model.RANKDIR, "TB")).trace


def gradient_trace(text: str, seed: int, wrt: str):
    return shared.prepared(text, seed, wrt, st.session_state.get(Model.RANKDIR, "TB")).trace


def style() -> None:
    st.html(f"<style>{CSS}</style>")


def init() -> None:
    S.init(st.session_state, st.query_params, run_program, gradient_trace)


def presentation_toggle() -> None:
    st.toggle("Presentation mode", key=Widget.PRESENT, on_change=S.on_present, args=(st.session_state,),
              help="The graph fills the screen, the step's formula beside it, large. Keys: → / PageDown next, "
                   "← / PageUp previous, Home / End, space plays.")


def editor() -> None:
    state = st.session_state
    titles = [e.title for e in load_examples()]
    left, middle, right = st.columns([5, 4, 3])
    with left:
        # persist_state: what was typed survives the runs that don't draw the editor (presentation mode).
        text = st.text_area("Program", value=state[Model.INITIAL_TEXT], key=Widget.EDITOR, height=150,
                            on_change=S.run_editor, args=(state, run_program),
                            help="One statement per line; the last one is the output. Ctrl+Enter runs it.",
                            persist_state="session")
        S.adopt_editor(state, text, run_program)
        run, seed, _ = st.columns([1, 2, 3], vertical_alignment="bottom")
        run.button("Run", icon=":material/play_arrow:", key=Widget.RUN, on_click=S.run_editor,
                   args=(state, run_program), type="primary", width="stretch")
        seed.number_input("Seed (randn, rand, spd)", min_value=0, max_value=S.MAX_SEED, step=1, key=Widget.SEED,
                          on_change=S.on_seed, args=(state, run_program), persist_state="session")
        error = state.get(Model.ERROR)
        if error is not None:
            st.error(_located_message(S.editor_text(state), error), icon=":material/error:")
    with middle:
        mine_editor()
    with right:
        st.selectbox("Example", titles, key=Widget.EXAMPLE, index=None, placeholder="Choose an example…",
                     on_change=S.on_example, args=(state, run_program), persist_state="session")
        note = S.example_note(state)
        if note is not None:
            st.info(note, icon=":material/school:")


# ---- "My gradient": the student's derivation, checked node by node -------------------------------------


def check_claims(program: str, seed: int, text: str):
    return shared.bounded(derivation.check_claims_job, program, seed, text)


def mine_editor() -> None:
    """The claims editor beside the program: ``grad(loss, W) = ...`` lines, checked as they are
    typed (Ctrl+Enter), against the program on screen."""
    state = st.session_state
    st.text_area("My gradient", value=state[Model.MINE_INITIAL], key=S.mine_key(state), height=150,
                 placeholder="grad(loss, W) = X.T @ dZ\n\nOne claim per line: grad(OUTPUT, NAME) = expression, "
                             "with names of your own (dZ = ...) and grad(OUTPUT, NAME) of other nodes.",
                 help="Your derivation, checked against the backward pass node by node: each claim is evaluated at "
                      "the program's values and compared with the engine's gradient of that node. Ctrl+Enter checks.",
                 persist_state="session")
    example = S.shown_example(state)
    if example is not None and example.solution and example.note is not None:
        st.button("Show a correct derivation", icon=":material/lightbulb:", key=Widget.MINE_SOLUTION,
                  on_click=S.set_mine_text, args=(state, example.solution))


def claims_verdict() -> None:
    """The verdict on the claims (the first wrong node singled out), and each claim's result."""
    state = st.session_state
    checked = S.claims_report(state, check_claims)
    if checked is None:
        return
    status, report = checked
    if status == "error":
        st.error(f"My gradient: {report}", icon=":material/error:")
        return
    if report.error is not None:
        st.error(_located_message(S.mine_text(state), report.error, prefix="My gradient, "), icon=":material/error:")
        return
    show = st.success if report.all_right else st.error if report.first_wrong is not None else st.info
    show(f"**{report.summary}.** {report.verdict}", icon=":material/checklist:")
    with st.expander("My gradient, claim by claim", expanded=report.first_wrong is not None):
        marks = derivation.STATUS_MARKS
        st.dataframe([{"line": c.line, "node": c.title or c.name or "—", "result": f"{marks[c.status]} {c.status}",
                       "why": c.message} for c in report.claims], hide_index=True, width="stretch")
        for problem in [c.error for c in report.claims if c.error is not None] + list(report.problems):
            st.warning(_located_message(S.mine_text(state), problem, prefix="My gradient, "), icon=":material/warning:")
        wrong = report.first_wrong
        if wrong is not None and wrong.comparison is not None and wrong.comparison.difference is not None \
                and wrong.comparison.difference.ndim:
            comparison = wrong.comparison
            heat, entries = st.columns([3, 2])
            heat.plotly_chart(heatmap(comparison.difference, f"{wrong.title}: yours − engine", diverging=True),
                              width="stretch")
            entries.dataframe([{"entry": str(list(e.index)), "yours": e.yours, "engine": e.engine,
                                "difference": e.difference} for e in comparison.differing], hide_index=True)
        if report.tolerance is not None:
            st.caption(f"A claim is right when every entry satisfies {report.tolerance}.")


def _located_message(text: str, error, prefix: str = "") -> str:
    line, col = getattr(error, "line", None), getattr(error, "col", None)
    where = f"{prefix}line {line}, column {col}: " if line else ""
    where = where[:1].upper() + where[1:]
    excerpt = caret_excerpt(text, line, col)
    return f"{where}{error.message}" + (f"\n\n```text\n{excerpt}\n```" if excerpt else "")


def second_order_banner() -> None:
    state = st.session_state
    if state.get(Model.SECOND_TRACE) is None:
        return
    trace = state[Model.SECOND_TRACE]
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.info(f"Showing the graph that computes **{trace.title(trace.output)}**, the gradient of the output "
              f"with respect to **{state[Model.SECOND]}**. Its backward pass gives that row of the Hessian.",
              icon=":material/functions:")
    right.button("Back to the program", key=Widget.SECOND_BACK, on_click=S.set_second_order,
                 args=(state, None, gradient_trace), width="stretch")


def step_view() -> None:
    """The step view component. Its report (the step, the picked node, autoplay) reruns only the
    fragment this is called from: the model and the link follow, nothing else is redrawn."""
    state = st.session_state
    # The browser's last report, before anything is drawn: it may open or close a frame, which
    # changes what is laid out.
    S.apply_view_report(state, (state.get(Widget.STUDIO) or {}).get(names.VIEW_STATE))
    if state.get(Model.STALE):
        st.warning("Showing the last program that ran: the editor's text has an error (see above).",
                   icon=":material/history:")
    key = (state[Model.PROGRAM], state.get(Model.SEED, 0), state.get(Model.SECOND), state.get(Model.RANKDIR, "TB"),
           state.get(Model.COLLAPSED))
    shown = state.get(Model.SHOWN)
    if not _shows(shown, key):  # the session keeps what it shows, whatever the store drops
        shown = state[Model.SHOWN] = (key, shared.prepared(*key))
    payload = shown[1].payload
    checked = S.claims_report(state, check_claims) if state.get(Model.SECOND) is None else None
    claims = derivation.page_claims(checked[1] if checked is not None and checked[0] == "ok" else None)
    score = S.score(state)
    page = studio.page_part(program=payload.key, revision=state[Model.REVISION], request=state[Model.REQUEST],
                            present=bool(state.get(Model.PRESENT)), claims=claims,
                            predictions=derivation.page_predictions(S.predictions(state)),
                            score=(score.right, score.answered))
    result = STEP_VIEW(key=Widget.STUDIO, data=studio.payload(page, payload), default={names.VIEW_STATE: None},
                       on_view_change=lambda: None, on_answers_change=on_answers)
    # The same report again, as the component returns it: it is in session state above only once the
    # session has drawn the component (a new session after a restart gets it here first).
    S.apply_view_report(state, result.get(names.VIEW_STATE))
    S.sync_query_params(state, st.query_params)


def _shows(shown, key: tuple) -> bool:
    """Whether the prepared program the session shows is the one ``key`` asks for. A key without
    collapsed frames (None: the program's default) is answered with the default resolved
    (``Prepared.collapsed``), which the browser then reports back: the same program, not another
    one to prepare."""
    if shown is None or shown[0][:4] != key[:4]:
        return False
    return key[4] == shown[0][4] or key[4] == shown[1].collapsed


def check_answers(program: str, seed: int, second: str | None, t: int, answers: tuple):
    return shared.bounded(derivation.check_answers_job, program, seed, second, t, answers)


def on_answers() -> None:
    """Predict-then-reveal: the browser revealed a step and sends what was typed, to be marked."""
    state = st.session_state
    trace = S.active_trace(state)
    sent = (state.get(Widget.STUDIO) or {}).get(names.ANSWERS_TRIGGER)
    shown = state.get(Model.SHOWN)
    current = shown is not None and isinstance(sent, dict) and sent.get("program") == shown[1].payload.key
    answers = derivation.valid_answers(sent, trace) if trace is not None and current else None
    if answers is not None:
        S.mark_answers(state, *answers, check_answers)


def layout_choice() -> None:
    st.radio("Layout", ["TB", "LR"], key=Widget.RANKDIR, horizontal=True, on_change=S.on_rankdir,
             args=(st.session_state,), format_func=lambda d: "top to bottom" if d == "TB" else "left to right",
             persist_state="session")


def export(trace) -> None:
    """Downloads of what is on screen. ``on_click="ignore"``: a click downloads and reruns
    nothing, so the next button's file is never one a rerun has already replaced."""
    state = st.session_state
    t = state.get(Model.T, 0)
    left, middle, right = st.columns(3)
    rankdir = state.get(Model.RANKDIR, "TB")
    # Every file is made when its button is clicked, not on every step (the DOT of the step shown
    # when the button was drawn: the last one the browser reported).
    left.download_button("Graph as DOT", lambda: exporting.export_dot(trace, t, rankdir),
                         f"backprop-t{t}.dot", mime="text/vnd.graphviz", icon=":material/account_tree:",
                         key=Widget.DOWNLOAD_DOT, on_click="ignore", width="stretch")
    middle.download_button("Trace as JSON", lambda: exporting.export_json(trace), "trace.json",
                           mime="application/json", icon=":material/data_object:", key=Widget.DOWNLOAD_JSON,
                           on_click="ignore", width="stretch")
    right.download_button("Python script", lambda: exporting.export_python(trace), "backprop.py",
                          mime="text/x-python", icon=":material/code:", key=Widget.DOWNLOAD_SCRIPT,
                          on_click="ignore", width="stretch")
    st.caption("The SVG of the graph at this step is the ⤓ button above the graph. The script reproduces the "
               "computation with `import core as ad` (install this project with `pip install .` to run it "
               "anywhere); the JSON format is in docs/trace-format.md.")

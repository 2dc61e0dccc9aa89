"""The student's derivation on the page, without a browser: the questions sent with a program, the
claims and marks the step view draws, the answers the browser sends (and what is refused), the
score over a pass, and the link that keeps the claims and the mode."""

from __future__ import annotations

import json
import time

import pytest

from core import claims
from core.errors import AutodiffError
from core.examples import load_examples
from core.language import run
from tests.page_model import SEED_PROGRAM, fresh, report
from ui import derivation, studio
from ui import state as S
from ui.names import Link, Model, Widget


def test_every_backward_step_comes_with_its_questions():
    trace = run(SEED_PROGRAM)
    prompts = json.loads(studio.program_payload(trace))["prompts"]
    assert sorted(prompts) == ["3", "4"]  # the two backward steps, none of the forward ones
    hint, asked = prompts["4"]
    assert [(position, trace.title(parent)) for position, parent, *_ in asked] == [(0, "x"), (1, "y")]
    assert asked[0][2] == "What does x receive from × #2?" and asked[0][3] == "a number"
    assert "gbar" in hint and "grad(z, NAME)" in hint
    matrix = run("W = [[1.0, 2.0], [3.0, 4.0]]\nv = [1.0, -1.0]\nloss = sum(W @ v)\n")
    _, asked = derivation.prompts(matrix)[str(matrix.t_forward_end + 2)]
    assert {kind for *_, kind in asked} == {"a 2×2 matrix: [[…], […]]", "a vector of 2: [a, b, …]"}


def test_forward_only_programs_ask_nothing():
    assert derivation.prompts(run("W = randn(2, 2)\nY = W @ W\n")) == {}


def test_the_graph_marks_each_claimed_node_and_the_first_wrong_one():
    example = next(e for e in load_examples() if "hidden layer" in e.title)
    report_ = derivation.check_claims_job(example.program, 0, example.claims)
    page = derivation.page_claims(report_)
    trace = run(example.program)
    by_title = {trace.title(node): (status, mark, message) for node, status, mark, message in page.marks}
    assert trace.title(page.first_wrong).startswith("Z1")
    assert by_title[trace.title(page.first_wrong)][:2] == ("wrong", "✗")
    assert by_title[trace.title(trace.inputs["W1"])][0] == "shape"
    assert "transposed" in by_title[trace.title(trace.inputs["W1"])][2]
    assert all(message.startswith("line ") for *_, message in by_title.values())
    assert derivation.page_claims(None) == derivation.NO_CLAIMS


def test_answers_from_the_browser_are_checked_before_anything_runs():
    trace = run(SEED_PROGRAM)
    assert derivation.valid_answers({"t": 4, "items": [[0, "3"], [1, " "]]}, trace) == (4, ((0, "3"),))
    assert derivation.valid_answers({"t": 2, "items": [[0, "3"]]}, trace) is None  # a forward step
    assert derivation.valid_answers({"t": 99, "items": []}, trace) is None
    assert derivation.valid_answers({"t": True, "items": []}, trace) is None
    assert derivation.valid_answers({"t": 4, "items": "3"}, trace) is None
    assert derivation.valid_answers("answers", trace) is None
    assert derivation.valid_answers({"t": 4, "items": [[True, "3"], ["0", "3"], [0]]}, trace) == (4, ())
    long = derivation.valid_answers({"t": 4, "items": [[0, "1" * 100_000]]}, trace)
    assert len(long[1][0][1]) == claims.ANSWER_LIMITS.max_chars


def test_marking_answers_keeps_a_score_over_the_pass():
    state = fresh(program=SEED_PROGRAM, t="3", predict="1")
    assert state[Model.PREDICT] and state[Model.REQUEST]["predict"]

    def check(program, seed, second, t, answers):
        return derivation.check_answers_job(program, seed, second, t, answers)

    S.mark_answers(state, 4, ((0, "3"), (1, "5")), check)
    S.mark_answers(state, 3, ((0, "gbar"), (1, "log(")), check)  # an answer that does not parse
    marked = S.predictions(state)
    assert [m.status for m in marked[4]] == ["right", "wrong"] and marked[3][1].status == "error"
    assert str(S.score(state)) == "2 of 3 right"  # an error is not an answer
    page = derivation.page_predictions(marked)
    assert page["4"][1][:3] == [1, "wrong", "✗"] and "is 2" in page["4"][1][3]
    report(state, predict=False)
    report(state, predict=True)  # turned on again: a new pass, a new score
    assert str(S.score(state)) == "0 of 0 right"


def test_marks_that_cannot_be_made_say_why_on_each_answer():
    state = fresh(program=SEED_PROGRAM)

    def timed_out(*args):
        raise AutodiffError("the job took longer than 8 s")

    S.mark_answers(state, 4, ((0, "3"),), timed_out)
    (mark,) = S.predictions(state)[4]
    assert mark.status == "error" and "longer than 8 s" in mark.message
    S.set_editor_text(state, "x = 1.0\ny = 3.0\nz = x * y + x\n")
    S.run_editor(state)
    assert S.predictions(state) == {}  # marks belong to the program they were made on


def test_claims_are_kept_in_the_link_and_come_back_from_it():
    state = fresh(program=SEED_PROGRAM)
    assert Link.MINE not in S.link_params(state) and Link.PREDICT not in S.link_params(state)
    state[S.mine_key(state)] = "grad(z, x) = y + 1\n"
    report(state, predict=True)
    params = S.link_params(state)
    assert params[Link.MINE] == "grad(z, x) = y + 1\n" and params[Link.PREDICT] == "1"
    again = fresh(**params)
    assert S.mine_text(again) == "grad(z, x) = y + 1\n" and again[Model.PREDICT]
    status, checked = S.claims_report(again, derivation.check_claims_job)
    assert status == "ok" and checked.all_right


def test_a_find_the_bug_example_comes_with_its_derivation():
    example = next(e for e in load_examples() if e.claims and "softmax" in e.title)
    state = fresh(program=SEED_PROGRAM)
    state[Widget.EXAMPLE] = example.title
    S.on_example(state)
    assert S.mine_text(state) == example.claims
    status, checked = S.claims_report(state, derivation.check_claims_job)
    assert status == "ok" and checked.first_wrong.title == "p"
    state[Widget.EXAMPLE] = load_examples()[0].title
    S.on_example(state)
    assert S.mine_text(state) == "" and S.claims_report(state, derivation.check_claims_job) is None
    assert fresh(program=example.program)[Model.MINE_INITIAL] == example.claims  # opened by its link


def test_claims_are_checked_once_per_program_seed_and_text():
    state = fresh(program=SEED_PROGRAM)
    state[S.mine_key(state)] = "grad(z, x) = 4\n"
    calls = []

    def check(*key):
        calls.append(key)
        return derivation.check_claims_job(*key)

    S.claims_report(state, check)
    S.claims_report(state, check)
    assert len(calls) == 1
    state[S.mine_key(state)] = "grad(z, x) = 5\n"
    status, checked = S.claims_report(state, check)
    assert len(calls) == 2 and checked.first_wrong is not None


@pytest.mark.parametrize("example", load_examples(), ids=lambda e: e.title[:30])
def test_the_questions_of_a_whole_pass_are_each_steps_questions(example):
    trace = run(example.program)
    every = claims.pass_prompts(trace)
    assert sorted(every) == [t for t in range(trace.t_forward_end + 1, trace.t_end + 1)
                             if trace.backward_steps[t - trace.t_forward_end - 1].contributions]
    for t, asked in every.items():
        assert asked == claims.prediction_prompts(trace, t)


def test_a_big_pass_gets_its_questions_in_linear_time():
    from bench.programs import largest_program

    trace = run(largest_program())
    started = time.process_time()
    derivation.prompts(trace)
    one_step = time.process_time()
    claims.prediction_prompts(trace, trace.t_end)
    each = time.process_time() - one_step
    # All the steps together cost less than a few single steps asked one by one (a quadratic
    # version costs as much per step as a single call, times thousands of steps).
    assert one_step - started < 50 * max(each, 1e-3), (one_step - started, each)

"""Bounded jobs in worker processes: results, errors as they were, deadlines, memory caps, crashes,
parallel callers, closing. Budgets are short (0.5 s) so the whole file takes a few seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from core.errors import AutodiffError, ExpressionError, ShapeError
from core.language import run
from core.ops import multiply
from tests.job_functions import (
    add,
    allocate,
    divide,
    exit_abruptly,
    hold,
    sleep_then_return,
    worker_pid,
    write_pid_then_spin,
)
from ui.jobs import JobError, JobPool


@pytest.fixture(scope="module")
def pool():
    with JobPool(2) as jobs:
        yield jobs


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie, dead but not yet reaped by its parent, does not)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in status)
    except FileNotFoundError:
        return False


# ---- results and errors ------------------------------------------------------------------------------


def test_a_job_returns_its_value(pool):
    assert pool.size == 2
    assert pool.run(add, 2, 3, times=4) == 20
    pid = pool.run(worker_pid)
    assert pid != os.getpid()
    np.testing.assert_array_equal(pool.run(np.arange, 3.0), [0.0, 1.0, 2.0])


def test_a_program_runs_in_a_worker_and_its_trace_comes_back(pool):
    program = "x = 2.0\ny = 3.0\nz = x * y + x\n"
    trace = pool.run(run, program, seed=0)
    assert float(trace.grads["x"]) == 4.0 and trace.t_end == run(program).t_end
    assert trace.status_at(trace.inputs["x"], trace.t_end) == "done"


def test_an_autodiff_error_comes_back_as_itself_with_its_location(pool):
    program = "x = 1.0\ny = 2.0\nz = x + q\n"
    with pytest.raises(ExpressionError) as here:
        run(program)
    with pytest.raises(ExpressionError) as there:
        pool.run(run, program)
    assert (there.value.message, there.value.line, there.value.col, there.value.end_col) == \
           (here.value.message, here.value.line, here.value.col, here.value.end_col)
    assert there.value.line == 3
    with pytest.raises(ShapeError) as shape:
        pool.run(multiply, np.ones(2), np.ones(3))
    assert shape.value.op == "multiply" and shape.value.shapes == ((2,), (3,))


def test_any_other_exception_is_wrapped_in_a_plain_job_error(pool):
    with pytest.raises(JobError) as err:
        pool.run(divide, 1, 0)
    assert err.value.reason == "failed" and "ZeroDivisionError" in str(err.value)
    assert isinstance(err.value, AutodiffError)  # the page catches one type
    with pytest.raises(JobError, match="cannot run in a worker"):
        pool.run(lambda: 1)  # not importable by name
    assert pool.run(add, 1, 1) == 2


# ---- budgets -----------------------------------------------------------------------------------------


def test_a_job_past_its_deadline_is_killed_and_the_next_job_runs(pool, tmp_path):
    pid_file = tmp_path / "pid"
    start = time.monotonic()
    with pytest.raises(JobError) as err:
        pool.run(write_pid_then_spin, str(pid_file), seconds=1.0)
    elapsed = time.monotonic() - start
    assert err.value.reason == "time" and str(err.value).startswith("stopped after 1 s:")
    assert 1.0 <= elapsed < 3.0  # the deadline, then killing the worker and starting its successor
    assert pid_file.exists(), "the job never started spinning: the worker took the whole budget to start it"
    spinner = int(pid_file.read_text())
    assert not alive(spinner)  # killed and reaped: nothing keeps running
    assert pool.run(sleep_then_return, 0.0, "next") == "next"
    assert spinner not in {pool.run(worker_pid) for _ in range(4)}


def test_too_much_memory_is_a_job_error_and_the_next_job_runs(pool):
    assert pool.run(allocate, 60, memory_bytes=200 << 20) == 60 * (1 << 20) // 8  # BLAS works under a cap
    with pytest.raises(JobError) as err:
        pool.run(allocate, 2048, memory_bytes=200 << 20)
    assert err.value.reason == "memory" and "200 MB" in str(err.value)
    assert pool.run(add, 1, 2) == 3
    assert pool.run(allocate, 300, memory_bytes=1 << 30) == 300 * (1 << 20) // 8  # the cap is per job


def test_the_pool_survives_a_worker_crash(pool):
    with pytest.raises(JobError) as err:
        pool.run(exit_abruptly, 3)
    assert err.value.reason == "crashed" and "exit code 3" in str(err.value)
    assert pool.run(add, 2, 2) == 4
    assert len({pool.run(worker_pid) for _ in range(6)}) >= 1


def test_a_worker_that_kept_memory_is_replaced():
    with JobPool(1, recycle_bytes=50 << 20) as jobs:
        first = jobs.run(hold, 10)
        assert jobs.run(hold, 10) == first  # 20 MB kept: under the threshold, same worker
        jobs.run(hold, 60)  # now 80 MB: it retires after answering
        assert jobs.run(worker_pid) != first


# ---- callers on several threads --------------------------------------------------------------------


def test_two_threads_run_their_jobs_in_parallel(pool):
    results = []
    barrier = threading.Barrier(2)

    def call(value):
        barrier.wait()
        results.append(pool.run(sleep_then_return, 0.8, value))

    threads = [threading.Thread(target=call, args=(v,)) for v in "ab"]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["a", "b"]
    assert time.monotonic() - start < 1.4  # one job's time, not two


def test_a_slow_job_does_not_delay_the_other_worker(pool):
    slow = threading.Thread(target=pool.run, args=(sleep_then_return, 1.0, None))
    slow.start()
    time.sleep(0.2)
    start = time.monotonic()
    assert [pool.run(add, i, 0) for i in range(20)] == list(range(20))
    assert time.monotonic() - start < 0.8
    slow.join()


def test_waiting_for_a_busy_pool_is_bounded_when_asked():
    with JobPool(1) as jobs:
        slow = threading.Thread(target=jobs.run, args=(sleep_then_return, 0.6, None))
        slow.start()
        time.sleep(0.2)
        with pytest.raises(JobError) as err:
            jobs.run(add, 1, 1, wait_seconds=0.2)
        assert err.value.reason == "busy"
        slow.join()
        assert jobs.run(add, 1, 1, wait_seconds=0.2) == 2


def test_closing_ends_running_and_waiting_jobs_at_once():
    jobs = JobPool(1)
    errors = []

    def call():
        try:
            jobs.run(sleep_then_return, 10.0, None, seconds=20)
        except JobError as exc:
            errors.append(exc.reason)

    callers = [threading.Thread(target=call) for _ in range(3)]  # one runs, two wait for the worker
    for t in callers:
        t.start()
    time.sleep(0.3)
    start = time.monotonic()
    jobs.close()
    for t in callers:
        t.join(5)
    assert time.monotonic() - start < 2.0
    assert errors == ["closed"] * 3
    with pytest.raises(JobError) as err:
        jobs.run(add, 1, 1)
    assert err.value.reason == "closed"
    jobs.close()  # twice is fine



SERVER_THAT_DIES = """
import sys
sys.path[:0] = {path!r}
from tests.job_functions import write_pid_then_spin
from ui.jobs import JobPool
JobPool(1).run(write_pid_then_spin, {pid_file!r}, seconds=0.5)
"""


@pytest.mark.slow
def test_a_job_stops_soon_after_its_budget_even_if_its_server_died(tmp_path):
    """Nobody is left to kill the worker at its deadline: the CPU limit set for the job does, a
    few CPU seconds later (SIGXCPU)."""
    pid_file = tmp_path / "pid"
    server = subprocess.Popen([sys.executable, "-c", SERVER_THAT_DIES.format(path=sys.path, pid_file=str(pid_file))])
    deadline = time.monotonic() + 20
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    spinner = int(pid_file.read_text())
    server.kill()  # SIGKILL: no close(), no deadline
    server.wait()
    try:
        deadline = time.monotonic() + 15
        while alive(spinner) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(spinner)
    finally:
        if alive(spinner):
            os.kill(spinner, 9)

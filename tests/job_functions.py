"""Jobs for tests/test_jobs.py: top-level functions a worker imports by name.

Kept apart from the test module, and importing nothing heavy, so that a worker's first job
does not spend its short time budget importing pytest."""

from __future__ import annotations

import os
import time

import numpy as np

_held = []  # in a worker: memory a job keeps on purpose, to make the worker retire


def add(a, b, *, times=1):
    return (a + b) * times


def worker_pid():
    return os.getpid()


def write_pid_then_spin(path):
    with open(path, "w") as f:
        f.write(str(os.getpid()))
    while True:
        pass


def sleep_then_return(seconds, value):
    time.sleep(seconds)
    return value


def allocate(megabytes):
    """Touch ``megabytes`` of new memory, after a BLAS and a LAPACK call (both must work under a cap)."""
    a = np.random.default_rng(0).standard_normal((200, 200))
    np.linalg.slogdet(a @ a.T + np.eye(200))
    block = np.ones(megabytes * (1 << 20) // 8)
    return float(block.sum())


def exit_abruptly(code):
    os._exit(code)


def divide(a, b):
    return a / b


def hold(megabytes):
    _held.append(np.ones(megabytes * (1 << 20) // 8))
    return os.getpid()

"""The limits of a program, and the cost model that turns the op table's costs into time.

Every limit is checked by the *abstract* pass (shapes and costs only), before anything is allocated
or run. Its time estimate is in **operations**, about a nanosecond of this machine's work each
(2 shared cores; ``bench/calibrate.py`` measures the constants below, ``docs/language.md`` gives
the figures). What the estimate counts, per op that the program runs:

* the forward: the op table's ``cost`` (``FUNCTIONS[name].abstract_eval``): entries read or written
  for elementwise and data-movement ops (``ENTRY`` each), and, for the ops that declare a cost rule
  (contractions, factorizations), their multiply-adds or textbook flops (``FLOP`` each: BLAS and
  LAPACK do several per nanosecond);
* the backward, ``BACKWARD`` times the forward, when the result can need a gradient (a VJP is one to
  a few ops of the forward's size: two matmuls for a matmul, a solve with the kept LU for solve);
* what the trace keeps, ``RECORD`` per entry: the result, and per operand the contribution sent and
  the running sum (copies, and later every view of them: the step view's payload, exports);
* a fixed ``NODE`` per graph node: the engine's Python work, the trace's record and the narration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

ENTRY = 1.0  # an entry of an elementwise or data-movement op, forward (tanh of 10⁶ entries: ~1 ms)
FLOP = 0.1  # a declared flop (matmul's multiply-add, LU's flop): BLAS and LAPACK do several a nanosecond
BACKWARD = 4.0  # the backward pass of an op, as a multiple of its forward
RECORD = 3.0  # an entry the trace keeps (each result, each contribution and running sum)
NODE = 40_000.0  # a graph node's fixed cost, whatever its size
RANDOM = 8.0  # an entry drawn by randn/rand


@dataclass(frozen=True)
class Limits:
    """Every limit of the language, in one place, sized for a lecture (and for a public server)."""

    max_chars: int = 20_000  # program text
    max_statements: int = 500  # lines of code, in loops and functions too
    max_depth: int = 50  # bracket nesting, and expression and block nesting (a + b + c counts 2)
    max_nodes: int = 5_000  # graph nodes: ops, intermediate results, constants
    max_elements: int = 1_000_000  # entries of one array
    max_total_elements: int = 10_000_000  # entries of all the arrays a program makes
    max_operations: float = 1e9  # the time budget: about 1 s of this machine's work, forward and backward
    max_dims: int = 6  # axes of a constructed array
    max_iterations: int = 10_000  # loop iterations, in all
    max_steps: int = 200_000  # statements and expressions interpreted: bounds the abstract pass's own time
    max_call_depth: int = 16  # functions calling functions


DEFAULT_LIMITS = Limits()
# A text evaluated on a program's values (a student's claims, an answer): shorter than a program,
# with a program's sizes, nesting and time budget (it evaluates forward only, on plain values).
ANSWER_LIMITS = Limits(max_chars=10_000, max_statements=200)


def op_operations(declared_cost: bool, cost: int, shapes, shape: tuple, differentiable: bool) -> float:
    """The operations one op costs: its forward, and if it can need a gradient its backward, the
    entries the trace keeps of it, and the node's fixed cost."""
    forward = cost * (FLOP if declared_cost else ENTRY)
    if not differentiable:  # computed once on constants, never in the graph (`2 * pi`)
        return forward
    kept = math.prod(shape) + 2 * sum(math.prod(s) for s in shapes)
    return forward * (1.0 + BACKWARD) + RECORD * kept + NODE


def seconds(operations: float) -> float:
    """The estimate in seconds of this machine, unloaded (an operation is about a nanosecond)."""
    return operations * 1e-9

"""Backprop Studio's engine side by side with micrograd, PyTorch, HIPS autograd and hand NumPy.

    python bench/engine.py                  # everything: a few minutes on 2 cores
    python bench/engine.py --quick          # fewer repeats
    python bench/engine.py --only W1,CHAIN  # a selection of W1..W5 and CHAIN
    python bench/engine.py --blas-threads 0 # leave the BLAS/OpenMP pools at their defaults

Every BLAS and OpenMP pool (NumPy's OpenBLAS, SciPy's OpenBLAS, torch's OpenMP) is pinned to one
thread for the whole run (threadpoolctl, and torch.set_num_threads): a one-thread pool computes on
the calling thread and has no workers, so none can spin after its call and take a core from the
next library's work (with two pools of two threads on two cores that made calls 5-10x slower).

A cell is the median wall time of one full gradient computation (the forward pass that builds the
graph, then the backward pass), every row in this one process: a warm-up run each, then rounds in
which every row of the workload runs once in turn; "× ref" is the median over rounds of the row's
time over the reference row's time. Each workload is written once, generically, and every
framework runs that same code through its ``Kit`` (see ``_peers.py``), so all rows perform the
same primitive ops. "µs/node" divides by the number of op nodes in our graph for the workload:
one count for every row. "spread" is (slowest − fastest) / median over the rounds.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import itertools
import math
import os
import platform
import resource
import statistics
import sys
import time
import tracemalloc
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path

import _peers
import numpy as np
from _peers import Kit, as_numpy_tuple

BENCH_DIR = Path(__file__).resolve().parent
# The repo root is not on sys.path when this file runs as a script (bench/ is, hence _peers).
sys.path.insert(0, str(BENCH_DIR.parent))
ad = importlib.import_module("core")

REPEATS, QUICK_REPEATS = 7, 3
CHAIN_REPEATS, QUICK_CHAIN_REPEATS = 3, 1
# numpy and scipy each bundle their own OpenBLAS, and torch has its own OpenMP pool: after a call,
# a pool's threads spin for up to ~0.1 s waiting for more work, and on a 2-core machine they then
# steal the cores from whichever library runs next (we measured the next call run 5-10x slower).
# With the pools pinned to one thread (the default, --blas-threads 1) they have no workers to spin;
# with --blas-threads 0 (library defaults), idling this long before each run of a BLAS-heavy
# workload lets them park first.
BLAS_SETTLE_SECONDS = 0.25
ALL_KEYS = ("W1", "W2", "W3", "W4", "W5", "CHAIN")
HAND = "hand NumPy"


def _ours_grad(f):
    """``ad.grad`` as a user calls it, always returning a tuple (one gradient per argument)."""

    def gradients(*args):
        return ad.grad(f, argnums=tuple(range(len(args))))(*args)

    return gradients


OURS = Kit("ours", _ours_grad, sin=ad.sin, tanh=ad.tanh, total=ad.sum, logdet=ad.logdet,
           solve=ad.solve)


# ---- the workloads, each written once for every framework -----------------------------------------


def scalar_chain(x, sin, iterations):
    """W1 and CHAIN: four scalar ops per iteration (sin, two multiplies, an add)."""
    for _ in range(iterations):
        x = sin(x) * 0.01 + x * 0.99
    return x


MLP_SIZES = (2, 16, 16, 1)


def mlp_loss(*params, tanh, points, targets):
    """W2: squared loss of a 2-16-16-1 MLP (tanh hidden layers, linear output), one scalar op at a
    time as micrograd's nn.MLP does it. ``params`` is flat: per neuron its bias, then its weights."""
    loss = 0.0
    for point, target in zip(points, targets):
        activations = point  # plain floats: constants, like micrograd's demo inputs
        p = 0
        for layer, n_out in enumerate(MLP_SIZES[1:]):
            hidden = layer < len(MLP_SIZES) - 2
            outputs = []
            for _ in range(n_out):
                act = params[p]
                p += 1
                for a in activations:
                    act = act + params[p] * a
                    p += 1
                outputs.append(tanh(act) if hidden else act)
            activations = outputs
        diff = activations[0] + (-target)
        loss = loss + diff * diff
    return loss


def matrix_mix(X, *, tanh, total, W, C, D, iterations):
    """W3: X ← tanh(X @ W + C) * D, four ops on 4×4 matrices per iteration, then a sum."""
    for _ in range(iterations):
        X = tanh(X @ W + C) * D
    return total(X)


def tanh_matmul(A, B, C, *, tanh, total):
    """W4: sum(tanh(A @ B) @ C)."""
    return total(tanh(A @ B) @ C)


def gaussian_nll(S, *, XT, logdet, solve, total):
    """W5: N/2 log det Σ + 1/2 sum(Xᵀ ⊙ Σ⁻¹Xᵀ), the Gaussian NLL up to a constant (X is N×d)."""
    n_samples = XT.shape[1]
    return 0.5 * n_samples * logdet(S) + 0.5 * total(XT * solve(S, XT))


def count_op_nodes(f, *args) -> int:
    """Op nodes (every node but the leaves) of our graph for ``f(*args)``."""
    out = f(*[ad.Var(a) for a in args])
    return sum(1 for node in ad.toposort(out) if node.op is not None)


@dataclass
class Workload:
    key: str
    title: str
    reference: str  # the row the ratios are against
    n_ops: int | None  # op nodes, for µs/node; None where a per-node time says little
    rows: dict  # implementation name -> zero-argument function returning the gradients
    settle: float = 0.0  # seconds of idle before each run (see BLAS_SETTLE_SECONDS)


W1_ITERATIONS = 2_500


def build_w1(kits) -> Workload:
    iterations = W1_ITERATIONS
    rows = {kit.name: partial(kit.grad(partial(scalar_chain, sin=kit.sin, iterations=iterations)), 0.5)
            for kit in kits if kit.supports("sin")}
    n_ops = count_op_nodes(partial(scalar_chain, sin=ad.sin, iterations=iterations), 0.5)
    return Workload("W1", f"scalar chain x = sin(x)*0.01 + x*0.99, {iterations:,} times",
                    "micrograd", n_ops, rows)


def build_w2(kits) -> Workload:
    rng = np.random.default_rng(2)
    points = rng.uniform(-1.0, 1.0, (16, 2)).tolist()
    targets = [math.sin(3.0 * a) * b for a, b in points]
    n_params = sum((n_in + 1) * n_out for n_in, n_out in itertools.pairwise(MLP_SIZES))
    params = (0.5 * rng.standard_normal(n_params)).tolist()
    data = {"points": points, "targets": targets}
    rows = {kit.name: partial(kit.grad(partial(mlp_loss, tanh=kit.tanh, **data)), *params)
            for kit in kits if kit.supports("tanh")}
    n_ops = count_op_nodes(partial(mlp_loss, tanh=ad.tanh, **data), *params)
    return Workload("W2", f"scalar MLP 2-16-16-1 tanh, 16 points, {n_params} parameters",
                    "micrograd", n_ops, rows)


def build_w3(kits) -> Workload:
    iterations = 250
    rng = np.random.default_rng(3)
    X0 = rng.standard_normal((4, 4))
    W = 1.5 * np.linalg.qr(rng.standard_normal((4, 4)))[0]  # scaled rotation: tanh stays unsaturated
    C = 0.1 * rng.standard_normal((4, 4))
    D = rng.uniform(0.8, 1.2, (4, 4))
    rows = {}
    for kit in kits:
        if kit.supports("tanh", "total"):
            consts = {name: kit.const(value) for name, value in (("W", W), ("C", C), ("D", D))}
            f = partial(matrix_mix, tanh=kit.tanh, total=kit.total, iterations=iterations, **consts)
            rows[kit.name] = partial(kit.grad(f), X0)
    rows[HAND] = partial(_peers.hand_matrix_mix, X0, W, C, D, iterations)
    n_ops = count_op_nodes(partial(matrix_mix, tanh=ad.tanh, total=ad.sum, W=W, C=C, D=D,
                                   iterations=iterations), X0)
    return Workload("W3", f"4x4 matrices: X = tanh(X@W + C)*D, {iterations} times, then sum",
                    "torch", n_ops, rows)


def build_w4(kits) -> Workload:
    n = 512
    rng = np.random.default_rng(4)
    # Scaled so that A@B has unit variance: tanh is neither linear nor saturated.
    A, B = rng.standard_normal((2, n, n)) / n ** 0.25
    C = rng.standard_normal((n, n))
    rows = {HAND: partial(_peers.hand_tanh_matmul, A, B, C)}
    for kit in kits:
        if kit.supports("tanh", "total"):
            rows[kit.name] = partial(kit.grad(partial(tanh_matmul, tanh=kit.tanh, total=kit.total)),
                                     A, B, C)
    return Workload("W4", f"sum(tanh(A@B)@C), {n}x{n}, gradients wrt A, B, C", HAND, None, rows,
                    settle=BLAS_SETTLE_SECONDS)


def build_w5(kits) -> Workload:
    d, n_samples = 200, 1_000
    rng = np.random.default_rng(5)
    Q = rng.standard_normal((d, d))
    S = Q @ Q.T / d + np.eye(d)  # symmetric positive definite and well conditioned
    XT = np.ascontiguousarray(rng.standard_normal((n_samples, d)).T)
    rows = {HAND: partial(_peers.hand_gaussian_nll, S, XT)}
    for kit in kits:
        if kit.supports("logdet", "solve", "total"):
            f = partial(gaussian_nll, XT=kit.const(XT), logdet=kit.logdet, solve=kit.solve,
                        total=kit.total)
            rows[kit.name] = partial(kit.grad(f), S)
    return Workload("W5", f"Gaussian NLL and dL/dSigma, Sigma {d}x{d}, N={n_samples}", HAND, None, rows,
                    settle=BLAS_SETTLE_SECONDS)


BUILDERS = {"W1": build_w1, "W2": build_w2, "W3": build_w3, "W4": build_w4, "W5": build_w5}


# ---- measuring ------------------------------------------------------------------------------------


def timed(run, settle: float = 0.0) -> float:
    """Seconds of one run. The collection before it means no run pays for an earlier run's garbage
    (micrograd's graphs are reference cycles that only the cyclic GC frees; collecting them
    untimed slightly favours micrograd)."""
    gc.collect()
    if settle:
        time.sleep(settle)
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def measure_rows(rows: dict, repeats: int, settle: float = 0.0):
    """({row: [seconds per round]}, {row: gradients}). Every row runs once as a warm-up (its
    gradients are the ones checked), then ``repeats`` rounds in which every row runs once in turn.
    Interleaving matters here: this shared machine's speed drifts by tens of percent over seconds,
    and rounds make every row see the same slow and fast spells (ratios are taken per round)."""
    grads = {name: run() for name, run in rows.items()}
    times = {name: [] for name in rows}
    for _ in range(repeats):
        for name, run in rows.items():
            times[name].append(timed(run, settle))
    return times, grads


class OtherLoad:
    """How busy other processes kept the CPUs while we measured: a machine shared with a test run
    slows every row, BLAS rows most (a thread that loses its core stalls its partner)."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as stat:  # Linux: the machine's CPU ticks since boot
                ticks = [int(v) for v in stat.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        usage = resource.getrusage(resource.RUSAGE_SELF)
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait
        return time.monotonic(), busy, usage.ru_utime + usage.ru_stime

    def describe(self) -> str:
        end = self._sample()
        if self.start is None or end is None:
            return ""
        wall, busy, ours = (b - a for a, b in zip(self.start, end))
        share = max(0.0, busy - ours) / (wall * (os.cpu_count() or 1))
        note = " (timings disturbed)" if share > 0.05 else ""
        return f"other processes kept {share:.0%} of the CPUs busy meanwhile{note}"


def paired_ratio(times, reference_times) -> float:
    """Median over rounds of time / reference time: robust to the machine's drift."""
    return statistics.median(t / r for t, r in zip(times, reference_times))


def gradients_agree(grads, reference) -> bool:
    ours, ref = as_numpy_tuple(grads), as_numpy_tuple(reference)
    if len(ours) != len(ref):
        return False
    for g, r in zip(ours, ref):
        scale = max(1.0, float(np.max(np.abs(r), initial=0.0)))
        if g.shape != r.shape or not np.allclose(g, r, rtol=1e-6, atol=1e-9 * scale):
            return False
    return True


ROW = "{:<6} {:<11} {:>10} {:>8} {:>6} {:>7}  {}"


def print_header():
    print(ROW.format("", "impl", "median ms", "µs/node", "× ref", "spread", "gradient"))
    print("-" * 66)


def run_workload(workload: Workload, repeats: int) -> dict:
    """Time every row, print it, return {implementation: [seconds per round]}."""
    nodes = f", {workload.n_ops:,} op nodes" if workload.n_ops else ""
    print(f"{workload.key}: {workload.title}{nodes} (× vs {workload.reference})", flush=True)
    load = OtherLoad()
    times, grads = measure_rows(workload.rows, repeats, workload.settle)
    load = load.describe()
    reference = times.get(workload.reference)
    for name, samples in times.items():
        seconds = statistics.median(samples)
        per_node = f"{seconds / workload.n_ops * 1e6:.2f}" if workload.n_ops else "—"
        ratio = f"{paired_ratio(samples, reference):.2f}" if reference else "—"
        spread = f"{(max(samples) - min(samples)) / seconds:.0%}"
        if name == workload.reference:
            check = "reference"
        elif workload.reference not in grads:
            check = "unchecked (no reference row)"
        elif gradients_agree(grads[name], grads[workload.reference]):
            check = "agrees"
        else:
            check = f"WARNING: gradient differs from {workload.reference}"
        print(ROW.format(workload.key, name, f"{seconds * 1e3:.2f}", per_node, ratio, spread, check))
    if load:
        print(f"       {load}")
    print(flush=True)
    return times


def run_chain(repeats: int, peers: list) -> float:
    """The W1 chain at 250,000 iterations (10⁶ op nodes) for ours, under Python's default
    recursion limit. Returns its per-node time over ours' per-node time on W1, both measured in
    the same rounds. Peak memory comes from the RSS high-water mark of the timed runs and from a
    separate tracemalloc run (tracing slows every allocation, so it never overlaps a timed run)."""
    iterations = 250_000
    n_ops, w1_ops = 4 * iterations, 4 * W1_ITERATIONS
    chain = partial(ad.grad(partial(scalar_chain, sin=ad.sin, iterations=iterations)), 0.5)
    w1 = partial(ad.grad(partial(scalar_chain, sin=ad.sin, iterations=W1_ITERATIONS)), 0.5)
    print(f"CHAIN: the W1 chain with {iterations:,} iterations, {n_ops:,} op nodes, recursion "
          f"limit {sys.getrecursionlimit()} (× vs ours' W1 per node, same rounds)", flush=True)

    w1()  # warm-up
    load = OtherLoad()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    chain_times, ratios = [], []
    for _ in range(repeats):
        w1_seconds = statistics.median(timed(w1) for _ in range(3))
        chain_times.append(timed(chain))
        ratios.append((chain_times[-1] / n_ops) / (w1_seconds / w1_ops))
    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    seconds, ratio = statistics.median(chain_times), statistics.median(ratios)
    load = load.describe()
    # Diagnostic, not how the engine runs: the same pair with CPython's cyclic collector paused. A
    # 10⁶-node graph is 10⁶ tracked objects (one Var each), and the full collections that its growth
    # triggers walk all of them; a 10⁴-node graph never triggers one. The engine does not pause the
    # collector itself: it is one switch for the whole process, and the app runs sessions on threads.
    gc.disable()
    try:
        w1_paused = statistics.median(timed(w1) for _ in range(3))
        paused_ratio = (timed(chain) / n_ops) / (w1_paused / w1_ops)
    finally:
        gc.enable()

    gc.collect()
    tracemalloc.start()
    gradient = chain()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    agrees = math.isclose(gradient, _chain_derivative(0.5, iterations), rel_tol=1e-9)
    spread = f"{(max(chain_times) - min(chain_times)) / seconds:.0%}"
    print(ROW.format("CHAIN", "ours", f"{seconds * 1e3:.0f}", f"{seconds / n_ops * 1e6:.2f}",
                     f"{ratio:.2f}", spread, "agrees" if agrees else "WARNING: gradient differs"))
    print(f"       peak memory: {traced_peak / 2**20:.0f} MiB traced by tracemalloc "
          f"({traced_peak / n_ops:.0f} B/node); RSS high-water mark grew {rss_growth:.0f} MiB")
    print(f"       with the cyclic garbage collector paused (gc.disable(), one run): {paused_ratio:.2f}× W1 per node")
    if load:
        print(f"       {load}")
    for kit in peers:  # one run each: they are slow at this size
        peer_seconds = timed(partial(kit.grad(partial(scalar_chain, sin=kit.sin, iterations=iterations)), 0.5))
        w1_seconds = timed(w1)
        print(ROW.format("CHAIN", kit.name, f"{peer_seconds * 1e3:.0f}", f"{peer_seconds / n_ops * 1e6:.2f}",
                         f"{(peer_seconds / n_ops) / (w1_seconds / w1_ops):.2f}", "—", "one run"))
    print(flush=True)
    return ratio


def _chain_derivative(x: float, iterations: int) -> float:
    """d x_n / d x_0 of the chain in forward mode with plain floats: the product of the local
    derivatives cos(x)·0.01 + 0.99."""
    derivative = 1.0
    for _ in range(iterations):
        derivative *= math.cos(x) * 0.01 + 0.99
        x = math.sin(x) * 0.01 + x * 0.99
    return derivative


# ---- report ---------------------------------------------------------------------------------------


def print_machine(peer_names):
    print(f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
          f"{os.cpu_count()} CPUs ({len(os.sched_getaffinity(0))} usable)")
    print(", ".join([f"numpy {np.__version__}", f"scipy {metadata.version('scipy')}"]
                    + [f"{name} {metadata.version(name)}" for name in peer_names]))
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("thread pools: unknown (pip install threadpoolctl to list them)")
    else:
        pools = threadpool_info()
        for pool in pools:
            print(f"{pool['user_api']} pool: {pool['internal_api']} {pool.get('version') or ''} "
                  f"{pool.get('architecture') or ''}, {pool['num_threads']} threads "
                  f"({Path(pool['filepath']).name})")
        threads = [pool["num_threads"] for pool in pools]
        if max(threads, default=1) > 1 and sum(threads) > (os.cpu_count() or 1):
            print("note: the pools above have more threads than the machine has cores; W4 and W5 idle "
                  f"{BLAS_SETTLE_SECONDS} s before each run so that idle workers park (BLAS_SETTLE_SECONDS)")
    if "torch" in sys.modules:
        print(f"torch intra-op threads: {sys.modules['torch'].get_num_threads()}")
    print()


def print_summary(results: dict, chain_ratio):
    """PASS/MISS for the targets whose workloads ran."""

    def ratio(key, name, reference):
        times = results.get(key, {})
        if name in times and reference in times:
            return paired_ratio(times[name], times[reference])
        return None

    targets = [
        ("W1 ours <= micrograd per node", ratio("W1", "ours", "micrograd"), 1.0, False),
        ("W1 ours < torch", ratio("W1", "ours", "torch"), 1.0, True),
        ("W2 ours <= micrograd", ratio("W2", "ours", "micrograd"), 1.0, False),
        ("W2 ours < torch", ratio("W2", "ours", "torch"), 1.0, True),
        ("W3 ours <= 0.5x torch", ratio("W3", "ours", "torch"), 0.5, False),
        ("W4 ours <= 1.05x hand NumPy", ratio("W4", "ours", HAND), 1.05, False),
        ("W5 ours <= 1.5x hand NumPy", ratio("W5", "ours", HAND), 1.5, False),
        ("CHAIN per node <= 1.2x W1 per node", chain_ratio, 1.2, False),
    ]
    print("Targets (measured = median over rounds of ours' time / the other's)")
    for label, measured, limit, strict in targets:
        if measured is None:
            print(f"  skip  {label}")
            continue
        passed = measured < limit if strict else measured <= limit
        print(f"  {'PASS' if passed else 'MISS'}  {label:<36} measured {measured:.3f}x")


def load_peers():
    kits, missing = [], []
    for name, make in (("micrograd", _peers.micrograd_kit), ("torch", _peers.torch_kit),
                       ("autograd", _peers.autograd_kit)):
        try:
            kits.append(make())
        except ImportError:
            missing.append(name)
    return kits, missing


def limit_threads(n: int):
    """--blas-threads: cap every BLAS and OpenMP pool (and torch's) at n threads for the run."""
    from threadpoolctl import threadpool_limits

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    return threadpool_limits(limits=n)  # the limit lasts while the returned object lives


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (3, and 1 for CHAIN)")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(ALL_KEYS)}")
    parser.add_argument("--chain-peers", action="store_true",
                        help="also run the 10^6 chain once with micrograd and torch (about a minute)")
    parser.add_argument("--blas-threads", type=int, metavar="N", default=1,
                        help="pin every BLAS/OpenMP pool (and torch) to N threads (default 1; 0: the "
                             "libraries' own defaults, with an idle before each BLAS-heavy run)")
    args = parser.parse_args(argv)
    selected = ALL_KEYS if not args.only else [k.strip().upper() for k in args.only.split(",")]
    unknown = set(selected) - set(ALL_KEYS)
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {','.join(ALL_KEYS)}")
    repeats = QUICK_REPEATS if args.quick else REPEATS

    peers, missing = load_peers()
    thread_limit = limit_threads(args.blas_threads) if args.blas_threads else None  # noqa: F841
    pinned = args.blas_threads == 1
    print_machine([kit.name for kit in peers])
    if args.blas_threads:
        print(f"BLAS/OpenMP pools pinned to {args.blas_threads} thread(s) for the whole run (--blas-threads)\n")
    if missing:
        print(f"not installed, rows skipped: {', '.join(missing)} "
              "(pip install -r bench/requirements-bench.txt)\n")
    print(f"median of {repeats} interleaved rounds after a warm-up; each run is forward + backward\n")
    print_header()

    results = {}
    for key in ALL_KEYS[:-1]:
        if key in selected:
            workload = BUILDERS[key]([OURS, *peers])
            if pinned:
                workload.settle = 0.0  # one-thread pools have no workers to wait for
            # The imported libraries' objects (torch alone brings hundreds of thousands) are the
            # same for every row: frozen, a full GC pass inside a timed run walks only what the
            # workload itself allocated, instead of landing tens of ms on whichever row it hits.
            gc.collect()
            gc.freeze()
            results[key] = run_workload(workload, repeats)
    chain_ratio = None
    if "CHAIN" in selected:
        chain_peers = []
        if args.chain_peers:
            # micrograd's recursive topological sort needs one frame per node on the longest path.
            chain_peers = [_peers.micrograd_kit(recursion_needed=4_000_000) if kit.name == "micrograd"
                           else kit for kit in peers if kit.name in ("micrograd", "torch")]
        gc.collect()
        gc.freeze()
        chain_ratio = run_chain(QUICK_CHAIN_REPEATS if args.quick else CHAIN_REPEATS, chain_peers)
    print_summary(results, chain_ratio)


if __name__ == "__main__":
    main()

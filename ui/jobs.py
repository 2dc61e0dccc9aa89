"""Bounded jobs: run a function in a pre-started worker process, with a time and a memory budget.

One session's program must not hold a core for minutes or take the server's memory with it
(issue 12). ``JobPool.run(fn, *args, seconds=5, memory_bytes=1 GiB)`` sends ``fn(*args)`` to a
free worker and returns its result, or raises ``JobError`` with a sentence the page can show:

- past ``seconds`` the worker is killed (SIGKILL, so nothing keeps running) and replaced;
- past ``memory_bytes`` of new memory the job's allocation fails in the worker (``MemoryError``),
  or, if the worker dies of it, the death is reported as such; the next job runs either way;
- an ``AutodiffError`` raised by ``fn`` comes back as itself, with its attributes (an
  ``ExpressionError`` keeps ``line``/``col``); anything else is wrapped in a ``JobError``.

Budgets (``DEFAULT_SECONDS``, ``DEFAULT_MEMORY_BYTES``): 5 s and 1 GiB per job unless the caller
says otherwise. A job is a *top-level* function of a module that imports neither Streamlit nor
plotly (``core``, ``ui.analysis``, ``ui.export``...): the worker unpickles it by name and imports its
module (never ``__main__``). Arguments and results cross a socket as pickles, so they must
pickle, and big ones cost time: a ``core.trace.Trace`` pickles (``pool.run(language.run, text,
seed)`` works), 230 MB of arrays in ~0.25 s each way.

Design choices, and why:

- **Own workers, not ``concurrent.futures.ProcessPoolExecutor``.** A stuck task there cannot be
  cancelled once it runs, and a worker that dies marks the whole executor broken. Here each
  worker is a process with its own socket, held by one caller at a time; killing it hurts nobody
  else, and a slot whose worker died gets a new one.
- **Workers are fresh interpreters** (``python -c``, started with ``subprocess``, talking over a
  socket pair with ``multiprocessing.connection``), which import numpy, SciPy and ``core`` once
  when they start, before any job. Not ``fork`` (from a multi-threaded server, such as
  Streamlit's, a child can inherit a lock another thread held); and not multiprocessing's
  ``forkserver`` or ``spawn``: both re-run the parent's ``__main__`` in every worker, and inside
  Streamlit ``__main__`` is the page script: tried in a Streamlit server, each worker ran the page.
  The cost is a worker's start, ~0.4 s, paid when the pool starts (all workers at once) and,
  in the background, when a worker is replaced.
- **Memory cap: ``RLIMIT_DATA``, not ``RLIMIT_AS``.** Both are set in the worker, per job, to its
  current size plus ``memory_bytes``. ``RLIMIT_AS`` counts address space that is reserved but never
  used: OpenBLAS's per-thread buffers, thread stacks and glibc's 64 MB per-thread malloc arenas
  made a 200 MB cap refuse an 80 MB array (measured). ``RLIMIT_DATA`` (Linux ≥ 4.7: the heap and
  every private writable mapping) counts what the job actually maps. The worker makes one BLAS
  call of each bundled OpenBLAS (numpy's and SciPy's) *before* measuring its size, so their
  thread buffers exist before any cap applies and a BLAS call inside a job cannot fail on them.
- **One BLAS thread per worker** (``openblas_set_num_threads`` through ctypes, best effort): the
  pool already runs one job per core, and a job's BLAS threads on the other core would slow the
  job next to it.
- **After each job** the worker collects garbage, hands freed heap back to the OS
  (``malloc_trim``), and retires itself if it still holds more than ``recycle_bytes`` above its
  start; the next job on that slot then starts a fresh one first (~0.4 s, rare).

Measured (2 cores, shared machine, ``python -m ui.jobs``): a trivial job costs 0.15–0.25 ms
round trip on a warm worker (arguments and results cost about 2 ms per MB each way on top);
starting a worker ~0.36 s (a pool of 2: 0.39 s, they start together). A job past a 0.5 s
deadline raised after 0.5–0.63 s; its slot's new worker starts in the background, and the next job
on the other worker ran at once.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import pickle
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from core.errors import AutodiffError

from .memory import release_heap

DEFAULT_SECONDS = 5.0
DEFAULT_MEMORY_BYTES = 1 << 30
DEFAULT_RECYCLE_BYTES = 256 << 20
PRELOAD = ("numpy", "scipy.linalg", "scipy.special", "core")
_ROOT = Path(__file__).resolve().parent.parent  # where ``ui`` and ``core`` are
_MB = 1 << 20


class JobError(AutodiffError):
    """A job that did not finish. ``reason`` says why, for a caller that wants to phrase it:
    ``"time"``, ``"memory"``, ``"crashed"``, ``"failed"`` (the function raised), ``"busy"`` (no
    worker came free in time) or ``"closed"`` (the pool was shut down)."""

    def __init__(self, message: str, *, reason: str = "failed", **kw):
        super().__init__(message, **kw)
        self.reason = reason


# ---- the worker process --------------------------------------------------------------------------


def _vm_bytes(field: str) -> int:
    """A ``VmXxx`` line of /proc/self/status, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _limit_blas_threads(count: int) -> None:
    """Set every loaded OpenBLAS (numpy and SciPy each bundle one, with prefixed symbols) to
    ``count`` threads. Best effort: a BLAS without these symbols keeps its default."""
    with open("/proc/self/maps") as maps:
        libraries = {line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1].lower()}
    for path in libraries:
        with contextlib.suppress(OSError):
            library = ctypes.CDLL(path)
            for symbol in ("openblas_set_num_threads", "scipy_openblas_set_num_threads",
                           "scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_"):
                setter = getattr(library, symbol, None)
                if setter is not None:
                    setter(ctypes.c_int(count))
                    break


def _warm_up() -> None:
    """One LAPACK/BLAS call through numpy and one through SciPy: their thread pools and buffers
    are made now, below no memory cap, instead of inside a job."""
    import numpy as np
    import scipy.linalg

    a = np.eye(64) + 0.01
    np.linalg.slogdet(a @ a)
    scipy.linalg.lu_factor(a)


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives a pickle round trip as itself (AutodiffErrors do, with their
    attributes), else a JobError that says what it was."""
    if isinstance(exc, AutodiffError):
        with contextlib.suppress(Exception):
            pickle.loads(pickle.dumps(exc))
            return exc
    return JobError(f"failed: {type(exc).__name__}: {exc}", reason="failed")


def worker_entry(fd: int) -> None:
    """The worker process's program (``python -c``): its end of the socket pair is ``fd``. The
    pool's first message is its set-up: the parent's ``sys.path`` (so a job's module is found as
    it is in the parent), the modules to import now, the BLAS threads and the recycle threshold."""
    connection = Connection(fd)
    try:
        sys_path, preload, blas_threads, recycle_bytes = connection.recv()
    except (EOFError, OSError):
        return
    sys.path[:] = sys_path
    for module in preload:
        __import__(module)
    _worker_main(connection, blas_threads, recycle_bytes)


def _worker_main(connection, blas_threads: int, recycle_bytes: int) -> None:
    """A worker: announce readiness, then run jobs until told to stop or the pool goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C stops the server; it stops the workers
    _limit_blas_threads(blas_threads)
    _warm_up()
    # The imported modules, frozen: later collections walk only the jobs' own objects. (No
    # collection first: over numpy's and SciPy's objects it would take ~0.1 s per worker start.)
    gc.freeze()
    start_rss = _vm_bytes("VmRSS")
    connection.send(("ready", os.getpid()))
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):  # the pool (or the whole server) is gone
            return
        if message is None:
            return
        fn, args, kwargs, memory_bytes, seconds = message
        resource.setrlimit(resource.RLIMIT_DATA, (_vm_bytes("VmData") + memory_bytes, resource.RLIM_INFINITY))
        # A backstop for the pool's own deadline: should the server die mid-job (nobody left to
        # kill this worker), the kernel stops it a few CPU seconds past the budget (SIGXCPU).
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu_limit = int(used.ru_utime + used.ru_stime + seconds) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, resource.RLIM_INFINITY))
        try:
            reply = ("ok", fn(*args, **kwargs))
        except MemoryError:
            reply = ("memory", None)
        except BaseException as exc:  # noqa: BLE001 - any failure of the job goes back to its caller
            reply = ("error", _portable(exc))
        finally:
            # Lift the cap first: sending the result must not fail for want of memory.
            resource.setrlimit(resource.RLIMIT_DATA, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
            resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        try:
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an unpicklable result
            payload = pickle.dumps(("error", JobError(f"failed: the result could not be sent back ({exc})")))
        connection.send_bytes(payload)  # the caller has its answer; cleaning up is the worker's time
        del reply, payload, message, fn, args, kwargs
        gc.collect()
        release_heap()
        retire = _vm_bytes("VmRSS") > start_rss + recycle_bytes
        connection.send(retire)  # read before this worker's next job: a retiring worker is replaced
        if retire:
            return


# ---- the pool --------------------------------------------------------------------------------------


class _Worker:
    """One worker process and the parent's end of its socket. ``start()`` launches it;
    ``wait_ready()`` waits for it to have imported everything (workers of a pool start together)."""

    def __init__(self, preload: tuple, blas_threads: int, recycle_bytes: int, start_seconds: float):
        self._setup = (list(sys.path), list(preload), blas_threads, recycle_bytes)
        self._start_seconds = start_seconds
        self.cleaning = False  # a job's answer was read, the worker's word on its cleanup not yet
        ours, theirs = socket.socketpair()
        code = (f"import sys; sys.path.insert(0, {str(_ROOT)!r}); "
                f"from ui.jobs import worker_entry; worker_entry({theirs.fileno()})")
        try:
            self.process = subprocess.Popen([sys.executable, "-c", code], pass_fds=(theirs.fileno(),),
                                            stdin=subprocess.DEVNULL, close_fds=True)
        finally:
            theirs.close()
        self.connection = Connection(ours.detach())
        try:
            self.connection.send(self._setup)
        except OSError:
            self.stop()
            raise JobError("the server could not start a worker; try again in a moment", reason="crashed") from None

    def wait_ready(self) -> _Worker:
        if not self.connection.poll(self._start_seconds):
            self.stop()
            raise JobError("the server could not start a worker in time; try again in a moment", reason="busy")
        try:
            self.connection.recv()  # ("ready", pid)
        except (EOFError, OSError):
            self.stop()
            raise JobError("the server could not start a worker; try again in a moment", reason="crashed") from None
        return self

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self, wait: float) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(wait)
        return self.process.returncode

    def stop(self) -> None:
        """Kill at once (a job past its deadline must not run on) and reap the process."""
        with contextlib.suppress(Exception):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(5)
        with contextlib.suppress(Exception):
            self.connection.close()

    def retire(self) -> None:
        """Ask an idle worker to exit; kill it if it does not."""
        with contextlib.suppress(Exception):
            self.connection.send(None)
        self.exit_code(1)
        self.stop()


class JobPool:
    """Worker processes that run one job each at a time, each job within its budgets.

    ``workers`` defaults to the CPUs this process may use. Thread-safe: callers on several
    threads queue for a free worker and then run in parallel; a caller never waits on another's
    job except to get a worker. ``close()`` (or leaving a ``with`` block) stops every worker:
    jobs running then end with ``JobError(reason="closed")``, and so do callers still waiting for
    a worker, at once. Create one per app with ``st.cache_resource`` (it holds processes);
    never as a module-level global.
    """

    def __init__(self, workers: int | None = None, *, preload=PRELOAD, blas_threads: int = 1,
                 recycle_bytes: int = DEFAULT_RECYCLE_BYTES, start_seconds: float = 30.0):
        self._size = workers or len(os.sched_getaffinity(0))
        self._options = (tuple(preload), blas_threads, recycle_bytes, start_seconds)
        self._lock = threading.Condition()
        self._idle: list = []  # workers ready for a job; None marks a slot to refill
        self._busy: set = set()
        self._closed = False
        try:
            starting = [_Worker(*self._options) for _ in range(self._size)]  # they import in parallel
            self._busy.update(starting)
            for worker in starting:
                self._idle.append(worker.wait_ready())
                self._busy.discard(worker)
        except BaseException:
            self.close()
            raise

    @property
    def size(self) -> int:
        return self._size

    def __enter__(self) -> JobPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _new_worker(self) -> _Worker:
        return _Worker(*self._options).wait_ready()

    def run(self, fn, *args, seconds: float = DEFAULT_SECONDS, memory_bytes: int = DEFAULT_MEMORY_BYTES,
            wait_seconds: float | None = None, **kwargs):
        """``fn(*args, **kwargs)`` in a worker, at most ``seconds`` of wall time once it started and
        ``memory_bytes`` of new memory. ``wait_seconds`` bounds the wait for a free worker
        (default: wait as long as it takes)."""
        worker = self._take(wait_seconds)
        try:
            if worker is not None and not self._ready(worker):
                worker = self._replace(worker)
            if worker is None:  # an empty slot: its last refill failed
                worker = self._replace(None)
            if worker is None:
                raise JobError("the server could not start a worker for this; try again in a moment",
                               reason="crashed")
            return self._run_on(worker, fn, args, kwargs, seconds, memory_bytes)
        finally:
            self._give_back(worker)

    @staticmethod
    def _ready(worker: _Worker) -> bool:
        """Whether the worker can take a job: alive, and done cleaning up after its last one
        without retiring (it retires when it kept too much memory)."""
        if worker.cleaning:
            worker.cleaning = False
            try:
                if not worker.connection.poll(DEFAULT_SECONDS) or worker.connection.recv():
                    return False
            except (EOFError, OSError):
                return False
        return worker.alive()

    def _run_on(self, worker: _Worker, fn, args, kwargs, seconds: float, memory_bytes: int):
        try:
            worker.connection.send((fn, args, kwargs, int(memory_bytes), float(seconds)))
        except (pickle.PicklingError, TypeError, AttributeError) as exc:
            raise JobError(f"this cannot run in a worker: {exc}", reason="failed") from None
        except OSError:
            worker.stop()
            raise self._closed_error() if self._closed else JobError(
                "the worker for this job had stopped; try again", reason="crashed") from None
        if not worker.connection.poll(seconds):
            worker.stop()
            if self._closed:
                raise self._closed_error()
            raise JobError(f"stopped after {seconds:g} s: this needs more time than a session may use; "
                           "make the program smaller", reason="time")
        try:
            outcome, value = worker.connection.recv()
        except (EOFError, OSError):
            code = worker.exit_code(1)  # it is exiting: reap it to read its exit code
            worker.stop()
            if self._closed:
                raise self._closed_error() from None
            raise JobError(f"the worker running this stopped unexpectedly (exit code {code}), most likely "
                           "for lack of memory; make the program smaller", reason="crashed") from None
        worker.cleaning = True
        if outcome == "ok":
            return value
        if outcome == "memory":
            raise JobError(f"stopped: this needs more than {memory_bytes / _MB:,.0f} MB of memory, more than a "
                           "session may use; make the arrays smaller", reason="memory")
        raise value

    @staticmethod
    def _closed_error() -> JobError:
        return JobError("the server is shutting down; reload the page in a moment", reason="closed")

    def _take(self, wait_seconds: float | None):
        deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
        with self._lock:
            while not self._idle and not self._closed:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise JobError(f"the server is busy: no worker came free within {wait_seconds:g} s; "
                                   "try again in a moment", reason="busy")
                self._lock.wait(remaining)
            if self._closed:
                raise self._closed_error()
            worker = self._idle.pop()
            if worker is not None:
                self._busy.add(worker)
            return worker

    def _refill_slot(self) -> None:
        fresh = None
        with contextlib.suppress(JobError):
            fresh = self._new_worker()
        with self._lock:
            if not self._closed:
                self._idle.append(fresh)
                self._lock.notify()
                return
        if fresh is not None:
            fresh.stop()

    def _replace(self, worker: _Worker | None) -> _Worker | None:
        """Stop ``worker`` (if any) and start a fresh one for its slot, counted as busy; None if
        none could be started."""
        if worker is not None:
            worker.stop()
            with self._lock:
                self._busy.discard(worker)
        if self._closed:
            return None
        fresh = None
        with contextlib.suppress(JobError):
            fresh = self._new_worker()
        if fresh is not None:
            with self._lock:
                self._busy.add(fresh)
        return fresh

    def _give_back(self, worker: _Worker | None) -> None:
        """Return the slot: with this worker if it can take another job; if it was killed or
        died, the slot gets a fresh worker started in the background (its caller is not kept
        waiting for it), and an empty slot if that fails (its next job tries again)."""
        if worker is not None and not worker.alive():
            worker.stop()
            with self._lock:
                self._busy.discard(worker)
            if not self._closed:
                threading.Thread(target=self._refill_slot, name="job-pool-refill", daemon=True).start()
            return
        with self._lock:
            self._busy.discard(worker)
            if self._closed:
                if worker is not None:
                    worker.stop()
                return
            self._idle.append(worker)
            self._lock.notify()

    def close(self) -> None:
        """Stop every worker; running and waiting jobs end with ``JobError(reason="closed")``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, busy = [w for w in self._idle if w is not None], list(self._busy)
            self._idle.clear()
            self._lock.notify_all()
        for worker in idle:
            worker.retire()
        for worker in busy:  # their callers see the pipe close and raise "closed"
            worker.stop()


# ---- a measurement, for this module's docstring -------------------------------------------------------


def _measure() -> None:  # pragma: no cover - prints figures
    start = time.perf_counter()
    with JobPool() as pool:
        print(f"a pool of {pool.size} workers started in {time.perf_counter() - start:.2f} s")
        for _ in range(50):
            pool.run(abs, -1)
        start = time.perf_counter()
        for _ in range(500):
            pool.run(abs, -1)
        print(f"trivial job, round trip: {(time.perf_counter() - start) / 500 * 1000:.2f} ms")
        start = time.perf_counter()
        for _ in range(3):
            pool._new_worker().retire()
        print(f"start a worker: {(time.perf_counter() - start) / 3 * 1000:.0f} ms")
        start = time.perf_counter()
        with contextlib.suppress(JobError):
            pool.run(time.sleep, 5, seconds=0.5)
        print(f"job stopped at a 0.5 s deadline after {time.perf_counter() - start:.3f} s")
        start = time.perf_counter()
        pool.run(abs, -1)
        print(f"next job: {(time.perf_counter() - start) * 1000:.1f} ms")


if __name__ == "__main__":
    _measure()

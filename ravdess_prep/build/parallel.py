"""Ordered parallel maps over threads, shared by the per-clip stages: beside the caller's work
(:func:`map_calls`), or in turns with it (:func:`map_in_turns`)."""

from __future__ import annotations

import os
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from itertools import islice
from typing import Callable, Iterator, Sequence

from threadpoolctl import threadpool_limits

LOW_PRIORITY_NICE = 19


def map_calls(
    function: Callable,
    calls: Sequence[dict],
    *,
    jobs: int | None = None,
    ahead: int | None = None,
    low_priority: bool = False,
) -> Iterator:
    """``function(**kwargs)`` for each ``kwargs`` in ``calls``, results in input order.

    The calls run in ``jobs`` threads of this process. The per-clip stages spend their time
    where the GIL is released (libsndfile decoding, numpy's cumulative sums, FFTs and matrix
    products, numba kernels compiled with ``nogil``), so threads use every core without a
    process per worker: no memory per worker, nothing pickled, no ``__main__`` guard needed in
    scripts. An exception is raised here, with its own type, when its result is reached.

    Args:
        function: What to call.
        calls: Keyword arguments of each call.
        jobs: Threads; default every CPU core; 1 runs in the calling thread.
        ahead: Results computed ahead of the one the caller is reading (None: no limit). This
            bounds the memory of results waiting to be read.
        low_priority: Run the calls in Linux's idle scheduling class (else at nice 19; ignored
            elsewhere), so that they use only the CPU time the caller's own work leaves idle.
    """
    if jobs is None:
        jobs = os.cpu_count() or 1
    if (jobs <= 1 and not low_priority) or len(calls) <= 1:
        for kwargs in calls:
            yield function(**kwargs)
        return
    limit = len(calls) if ahead is None else max(1, ahead)
    pending = deque()
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="ravdess-prep",
                            initializer=_lower_priority if low_priority else None) as pool:
        try:
            queued = iter(calls)
            pending.extend(pool.submit(function, **kwargs) for kwargs in islice(queued, limit))
            while pending:
                result = pending.popleft().result()
                pending.extend(pool.submit(function, **kwargs) for kwargs in islice(queued, 1))
                yield result
        finally:  # on an error (or an abandoned iteration), do not start the calls still queued
            for future in pending:
                future.cancel()


def map_in_turns(function: Callable, calls: Sequence[dict], *, jobs: int | None = None, turn: int) -> Iterator:
    """``function(**kwargs)`` for each ``kwargs`` in ``calls``, results in input order, computed
    ``turn`` calls at a time on ``jobs`` threads while the caller waits, and none while the
    caller works on them.

    For a caller whose own work occupies every core (a PyTorch model on the CPU): beside it, the
    calls would take cycles from its threads between their operations, and those threads would
    sleep and be woken for each operation instead of spinning. Taking turns, each side has the
    whole machine. Every call of a turn is finished before its first result is handed back, so
    an exception is raised, with its own type, when its result is reached, after the results
    before it. ``jobs``: threads (default every CPU core); 1 runs in the calling thread.
    """
    if jobs is None:
        jobs = os.cpu_count() or 1
    if jobs <= 1 or len(calls) <= 1:
        for kwargs in calls:
            yield function(**kwargs)
        return
    turn = max(1, turn)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="ravdess-prep") as pool:
        for first in range(0, len(calls), turn):
            futures = [pool.submit(function, **kwargs) for kwargs in calls[first:first + turn]]
            try:
                wait(futures)
            finally:  # interrupted while waiting: do not start the calls still queued
                for future in futures:
                    future.cancel()
            for future in futures:
                yield future.result()


def _lower_priority() -> None:
    """This thread at Linux's idle scheduling class, else at the lowest nice value."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: the calling thread
        return
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_PRIORITY_NICE)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


def single_threaded_blas():
    """Context manager: numpy's BLAS (OpenBLAS, MKL) on one thread while it is active.

    The per-clip stages multiply small matrices (the mel filterbank, the PCA) from several
    threads, between runs of the model. A multi-threaded BLAS gains nothing on such sizes, and
    its idle threads keep spinning on the cores for a while after each call, which slows the
    model's next run by about 4% (measured on 2 cores). Results are unchanged: each output
    element is computed the same way on one thread as on several.
    """
    return threadpool_limits(limits=1, user_api="blas")

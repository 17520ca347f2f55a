"""Ordered parallel map over worker processes, shared by the per-clip stages."""

from __future__ import annotations

import os
from typing import Callable, Iterator, Sequence


def map_calls(function: Callable, calls: Sequence[dict], *, jobs: int | None = None) -> Iterator:
    """``function(**kwargs)`` for each ``kwargs`` in ``calls``, results in input order.

    With ``jobs`` above 1 the calls run in joblib's loky worker processes, which need no
    ``if __name__ == "__main__"`` guard in scripts and are safe when TensorFlow is loaded;
    results stream back in order, and a worker's exception is raised here with its own type.
    ``function`` must be importable (a module-level function) and its arguments picklable.

    Args:
        function: What to call.
        calls: Keyword arguments of each call.
        jobs: Worker processes; default every CPU core; 1 runs in this process.
    """
    if jobs is None:
        jobs = os.cpu_count() or 1
    if jobs <= 1 or len(calls) <= 1:
        for kwargs in calls:
            yield function(**kwargs)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, return_as="generator", batch_size=8, pre_dispatch="4*n_jobs")
    yield from parallel(delayed(function)(**kwargs) for kwargs in calls)

"""What the benchmark scripts share: the shared data folder, a function run in a fresh child
process, and a timed per-clip loop."""

from __future__ import annotations

import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def shared_dir() -> Path:
    """``$RAVDESS_PREP_SHARED``, else ``../shared`` beside the repository."""
    return Path(os.environ.get("RAVDESS_PREP_SHARED", Path(__file__).resolve().parents[2] / "shared"))


def in_child(function, *args):
    """``function(*args)`` in a freshly spawned process (its imports and memory its own)."""
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as child:
        return child.submit(function, *args).result()


def timed_loop(one, paths) -> float:
    """Seconds ``one(path)`` takes over ``paths``, after one untimed call that sets up kernels."""
    one(paths[0])
    started = time.perf_counter()
    for path in paths:
        one(path)
    return time.perf_counter() - started


def extrapolated(label: str, before_s: float, after_s: float, halves, total: int) -> float:
    """A per-clip reference timed on two halves of a sample, one before the build and one after:
    print its ``<label>_ms_per_clip`` and the seconds it would take on ``total`` clips, and
    return those seconds."""
    count = len(halves[0]) + len(halves[1])
    per_clip = (before_s + after_s) / count
    print(f"{label}_ms_per_clip={per_clip * 1000:.0f} {label}_extrapolated_s={per_clip * total:.1f} "
          f"(sample of {count} clips; {before_s * 1000 / len(halves[0]):.0f} ms before the build, "
          f"{after_s * 1000 / len(halves[1]):.0f} after)")
    return per_clip * total

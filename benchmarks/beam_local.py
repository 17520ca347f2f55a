"""The Beam runner on one machine against the default executor, on the same clips.

    python benchmarks/beam_local.py [--actors 8,11,18] [--jobs 2]

Runs ``ravdess-prep build`` twice on the same subset of ``../shared/ravdess`` (default: actors
08, 11 and 18, both vocal channels, 268 clips; the full set's target length, so 20 examples per
clip), each with an empty cache and a random-weights checkpoint in the official layout: once
with the default executor (``--jobs`` threads), once with ``--runner beam`` (Beam's local
DirectRunner with ``--jobs`` worker processes). Each build is a separate command, timed from
start to exit, as a user runs it; the source files are read once beforehand so that neither
run pays for a cold disk cache. It prints each run's wall time and peak resident memory
(process tree), the ratio of the two, and whether the outputs are byte-identical.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _checkpoint import write_random_checkpoint_elsewhere  # noqa: E402
from _memory import PeakTreeRSS  # noqa: E402
from _common import shared_dir


def _run_build(args: list[str]) -> tuple[float, float, str]:
    with PeakTreeRSS() as peak:
        started = time.perf_counter()
        finished = subprocess.run([sys.executable, "-m", "ravdess_prep.cli", "build", *args], capture_output=True,
                                  text=True)
        seconds = time.perf_counter() - started
    if finished.returncode != 0:
        sys.exit(f"build failed:\n{finished.stderr[-4000:]}")
    return seconds, peak.megabytes, finished.stdout


def _files(out: Path) -> dict[str, bytes]:
    return {path.relative_to(out).as_posix(): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--source", default=str(shared / "ravdess"))
    parser.add_argument("--pca-params", default=str(shared / "vggish" / "vggish_pca_params.npz"))
    parser.add_argument("--actors", default="8,11,18", help="comma-separated actors (default %(default)s)")
    parser.add_argument("--target-length", type=int, default=259431, help="samples (default: the full set's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count(), help="threads, and Beam worker processes")
    args = parser.parse_args()

    from ravdess_prep import pipeline

    clips = pipeline.source(args.source, speakers=[int(actor) for actor in args.actors.split(",")])
    for path in clips["path"]:  # warm the disk cache for both runs alike
        Path(path).read_bytes()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        checkpoint = write_random_checkpoint_elsewhere(scratch / "vggish_model.ckpt")
        common = ["--source", args.source, "--actors", args.actors, "--target-length", str(args.target_length),
                  "--checkpoint", str(checkpoint), "--pca-params", args.pca_params, "--custom-checkpoint",
                  "--no-progress", "--jobs", str(args.jobs)]
        local_s, local_mb, _ = _run_build([*common, "--out", str(scratch / "local"), "--cache-dir",
                                           str(scratch / "cache-local")])
        beam_s, beam_mb, printed = _run_build([*common, "--out", str(scratch / "beam"), "--cache-dir",
                                               str(scratch / "cache-beam"), "--runner", "beam"])
        identical = _files(scratch / "local") == _files(scratch / "beam")
    loads = next((line.rsplit("model loads: ", 1)[1] for line in printed.splitlines() if "model loads: " in line), "?")
    print(f"clips={len(clips)} actors={args.actors} jobs={args.jobs} target_length_samples={args.target_length}")
    print(f"default_executor_wall_s={local_s:.1f} peak_rss_mb={local_mb:.0f}")
    print(f"beam_local_runner_wall_s={beam_s:.1f} peak_rss_mb={beam_mb:.0f} model_loads={loads}")
    print(f"outputs_byte_identical={identical}")
    print(f"ratio_beam_to_default={beam_s / local_s:.3f}")


if __name__ == "__main__":
    main()

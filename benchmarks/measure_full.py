"""Wall time and peak memory of the measure pass over the full RAVDESS set.

    python benchmarks/measure_full.py [--source ../shared/ravdess] [--jobs 2]

Prints the target length it found, the wall time, clips per second, and the peak resident
memory of the whole process tree (this process and its worker processes together), for an
eighth of the clips and for all of them, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import PeakTreeRSS  # noqa: E402

from ravdess_prep.corpora.ravdess import inventory  # noqa: E402
from ravdess_prep.pipeline import measure  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_source = Path(__file__).resolve().parents[2] / "shared" / "ravdess"
    parser.add_argument("--source", default=os.environ.get("RAVDESS_PREP_SHARED", "") and
                        str(Path(os.environ["RAVDESS_PREP_SHARED"]) / "ravdess") or str(default_source))
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    # The same pass on an eighth of the clips first: peak memory must not grow with the count.
    with PeakTreeRSS() as subset_peak:
        subset = inventory(args.source).iloc[::8]
        measure(subset, jobs=args.jobs)

    with PeakTreeRSS() as peak:
        started = time.perf_counter()
        clips = inventory(args.source)
        listed = time.perf_counter()
        result = measure(clips, jobs=args.jobs)
        finished = time.perf_counter()
    wall = finished - started
    print(f"clips={len(result.clips)} jobs={args.jobs}")
    print(f"target_length_samples={result.target_length_samples} longest={result.longest}")
    print(f"inventory_s={listed - started:.2f} measure_s={finished - listed:.2f}")
    print(f"clips_per_s={len(result.clips) / wall:.1f}")
    print(f"wall_s={wall:.2f}")
    print(f"peak_rss_mb_{len(subset)}_clips={subset_peak.megabytes:.0f}")
    print(f"peak_rss_mb={peak.megabytes:.0f}")


if __name__ == "__main__":
    main()

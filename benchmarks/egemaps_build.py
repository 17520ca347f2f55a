"""The full RAVDESS build with eGeMAPS functionals against openSMILE's own one-file loop.

    python benchmarks/egemaps_build.py [--source ../shared/ravdess] [--sample 96]

Builds the full dataset with ``--embedder egemaps`` (functionals on the trimmed clips) from an
empty cache and prints its wall time, seconds per stage and the peak resident memory of the
process tree. In the same run, on an interleaved sample of clips before and after the build,
it times what a user of openSMILE writes: one file at a time, decode, trim with the same rule,
``opensmile.Smile(eGeMAPSv02, Functionals).process_signal`` on the trimmed clip; extrapolated
to every clip.

The last two lines are ``ratio_naive_to_build=`` and ``peak_rss_mb=``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import PeakTreeRSS  # noqa: E402
from _common import extrapolated, shared_dir


def _naive_seconds(paths) -> float:
    import opensmile
    import soundfile

    from ravdess_prep.audio.trim import rolling_trim_offsets

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.Functionals)
    started = time.perf_counter()
    for path in paths:
        samples, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
        start, end = rolling_trim_offsets(samples[:, 0])
        smile.process_signal(samples[start:end, 0].astype("float32"), rate)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--source", default=str(shared / "ravdess"))
    parser.add_argument("--sample", type=int, default=96)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    from ravdess_prep import pipeline
    from ravdess_prep.embedders import EGeMAPSEmbedder

    clips = pipeline.source(args.source)
    total = len(clips)
    sample = list(clips["path"])[:: max(1, total // args.sample)][: args.sample]
    naive_before = _naive_seconds(sample[0::2])
    with tempfile.TemporaryDirectory() as scratch, PeakTreeRSS() as peak:
        started = time.perf_counter()
        result = pipeline.build(pipeline.Config(embedder=EGeMAPSEmbedder()), out=Path(scratch) / "out",
                                source=args.source,
                                run=pipeline.Run(cache_dir=Path(scratch) / "cache", jobs=args.jobs, progress=False))
        build_seconds = time.perf_counter() - started
    naive_after = _naive_seconds(sample[1::2])
    assert sum(split["clips"] for split in result.manifest["splits"].values()) == total
    print(f"clips={total} jobs={args.jobs}")
    print("seconds_per_stage=" + " ".join(f"{stage}:{value:.1f}" for stage, value in result.seconds.items()))
    print(f"build_wall_s={build_seconds:.1f} build_clips_per_s={total / build_seconds:.1f}")
    naive = extrapolated("naive", naive_before, naive_after, (sample[0::2], sample[1::2]), total)
    print(f"ratio_naive_to_build={naive / build_seconds:.3f}")
    print(f"peak_rss_mb={peak.megabytes:.0f}")


if __name__ == "__main__":
    main()

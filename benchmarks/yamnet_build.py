"""The full RAVDESS build with YAMNet against what a TF Hub user writes, and the bare network.

    python benchmarks/yamnet_build.py [--source ../shared/ravdess] [--model ../shared/yamnet/yamnet_savedmodel]

Builds the full dataset with ``--embedder yamnet`` (hop 0.48 s, 11 patches per clip at the
full set's target length) from an empty cache, and prints its wall time, seconds per stage
and the peak resident memory of the process tree. In the same run it times:

- the per-file approach a TF Hub user writes today, on a sample of clips: decode, trim, pad
  to the target, resample the padded clip to 16 kHz with resampy, call the SavedModel's own
  serving function (the published module) on it; extrapolated to every clip;
- the bare network: :class:`yamnet_model.YAMNet` on as many random patches as the build has
  (clips x 11), at the build's batch size.

Both references run in child processes, in two halves (one before the build, one after), and
within each half the per-file clips and the bare patches alternate in slices, so that both
sample the machine's speed over the same minutes as the build (see build_full.py).

The last three lines are ``ratio_naive_to_build=``, ``ratio_build_to_bare_model=`` and
``peak_rss_mb=``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import PeakTreeRSS  # noqa: E402
from _common import extrapolated, in_child, shared_dir

TARGET = 259431  # the full set's target length at 48 kHz (asserted below)


def _per_file_seconds(module, paths) -> float:
    """The TF Hub way, clip by clip: decode, trim, pad, resample, the published module."""
    import resampy
    import soundfile
    import tensorflow as tf

    from ravdess_prep.audio.pad import pad_center
    from ravdess_prep.audio.trim import rolling_trim_offsets

    started = time.perf_counter()
    for path in paths:
        samples, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
        samples = samples[:, 0] / 32768.0
        start, end = rolling_trim_offsets(samples)
        padded, _ = pad_center(samples[start:end], target_length_samples=TARGET)
        waveform = resampy.resample(padded, rate, 16000, filter="kaiser_best")
        module(tf.constant(waveform.astype(np.float32)))[1].numpy()
    return time.perf_counter() - started


def _references(model_dir: str, paths: list[str], patches: int, batch_size: int, slices: int = 8):
    """``(per-file seconds for paths, bare seconds for patches)``, alternating in slices."""
    import tensorflow as tf

    import yamnet_model

    root = tf.saved_model.load(model_dir)
    module = getattr(root, "layer-1").layer._func if hasattr(root, "layer-1") else root
    network = yamnet_model.YAMNet(model_dir, batch_size=batch_size)
    _per_file_seconds(module, paths[:1])  # the first call of each sets up its kernels
    batch = np.random.default_rng(0).normal(-4, 2, (batch_size, 96, 64)).astype(np.float32)
    network.embed(batch)
    per_file = bare = 0.0
    for part in range(slices):
        per_file += _per_file_seconds(module, paths[part::slices])
        count = patches * (part + 1) // slices - patches * part // slices
        started = time.perf_counter()
        for first in range(0, count, batch_size):
            network.embed(batch[: min(batch_size, count - first)])
        bare += time.perf_counter() - started
    return per_file, bare



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--source", default=str(shared / "ravdess"))
    parser.add_argument("--model", default=str(shared / "yamnet" / "yamnet_savedmodel"))
    parser.add_argument("--per-file-sample", type=int, default=96)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    from ravdess_prep import pipeline

    embedder = pipeline.YAMNetEmbedder()
    clips = pipeline.source(args.source)
    total = len(clips)
    patches = total * 11
    sample = list(clips["path"])[:: max(1, total // args.per_file_sample)][: args.per_file_sample]
    halves = (sample[0::2], sample[1::2])
    per_file_before, bare_before = in_child(_references, args.model, halves[0], patches // 2, embedder.batch_size)
    with tempfile.TemporaryDirectory() as scratch, PeakTreeRSS() as peak:
        started = time.perf_counter()
        result = pipeline.build(pipeline.Config(embedder=embedder), out=Path(scratch) / "out", source=args.source,
                                files=pipeline.YAMNetFiles(args.model),
                                run=pipeline.Run(cache_dir=Path(scratch) / "cache", jobs=args.jobs, progress=False))
        build_seconds = time.perf_counter() - started
    per_file_after, bare_after = in_child(_references, args.model, halves[1], patches - patches // 2,
                                           embedder.batch_size)
    manifest = result.manifest
    assert manifest["target_length_samples"] == TARGET and manifest["examples_per_clip"] == 11
    assert sum(split["clips"] for split in manifest["splits"].values()) == total
    print(f"clips={total} patches={patches} batch_size={embedder.batch_size} jobs={args.jobs}")
    print("seconds_per_stage=" + " ".join(f"{stage}:{value:.1f}" for stage, value in result.seconds.items()))
    print(f"build_wall_s={build_seconds:.1f} build_clips_per_s={total / build_seconds:.1f} "
          f"model_calls={result.model_calls}")
    bare = bare_before + bare_after
    print(f"bare_network_s={bare:.1f} ({patches / bare:.1f} patches/s; {patches // 2 / bare_before:.1f} before the "
          f"build, {(patches - patches // 2) / bare_after:.1f} after)")
    naive = extrapolated("naive", per_file_before, per_file_after, halves, total)
    print(f"ratio_naive_to_build={naive / build_seconds:.3f}")
    print(f"ratio_build_to_bare_model={build_seconds / bare:.3f}")
    print(f"peak_rss_mb={peak.megabytes:.0f}")


if __name__ == "__main__":
    main()

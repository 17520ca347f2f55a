"""The full RAVDESS build with Whisper against what a Transformers user writes.

    python benchmarks/whisper_build.py --model ~/.cache/ravdess-prep-test/whisper-base [--source ../shared/ravdess]

Builds the full dataset with ``--embedder whisper`` (``clip`` input, every layer, mean-pooled)
from an empty cache, and prints its wall time, seconds per stage and the peak resident memory
of the process tree. In the same run it times, on a sample of clips, what a Transformers user
writes clip by clip: decode, trim, resample to 16 kHz with resampy, ``WhisperFeatureExtractor``
(the published 30 s input), ``WhisperModel.encoder(..., output_hidden_states=True)``, and the
mean of every layer over the clip's frames; extrapolated to every clip. The reference runs in a
child process, half before the build and half after, so that it samples the machine's speed
over the same minutes as the build (see build_full.py).

The last lines are ``ratio_naive_to_build=`` and ``peak_rss_mb=`` (and, with a GPU, the same
figures there: the build uses it when PyTorch sees one).
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
from _common import extrapolated, in_child, shared_dir, timed_loop


def _per_file_seconds(folder: str, paths: list[str]) -> float:
    """The Transformers way, clip by clip (see the module docstring)."""
    import resampy
    import soundfile
    import torch
    from transformers import WhisperFeatureExtractor, WhisperModel

    from ravdess_prep.audio.trim import rolling_trim_offsets

    device = "cuda" if torch.cuda.is_available() else "cpu"
    extractor = WhisperFeatureExtractor.from_pretrained(folder)
    model = WhisperModel.from_pretrained(folder).to(device).eval()

    def one(path):
        samples, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
        samples = samples[:, 0] / 32768.0
        start, end = rolling_trim_offsets(samples)
        waveform = resampy.resample(samples[start:end], rate, 16000, filter="kaiser_best")
        features = extractor(waveform, sampling_rate=16000, return_tensors="pt").input_features.to(device)
        frames = -(-(waveform.size // 160) // 2)
        with torch.inference_mode():
            states = model.encoder(features, output_hidden_states=True).hidden_states
        return np.stack([state[0, :frames].cpu().numpy().astype(np.float64).mean(axis=0) for state in states])

    return timed_loop(one, paths)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--source", default=str(shared / "ravdess"))
    parser.add_argument("--model", required=True, help="a Transformers Whisper folder (see ../shared/whisper)")
    parser.add_argument("--per-file-sample", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    from ravdess_prep import pipeline

    embedder = pipeline.WhisperEmbedder(batch_size=args.batch_size)
    clips = pipeline.source(args.source)
    total = len(clips)
    sample = list(clips["path"])[:: max(1, total // args.per_file_sample)][: args.per_file_sample]
    halves = (sample[0::2], sample[1::2])
    per_file_before = in_child(_per_file_seconds, args.model, halves[0])
    with tempfile.TemporaryDirectory() as scratch, PeakTreeRSS() as peak:
        started = time.perf_counter()
        result = pipeline.build(pipeline.Config(embedder=embedder), out=Path(scratch) / "out", source=args.source,
                                files=pipeline.WhisperFiles(args.model),
                                run=pipeline.Run(cache_dir=Path(scratch) / "cache", jobs=args.jobs, progress=False))
        build_seconds = time.perf_counter() - started
    per_file_after = in_child(_per_file_seconds, args.model, halves[1])
    manifest = result.manifest
    assert sum(split["clips"] for split in manifest["splits"].values()) == total
    print(f"clips={total} device={manifest.embedder['device']} batch_size={embedder.batch_size} jobs={args.jobs} "
          f"embeddings={manifest['embeddings']}")
    print("seconds_per_stage=" + " ".join(f"{stage}:{value:.1f}" for stage, value in result.seconds.items()))
    print(f"build_wall_s={build_seconds:.1f} build_ms_per_clip={build_seconds * 1000 / total:.0f} "
          f"model_calls={result.model_calls}")
    naive = extrapolated("naive", per_file_before, per_file_after, halves, total)
    print(f"ratio_naive_to_build={naive / build_seconds:.3f}")
    print(f"peak_rss_mb={peak.megabytes:.0f}")


if __name__ == "__main__":
    main()

"""A build with a self-supervised encoder of Transformers against the per-clip Transformers loop.

    python benchmarks/hf_build.py [--source ../shared/ravdess] [--actors 1,8,11] [--batch-size 1]

The model is WavLM-base shaped (12 blocks 768 wide, the standard feature encoder, layer norm,
an attention mask) with random weights, made here: speed does not depend on the weights, and
the published ones cannot reach every machine. The build (``--embedder hf``, every layer,
mean-pooled) runs from an empty cache on the clips of ``--actors``; in the same run, on the
same clips, the loop a Transformers user writes: ``librosa.load(path, sr=16000)``, the model's
feature extractor, ``model(..., output_hidden_states=True)``, the mean of every layer over the
frames, one clip at a time. The loop runs in a child process, half the clips before the build
and half after, so that both sample the machine over the same minutes.

Two ratios, both measured here: ``ratio_naive_to_build`` against that loop as written (it
embeds the whole file, silence included), and ``ratio_same_input_to_build`` against the loop
on the clip the build embeds (trimmed by the pipeline's rule, resampled by its resampler), which
isolates what batching and the threads that prepare clips while the model runs are worth. The
last line is ``peak_rss_mb=`` of the build's process tree.
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
from _common import in_child, shared_dir, timed_loop


def make_model(folder: Path) -> Path:
    """A WavLM-base shaped model with random weights and a masking feature extractor."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.WavLMConfig(feat_extract_norm="layer", do_stable_layer_norm=False)
    transformers.WavLMModel(config).eval().save_pretrained(folder)
    transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=True).save_pretrained(folder)
    return folder


def _loop_seconds(folder: str, paths: list[str], same_input: bool) -> float:
    """The Transformers loop, one clip at a time (see the module docstring)."""
    import librosa
    import torch
    import transformers

    from ravdess_prep import pipeline
    from ravdess_prep.audio.resample import resample

    extractor = transformers.AutoFeatureExtractor.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()

    def one(path):
        if same_input:
            trimmed, offsets = pipeline.trim(path)
            signal = resample(trimmed, from_hz=offsets.sample_rate_hz, to_hz=16000).astype(np.float32)
        else:
            signal, _ = librosa.load(path, sr=16000)
        inputs = extractor(signal, sampling_rate=16000, return_tensors="pt")
        with torch.inference_mode():
            states = model(**inputs, output_hidden_states=True).hidden_states
        return np.stack([state[0].numpy().astype(np.float64).mean(axis=0) for state in states])

    return timed_loop(one, paths)



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--source", default=str(shared / "ravdess"))
    parser.add_argument("--actors", default="1,8,11", help="actors, with one of dev and one of test (default: 1,8,11)")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()

    from ravdess_prep import pipeline

    actors = tuple(int(actor) for actor in args.actors.split(","))
    embedder = pipeline.HFEmbedder(batch_size=args.batch_size)
    config = pipeline.Config(embedder=embedder, speakers=actors, allow_missing_speakers=True)
    paths = [str(path) for path in pipeline.source(args.source, config)["path"]]
    with tempfile.TemporaryDirectory() as scratch:
        model = str(in_child(make_model, Path(scratch) / "wavlm-base-random"))
        halves = (paths[0::2], paths[1::2])
        before = [in_child(_loop_seconds, model, halves[0], same) for same in (False, True)]
        with PeakTreeRSS() as peak:
            started = time.perf_counter()
            result = pipeline.build(config, out=Path(scratch) / "out", source=args.source,
                                    files=pipeline.HFFiles(model),
                                    run=pipeline.Run(cache_dir=Path(scratch) / "cache", jobs=args.jobs,
                                                     progress=False))
            build_seconds = time.perf_counter() - started
        after = [in_child(_loop_seconds, model, halves[1], same) for same in (False, True)]
    clips = sum(split["clips"] for split in result.manifest["splits"].values())
    assert clips == len(paths), (clips, len(paths))
    print(f"clips={clips} actors={args.actors} batch_size={args.batch_size} jobs={args.jobs} "
          f"device={result.manifest.embedder.get('device', 'cpu')} embeddings={result.manifest['embeddings']}")
    print("seconds_per_stage=" + " ".join(f"{stage}:{value:.1f}" for stage, value in result.seconds.items()))
    print(f"build_wall_s={build_seconds:.1f} build_ms_per_clip={build_seconds * 1000 / clips:.0f}")
    naive, same = (before[0] + after[0], before[1] + after[1])
    print(f"naive_wall_s={naive:.1f} naive_ms_per_clip={naive * 1000 / clips:.0f} "
          f"same_input_wall_s={same:.1f} same_input_ms_per_clip={same * 1000 / clips:.0f}")
    print(f"ratio_naive_to_build={naive / build_seconds:.3f}")
    print(f"ratio_same_input_to_build={same / build_seconds:.3f}")
    print(f"peak_rss_mb={peak.megabytes:.0f}")


if __name__ == "__main__":
    main()

"""The full RAVDESS build against the bare VGGish model and the original's per-file approach.

    python benchmarks/build_full.py [--source ../shared/ravdess] [--per-file-sample 96]

Builds the full dataset with the original's settings (hop 0.23 s, 20 examples per clip) and a
random-weights checkpoint in the official layout (speed does not depend on weight values),
with an empty cache, and prints its wall time, peak resident memory of the process tree,
examples per second and seconds per stage, and how much of its time was the model's own
(every ``VGGish.embed`` call timed) and how much everything else. In the same run it times:

- the bare model: ``session.run`` of the VGGish graph on as many examples as the build
  embeds (clips x 20), at the best of batch sizes 64, 128 and 256;
- the original's per-file approach on a sample of clips (decode, trim, pad, save the padded
  wav, then the VGGish front-end on the saved file resampling the whole padded clip, one
  ``session.run`` per file, the post-processor built again per file), extrapolated to every
  clip.

The machine's speed drifts during a run (other tenants), so the two references are each
measured in two halves, one before the build and one after it, and summed: a slow or fast
spell then weighs on both sides of each ratio alike. Within each half the per-file clips and
the bare examples alternate in slices, so the short per-file reference samples the same
minutes as the long bare one. Each half's rate is printed. The references run in child
processes, so the build pays for its own TensorFlow import and the peak memory is the
build's alone.

The last three lines are ``ratio_build_to_bare_model=``, ``ratio_per_file_to_build=`` and
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
from _checkpoint import write_random_checkpoint_elsewhere  # noqa: E402
from _common import extrapolated, in_child, shared_dir  # noqa: E402
from _memory import PeakTreeRSS  # noqa: E402


def _bare_session(checkpoint: Path):
    """The published way: the VGGish graph in a plain session, restored. Returns
    ``(session, output tensor, input tensor)``."""
    import tensorflow as tf

    from vggish import params
    from vggish.model import define_vggish_slim

    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default():
        output = define_vggish_slim(fc2_activation="relu")
        saver = v1.train.Saver()
    session = v1.Session(graph=graph)
    with graph.as_default():
        saver.restore(session, str(checkpoint))
    return session, output, graph.get_tensor_by_name(params.INPUT_TENSOR_NAME)


def _best_batch(checkpoint: Path) -> tuple[int, dict]:
    session, output, features = _bare_session(checkpoint)
    data = np.random.default_rng(0).normal(-4.0, 2.0, (512, 96, 64)).astype(np.float32)
    rates = {}
    for batch_size in (64, 128, 256):
        session.run(output, {features: data[:batch_size]})
        started = time.perf_counter()
        for start in range(0, 512, batch_size):
            session.run(output, {features: data[start : start + batch_size]})
        rates[batch_size] = 512 / (time.perf_counter() - started)
    session.close()
    return max(rates, key=rates.get), rates


def _bare_seconds(session, output, features, num_examples: int, batch_size: int) -> float:
    data = np.random.default_rng(0).normal(-4.0, 2.0, (batch_size, 96, 64)).astype(np.float32)
    started = time.perf_counter()
    done = 0
    while done < num_examples:  # the same batch over and over: speed does not depend on the values
        count = min(batch_size, num_examples - done)
        session.run(output, {features: data[:count]})
        done += count
    return time.perf_counter() - started


def _per_file_seconds(session, output, features, paths, pca: Path, target: int, scratch: Path) -> float:
    from ravdess_prep.audio.io import load_clip, write_wav
    from ravdess_prep.audio.pad import pad_center
    from ravdess_prep.audio.trim import rolling_trim_offsets
    from vggish.frontend import wavfile_to_examples
    from vggish.postprocess import Postprocessor

    started = time.perf_counter()
    for path in paths:  # as the original did: cut, pad, save the wav, then embed the saved file
        samples, rate = load_clip(path)
        start, end = rolling_trim_offsets(samples)
        padded, _ = pad_center(samples[start:end], target_length_samples=target)
        write_wav(scratch / "preprocessed.wav", padded, sample_rate_hz=rate)
        examples = wavfile_to_examples(scratch / "preprocessed.wav", hop_seconds=0.23)
        raw = session.run(output, {features: examples})
        Postprocessor(pca).postprocess(raw)
    return time.perf_counter() - started


class _ModelClock:
    """Times every ``VGGish.embed`` call while active (the build's own model time, to tell it
    from the build's other work)."""

    def __enter__(self):
        from vggish.model import VGGish

        self.seconds, self.examples, self._original = 0.0, 0, VGGish.embed
        clock = self

        def timed(model, examples):
            started = time.perf_counter()
            try:
                return clock._original(model, examples)
            finally:
                clock.seconds += time.perf_counter() - started
                clock.examples += len(examples)

        VGGish.embed = timed
        return self

    def __exit__(self, *exc):
        from vggish.model import VGGish

        VGGish.embed = self._original


def _references(checkpoint: Path, pca: Path, paths, target: int, num_examples: int, batch_size: int,
                slices: int = 8):
    """``(per-file seconds for paths, bare seconds for num_examples)``, measured in ``slices``
    alternating slices of each, so that both sample the machine's speed over the same minutes."""
    from vggish.frontend import waveform_to_examples

    session, output, features = _bare_session(checkpoint)
    for count in (20, batch_size):  # the first run of each batch shape sets up its kernels
        session.run(output, {features: np.zeros((count, 96, 64), np.float32)})
    waveform_to_examples(np.zeros(48000), 48000, hop_seconds=0.23)  # resampy compiles (or loads) its kernel
    per_file = bare = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for part in range(slices):
            per_file += _per_file_seconds(session, output, features, paths[part::slices], pca, target, Path(scratch))
            examples = num_examples * (part + 1) // slices - num_examples * part // slices
            bare += _bare_seconds(session, output, features, examples, batch_size)
    session.close()
    return per_file, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = shared_dir()
    parser.add_argument("--source", default=str(shared / "ravdess"))
    parser.add_argument("--pca-params", default=str(shared / "vggish" / "vggish_pca_params.npz"))
    parser.add_argument("--actors", help="comma-separated subset of actors (default: all)")
    parser.add_argument("--per-file-sample", type=int, default=96)
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    actors = tuple(int(a) for a in args.actors.split(",")) if args.actors else None

    from ravdess_prep import pipeline

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        checkpoint = write_random_checkpoint_elsewhere(scratch / "vggish_model.ckpt")
        config = pipeline.Config() if actors is None else pipeline.Config(target_length_samples=259431)
        pca = Path(args.pca_params)
        clips_table = pipeline.source(args.source, speakers=actors)
        total = len(clips_table)
        examples = total * 20  # the original's settings: 20 examples per clip at the target length
        sample = list(clips_table["path"])[:: max(1, total // args.per_file_sample)][: args.per_file_sample]
        halves = (sample[0::2], sample[1::2])
        target = 259431  # the full set's target (asserted below)
        best, rates = in_child(_best_batch, checkpoint)
        print("bare_examples_per_s_by_batch=" + " ".join(f"{b}:{r:.1f}" for b, r in rates.items()))

        per_file_before, bare_before = in_child(_references, checkpoint, pca, halves[0], target, examples // 2, best)
        with PeakTreeRSS() as peak, _ModelClock() as model_clock:
            started = time.perf_counter()
            result = pipeline.build(config, out=scratch / "out", source=args.source, speakers=actors,
                                    files=pipeline.VGGishFiles(checkpoint, pca, allow_custom_checkpoint=True),
                                    run=pipeline.Run(cache_dir=scratch / "cache", jobs=args.jobs, progress=False))
            build_seconds = time.perf_counter() - started
        per_file_after, bare_after = in_child(_references, checkpoint, pca, halves[1], target,
                                               examples - examples // 2, best)

        manifest = result.manifest
        clips = sum(split["clips"] for split in manifest["splits"].values())
        assert clips == total and manifest["examples_per_clip"] == 20
        assert manifest["target_length_samples"] == target
        print(f"clips={clips} examples={examples} target_length_samples={manifest['target_length_samples']}")
        print("seconds_per_stage=" + " ".join(f"{stage}:{value:.1f}" for stage, value in result.seconds.items()))
        print(f"build_wall_s={build_seconds:.1f} build_examples_per_s={examples / build_seconds:.1f} "
              f"model_calls={result.model_calls}")
        print(f"build_model_s={model_clock.seconds:.1f} on {model_clock.examples} examples "
              f"({model_clock.examples / model_clock.seconds:.1f} examples/s); "
              f"build_other_s={build_seconds - model_clock.seconds:.1f}")
        bare = bare_before + bare_after
        print(f"bare_model_s={bare:.1f} at batch {best} ({examples / bare:.1f} examples/s; "
              f"{examples // 2 / bare_before:.1f} before the build, "
              f"{(examples - examples // 2) / bare_after:.1f} after)")
        per_file = extrapolated("per_file", per_file_before, per_file_after, halves, clips)
    print(f"ratio_build_to_bare_model={build_seconds / bare:.3f}")
    print(f"ratio_per_file_to_build={per_file / build_seconds:.3f}")
    print(f"peak_rss_mb={peak.megabytes:.0f}")


if __name__ == "__main__":
    main()

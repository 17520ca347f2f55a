"""``--precision bf16`` against ``fp32``: the Whisper-base full build, and a WavLM-base shaped
model on the clips of three actors, with a roofline line per precision.

    python benchmarks/bf16.py --whisper-model ~/.cache/ravdess-prep-test/whisper-base \
        [--source ../shared/ravdess] [--only whisper|hf] [--keep DIR]

First the machine's matrix-product peak per precision (``torch.matmul`` of 1024 x 1024
matrices, and of one Whisper-base feed-forward layer on a 3.3 s clip, 165 x 512 x 2048), on the
threads the builds use. Then, each from an empty cache and in its own child process (so that
its peak resident memory is its own):

- the full RAVDESS build with ``--embedder whisper`` (every layer, mean-pooled), in ``fp32``
  then ``bf16``: ``ratio_fp32_to_bf16`` of their wall times;
- the WavLM-base shaped model of ``hf_build.py`` (random weights) on the clips of actors 01, 08
  and 11 (312), in ``fp32`` and ``bf16``, and the float32 per-clip Transformers loop on the same
  files: ``ratio_fp32_to_bf16`` and ``ratio_naive_to_build`` (the loop against the ``bf16``
  build).

Each build prints its batch size (the default ``auto`` as chosen), its wall seconds, the
seconds spent inside the encoder (every run of the model, timed) and outside it (decoding,
resampling, trimming, the front-end, pooling, writing: what the wall adds to the encoder), the
real-time factor (wall seconds per second of trimmed audio) and the peak resident memory of
its process; and a roofline line: the encoder's floating-point operations over every clip
(counted from the model's shapes and each clip's own frames, not the padding within a batch:
convolutions, projections, attention, feed-forward layers; not the normalisations or
activations) divided by the encoder's seconds, beside the measured peak of that precision
(and, for comparison, divided by the whole ``embed`` stage); then the operations the encoder
executed (every run at its batch size and padded length: the padding to the length buckets
and the zero inputs that fill a last batch included) and their fraction of the peak, which is
the kernels' own efficiency. ``--keep DIR`` keeps the Whisper
datasets as ``DIR/whisper-fp32`` and ``DIR/whisper-bf16``.

In a build the encoder takes turns with the workers that prepare the clips, and meets each
batch shape for the first time, so an ``alone`` line follows each build: the same batches, of
the same shapes, through the model alone in a fresh process (the second of two passes), its
seconds and its fraction of the peak measured beside it, just before and after (the machine's
speed drifts over minutes); ``first_pass_s``: the first pass, whose first run of each shape
also sets up its kernels, as in the build. After both
precisions of a model, the cosine of every clip's bf16 row with its fp32 row, per layer: the
smallest, and how many are below 0.999.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import PeakTreeRSS  # noqa: E402
from _common import in_child, shared_dir  # noqa: E402
from hf_build import _loop_seconds, make_model  # noqa: E402

PRECISIONS = ("fp32", "bf16")
#: The products whose speed is the peak: 1024-cubed, and one Whisper-base feed-forward layer on
#: a 3.3 s clip.
PEAK_SHAPES = ((1024, 1024, 1024), (165, 512, 2048))


def matmul_peak_gflops(shape: tuple[int, int, int], precision: str, *, repeats: int = 30, trials: int = 5) -> float:
    """GFLOP/s of ``torch.matmul`` of ``(M, K) x (K, N)`` in ``precision``: the best of
    ``trials`` timings of ``repeats`` products (a shared machine's speed varies from second to
    second; the best is the peak)."""
    import torch

    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    m, k, n = shape
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best = float("inf")
    for _ in range(trials):
        started = time.perf_counter()
        for _ in range(repeats):
            a @ b
        best = min(best, time.perf_counter() - started)
    return 2 * m * k * n * repeats / best / 1e9


def row_cosines(first: Path, second: Path) -> np.ndarray:
    """The cosine of each clip's row in one dataset with its row in another, per layer (rows
    ``(layers, D)``; clips matched by file name), every split."""
    found = []
    for split in ("train", "dev", "test"):
        names = [np.load(folder / split / f"{split}_filenames.npy") for folder in (first, second)]
        rows = [np.load(folder / split / f"{split}_embeddings.npy").astype(np.float64) for folder in (first, second)]
        order = np.argsort(names[1])[np.searchsorted(np.sort(names[1]), names[0])]
        if not np.array_equal(names[1][order], names[0]):
            raise SystemExit(f"{first} and {second} hold different clips in {split}")
        a, b = rows[0], rows[1][order]
        found.append((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1))
    return np.concatenate(found)


def whisper_flops(config, mel_frames: int) -> float:
    """Floating-point operations of Whisper's encoder on a ``clip`` input of ``mel_frames``."""
    d, f, bins = config.d_model, config.ffn_dim, config.num_mel_bins
    n = -(-mel_frames // 2)
    macs = mel_frames * d * bins * 3 + n * d * d * 3
    macs += config.layers * (4 * n * d * d + 2 * n * n * d + 2 * n * d * f)
    return 2.0 * macs


def wavlm_flops(config, samples: int) -> float:
    """Floating-point operations of a wav2vec 2.0 style encoder on ``samples`` samples."""
    frames, macs, channels = samples, 0, 1
    for width, kernel, stride in zip(config.conv_dim, config.conv_kernel, config.conv_stride):
        frames = (frames - kernel) // stride + 1
        macs += frames * width * channels * kernel
        channels = width
    d, f, n = config.hidden_size, config.intermediate_size, frames
    macs += n * channels * d  # the projection of the features
    macs += n * d * (d // config.num_conv_pos_embedding_groups) * config.num_conv_pos_embeddings
    macs += config.num_hidden_layers * (4 * n * d * d + 2 * n * n * d + 2 * n * d * f)
    return 2.0 * macs


def _build(kind: str, model: str, source: str, out: str, cache: str, precision: str, actors) -> dict:
    """One build (run in a child process): its wall and ``embed`` seconds, and the encoder's
    floating-point operations over its clips (from ``metadata.csv``'s trimmed lengths)."""
    import pandas

    from ravdess_prep import pipeline

    if kind == "whisper":
        import whisper_encoder

        embedder, files = pipeline.WhisperEmbedder(precision=precision), pipeline.WhisperFiles(model)
        config = pipeline.Config(embedder=embedder)
        shape = whisper_encoder.read_config(model)
    else:
        import transformers

        embedder, files = pipeline.HFEmbedder(precision=precision), pipeline.HFFiles(model)
        config = pipeline.Config(embedder=embedder, speakers=tuple(actors), allow_missing_speakers=True)
        shape = transformers.AutoConfig.from_pretrained(model)
    from ravdess_prep.build import inference

    in_model, shapes, padded = [0.0], [], []
    run = inference.ModelSession.run

    def timed(session, batch):  # the encoder's own seconds, every run of it, its inputs' shapes and length
        shapes.append([(np.shape(clip.mel), clip.frames) if hasattr(clip, "mel") else (np.shape(clip), None)
                       for clip in batch])
        padded.append(session.model.batch_key(batch[0]))
        begun = time.perf_counter()
        try:
            return run(session, batch)
        finally:
            in_model[0] += time.perf_counter() - begun

    inference.ModelSession.run = timed
    started = time.perf_counter()
    result = pipeline.build(config, out=out, source=source, files=files,
                            run=pipeline.Run(cache_dir=cache, progress=False))
    wall = time.perf_counter() - started
    manifest = result.manifest
    table = pandas.read_csv(Path(out) / "metadata.csv")
    samples = (table["trimmed_length_samples"] * 16000 // table["sample_rate_hz"]).astype(int)
    operations = whisper_flops if kind == "whisper" else wavlm_flops  # of log-mel frames or of samples
    lengths = samples // 160 if kind == "whisper" else samples
    flops = sum(operations(shape, int(length)) for length in lengths)
    size = manifest.embedder["settings"]["batch_size"]
    executed = sum(size * operations(shape, int(length)) for length in padded)  # every run, padded and filled
    return {"wall": wall, "embed": result.seconds["embed"], "encoder": in_model[0], "clips": len(table),
            "flops": flops, "executed_flops": executed,
            "audio_s": float((table["trimmed_length_samples"] / table["sample_rate_hz"]).sum()),
            "batch_size": size, "shapes": shapes}


def _alone(kind: str, model: str, precision: str, batch_size: int, shapes: list,
           cache: str) -> tuple[float, float, float]:
    """The encoder alone (run in a child process): the build's batches again, of the same
    shapes (random inputs: the work does not depend on the values), the model loaded afresh;
    the seconds of the second pass (the first sets up the kernels of each shape), the
    matrix-product peak measured just before and just after it (the higher), so that a drift
    of the machine's speed between the run's start and this pass does not enter the fraction,
    and the seconds of the first pass."""
    from ravdess_prep import pipeline
    from ravdess_prep.embedders.whisper import WhisperInput

    if kind == "whisper":
        embedder, files = pipeline.WhisperEmbedder(precision=precision, batch_size=batch_size), pipeline.WhisperFiles(model)
    else:
        embedder, files = pipeline.HFEmbedder(precision=precision, batch_size=batch_size), pipeline.HFFiles(model)
    rng = np.random.default_rng(0)
    batches = [[WhisperInput(rng.standard_normal(shape).astype(np.float32) * 0.5, frames) if frames is not None
                else rng.standard_normal(shape).astype(np.float32) * 0.1 for shape, frames in batch] for batch in shapes]
    model_files = embedder.model_files(files, cache_dir=cache, progress=False)
    loaded = embedder.for_files(model_files).load(model_files)
    try:
        passes = []
        for _ in range(2):
            before = _peak(precision)
            started = time.perf_counter()
            for batch in batches:
                loaded.embed(batch)
            passes.append(time.perf_counter() - started)
        return passes[1], max(before, _peak(precision)), passes[0]
    finally:
        loaded.close()


def _peak(precision: str) -> float:
    """The matrix-product peak of ``precision``: the faster of the two shapes of :func:`main`."""
    return max(matmul_peak_gflops(shape, precision) for shape in PEAK_SHAPES)


def _compare(kind: str, model: str, source: str, keep: Path | None, scratch: Path, peaks: dict, actors=()) -> dict:
    """Both precisions' builds of one model, each in its own child; prints a line per build."""
    found = {}
    for precision in PRECISIONS:
        out = keep / f"{kind}-{precision}" if keep else scratch / f"{kind}-{precision}"
        if out.exists():
            shutil.rmtree(out)
        with PeakTreeRSS() as peak:
            found[precision] = in_child(_build, kind, model, source, str(out), str(scratch / f"cache-{kind}-{precision}"),
                                        precision, actors)
        row = found[precision]
        row["peak_rss_mb"] = peak.megabytes
        row["alone"], row["alone_peak"], row["alone_first"] = in_child(
            _alone, kind, model, precision, row["batch_size"], row.pop("shapes"), str(scratch / f"cache-{kind}-{precision}"))
        achieved, alone = row["flops"] / row["encoder"] / 1e9, row["flops"] / row["alone"] / 1e9
        print(f"{kind} precision={precision} clips={row['clips']} batch_size={row['batch_size']} "
              f"build_wall_s={row['wall']:.1f} embed_s={row['embed']:.1f} encoder_s={row['encoder']:.1f} "
              f"outside_encoder_s={row['wall'] - row['encoder']:.1f} real_time_factor={row['wall'] / row['audio_s']:.4f} "
              f"peak_rss_mb={peak.megabytes:.0f}")
        print(f"roofline {kind} precision={precision} encoder_gflop={row['flops'] / 1e9:.0f} "
              f"encoder_gflops_per_s={achieved:.0f} matmul_peak_gflops_per_s={peaks[precision]:.0f} "
              f"fraction_of_peak={achieved / peaks[precision]:.2f} (embed stage: "
              f"{row['flops'] / row['embed'] / 1e9 / peaks[precision]:.2f})")
        print(f"alone {kind} precision={precision} encoder_alone_s={row['alone']:.1f} "
              f"first_pass_s={row['alone_first']:.1f} encoder_gflops_per_s={alone:.0f} "
              f"matmul_peak_gflops_per_s={row['alone_peak']:.0f} fraction_of_peak={alone / row['alone_peak']:.2f} "
              f"(of the run's first peak: {alone / peaks[precision]:.2f})")
        executed = row["executed_flops"] / 1e9
        print(f"executed {kind} precision={precision} executed_gflop={executed:.0f} "
              f"executed_over_counted={row['executed_flops'] / row['flops']:.3f} "
              f"in_build_fraction_of_peak={executed / row['encoder'] / peaks[precision]:.2f} "
              f"alone_fraction_of_peak={executed / row['alone'] / row['alone_peak']:.2f}")
    print(f"{kind} ratio_fp32_to_bf16={found['fp32']['wall'] / found['bf16']['wall']:.3f} "
          f"(embed stage {found['fp32']['embed'] / found['bf16']['embed']:.3f}, encoder in the build "
          f"{found['fp32']['encoder'] / found['bf16']['encoder']:.3f}, encoder alone "
          f"{found['fp32']['alone'] / found['bf16']['alone']:.3f})")
    folders = [keep / f"{kind}-{precision}" if keep else scratch / f"{kind}-{precision}" for precision in PRECISIONS]
    cosines = row_cosines(*folders)
    print(f"{kind} bf16_rows_against_fp32 clips={cosines.shape[0]} layers={cosines.shape[1]} "
          f"min_cosine={cosines.min():.6f} below_0.999={int((cosines < 0.999).sum())}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(shared_dir() / "ravdess"))
    parser.add_argument("--whisper-model", help="a Transformers Whisper folder (see ../shared/whisper)")
    parser.add_argument("--only", choices=("whisper", "hf"))
    parser.add_argument("--actors", default="1,8,11")
    parser.add_argument("--keep", type=Path, help="keep the Whisper datasets here")
    args = parser.parse_args()

    import torch

    from ravdess_prep.embedders.precision import NATIVE_BF16_FLAGS, cpu_flags

    print(f"threads={torch.get_num_threads()} torch={torch.__version__} "
          f"bf16_features={','.join(sorted(cpu_flags() & set(NATIVE_BF16_FLAGS))) or 'none'} "
          f"cuda={torch.cuda.is_available()}")
    peaks = {}
    for precision in PRECISIONS:
        square, ffn = (matmul_peak_gflops(shape, precision) for shape in PEAK_SHAPES)
        peaks[precision] = max(square, ffn)
        print(f"matmul precision={precision} gflops_per_s_1024={square:.0f} gflops_per_s_whisper_ffn={ffn:.0f}")
    print(f"matmul ratio_bf16_to_fp32={peaks['bf16'] / peaks['fp32']:.2f}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if args.only in (None, "whisper"):
            if not args.whisper_model:
                parser.error("--whisper-model is needed for the Whisper builds (or --only hf)")
            _compare("whisper", args.whisper_model, args.source, args.keep, scratch, peaks)
        if args.only in (None, "hf"):
            actors = tuple(int(actor) for actor in args.actors.split(","))
            model = str(in_child(make_model, scratch / "wavlm-base-random"))
            found = _compare("hf", model, args.source, None, scratch, peaks, actors)
            from ravdess_prep import pipeline

            config = pipeline.Config(embedder=pipeline.HFEmbedder(), speakers=actors, allow_missing_speakers=True)
            paths = [str(path) for path in pipeline.source(args.source, config)["path"]]
            loop = in_child(_loop_seconds, model, paths, False)
            print(f"hf naive_wall_s={loop:.1f} naive_ms_per_clip={loop * 1000 / len(paths):.0f} "
                  f"ratio_naive_to_build={loop / found['bf16']['wall']:.3f} (fp32 build: "
                  f"{loop / found['fp32']['wall']:.3f})")


if __name__ == "__main__":
    main()

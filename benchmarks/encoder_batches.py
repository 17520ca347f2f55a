"""Whisper's encoder alone, by batch size and precision: the fraction of the matrix-product peak
it reaches on clips of RAVDESS's lengths.

    python benchmarks/encoder_batches.py --whisper-model ~/.cache/ravdess-prep-test/whisper-base \
        [--clips 96] [--batch-sizes 1,4,8,16,32] [--precisions fp32,bf16]

The clips are random log-mel frames of the lengths of ``--clips`` RAVDESS clips spread over the
set's trimmed lengths (``--lengths METADATA.csv`` from a build; default: 150 to 540 frames evenly),
sorted by length as a build batches them. Prints per precision the ``torch.matmul`` peak
(1024^3), and per batch size the encoder's seconds, its GFLOP/s (operations counted from the
model's shapes, padding not counted) and that over the peak.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bf16 import matmul_peak_gflops, whisper_flops  # noqa: E402

import whisper_encoder  # noqa: E402


def lengths_of(metadata: Path | None, clips: int) -> list[int]:
    """Log-mel frame counts of ``clips`` clips spread evenly over a build's trimmed lengths."""
    if metadata is None:
        return [int(value) for value in np.linspace(150, 540, clips)]
    import pandas as pd

    table = pd.read_csv(metadata)
    samples = np.sort(table["trimmed_length_samples"].to_numpy() * 16000 // table["sample_rate_hz"].to_numpy())
    picks = samples[np.linspace(0, samples.size - 1, clips).astype(int)]
    return [int(value) // 160 for value in picks]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--whisper-model", required=True)
    parser.add_argument("--clips", type=int, default=96)
    parser.add_argument("--lengths", type=Path, default=None)
    parser.add_argument("--batch-sizes", default="1,4,8,16,32")
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args(argv)
    import torch

    print(f"torch={torch.__version__} threads={torch.get_num_threads()} "
          f"amx_bf16={'amx_bf16' in Path('/proc/cpuinfo').read_text()}")
    lengths = lengths_of(args.lengths, args.clips)
    rng = np.random.default_rng(0)
    config = whisper_encoder.read_config(args.whisper_model)
    mels = [rng.standard_normal((config.num_mel_bins, length)).astype(np.float32) * 0.5 for length in lengths]
    flops = sum(whisper_flops(config, length) for length in lengths)
    for precision in args.precisions.split(","):
        peak = matmul_peak_gflops((1024, 1024, 1024), precision)
        print(f"precision={precision} matmul_peak_gflops={peak:.0f}")
        for size in (int(value) for value in args.batch_sizes.split(",")):
            encoder = whisper_encoder.WhisperEncoder(args.whisper_model, batch_size=size, precision=precision)
            encoder.hidden_states(mels[:size])  # kernels set up
            started = time.perf_counter()
            encoder.hidden_states(mels)
            seconds = time.perf_counter() - started
            rate = flops / seconds / 1e9
            print(f"  batch_size={size:3d} seconds={seconds:6.2f} gflops_per_s={rate:6.0f} "
                  f"fraction_of_peak={rate / peak:.2f}")
            encoder.close()


if __name__ == "__main__":
    main()

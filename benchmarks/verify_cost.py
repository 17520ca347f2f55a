"""What a reader's check of a dataset costs beside the work it guards: ``require_sound`` (the
manifest read, every recorded file's size and SHA-256, the bundles' shapes) against ``train``
with the default head on the same dataset.

    python benchmarks/verify_cost.py DATASET [--repeats 3]

Build the dataset first, for example the full Whisper-base build:

    ravdess-prep build --embedder whisper --whisper-model ~/.cache/ravdess-prep-test/whisper-base \
        --source ../shared/ravdess --out data/whisper-full

Prints the bytes hashed, the check's seconds (the least of ``--repeats``, after a first run
that brings the files into the page cache, as a reader that follows a build finds them), the
seconds of the first, cold-cache-like run, ``train``'s seconds (its own check included), and
``check_fraction_of_train``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ravdess_prep.dataset.integrity import require_sound
from ravdess_prep.dataset.manifest import Manifest
from ravdess_prep.evaluation import classifier


def check_seconds(folder: Path) -> float:
    started = time.perf_counter()
    require_sound(Manifest.read(folder))
    return time.perf_counter() - started


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    manifest = Manifest.read(args.dataset)
    hashed = sum((args.dataset / relative).stat().st_size for relative in manifest.bundle_sha256)
    first = check_seconds(args.dataset)
    warm = min(check_seconds(args.dataset) for _ in range(args.repeats))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        classifier.train(args.dataset, Path(scratch) / "model")
        train_s = time.perf_counter() - started
    print(f"dataset={args.dataset} files_hashed_mb={hashed / 1e6:.1f}")
    print(f"check_first_s={first:.3f} check_s={warm:.3f} train_s={train_s:.1f} "
          f"check_fraction_of_train={warm / train_s:.4f} (first run: {first / train_s:.4f})")


if __name__ == "__main__":
    main()

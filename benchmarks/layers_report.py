"""Dev and test accuracy of one head on each layer of a layer-stack dataset, and on all of them
weighted: which layers carry the emotion.

    python benchmarks/layers_report.py data/whisper-base [--head linear] [--speaker-norm]

Trains ``ravdess-prep train --layer K`` for every layer K the manifest lists, then the default
(a learned weighting of every layer), and prints one line each:
``layer=K dev=ACC/BALANCED test=ACC/BALANCED``.
"""

from __future__ import annotations

import argparse
import tempfile

from ravdess_prep.evaluation import classifier
from ravdess_prep.dataset.manifest import Manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="a bundle folder of a layer-stack embedder (whisper, hf)")
    parser.add_argument("--head", default="linear", choices=("linear", "mlp"))
    parser.add_argument("--speaker-norm", action="store_true")
    args = parser.parse_args()
    layers = Manifest.read(args.data).output["layers"]
    with tempfile.TemporaryDirectory() as scratch:
        for layer in [*layers, None]:
            config = classifier.TrainConfig(head=args.head, layer=layer, speaker_norm=args.speaker_norm)
            splits = classifier.train(args.data, scratch, config).metrics["splits"]
            figures = " ".join(f"{name}={splits[name]['accuracy']:.3f}/{splits[name]['balanced_accuracy']:.3f}"
                               for name in ("dev", "test"))
            print(f"layer={'weighted' if layer is None else layer} head={args.head} "
                  f"speaker_norm={args.speaker_norm} {figures}", flush=True)


if __name__ == "__main__":
    main()

"""``ravdess-prep predict``: the emotion of audio files, by a trained model."""

from __future__ import annotations

import argparse
import json
import sys

from .. import predict
from ..dataset.manifest import Manifest
from .embed import add_dataset_options, dataset_files

NAME = "predict"
HELP = "predict the emotion of audio files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--dataset", required=True, help="the bundle folder the model was trained on")
    parser.add_argument("--model-dir", required=True, help="the trained model's folder")
    add_dataset_options(parser)
    parser.add_argument("--enrol", nargs="+", metavar="FILE",
                        help="a speaker-normalised model: recordings (or folders of them) of the speaker of the files, "
                        "whose statistics standardise them (without it the files are standardised with each other)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(wording={**parser.get_default("wording"), "enrol": "--enrol"})


def run(args: argparse.Namespace) -> int:
    files = dataset_files(args, Manifest.read(args.dataset))
    enrol = predict.enrolment_files(args.enrol or ())
    probabilities, names = predict.predict_files(args.files, dataset=args.dataset, model_dir=args.model_dir,
                                                    on_too_long=args.on_too_long, files=files, enrol=enrol)
    note = predict.speaker_norm_note(args.model_dir, files=len(args.files), enrol=len(enrol))
    if note is not None:
        print(note, file=sys.stderr)
    report = [
        {"file": path, "emotion": names[int(row.argmax())],
         "probabilities": {name: round(float(value), 6) for name, value in zip(names, row)}}
        for path, row in zip(args.files, probabilities)
    ]
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    for entry in report:
        ranked = sorted(entry["probabilities"].items(), key=lambda item: -item[1])
        print(f"{entry['file']}: {entry['emotion']}  (" + ", ".join(f"{name} {value:.2f}" for name, value in ranked) + ")")
    return 0

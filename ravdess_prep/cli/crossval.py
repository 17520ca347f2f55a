"""``ravdess-prep crossval``: the classifier cross-validated by speaker."""

from __future__ import annotations

import argparse

from .. import classifier
from .options import UsageError
from .train import add_training_options, train_config

NAME = "crossval"
HELP = "cross-validate the classifier by speaker"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="a bundle folder; every split is pooled")
    parser.add_argument("--folds", default="actor",
                        help="'actor' or 'speaker' (leave one out, default), a number of folds by speaker, or a "
                        "split preset's folds: 'folds6' or 'loso' (each fold's dev split watched, its test reported)")
    parser.add_argument("--model-root", help="keep each fold's model under this folder")
    add_training_options(parser)


def run(args: argparse.Namespace) -> int:
    folds = args.folds
    if folds.isdigit() or folds.lstrip("-").isdigit():
        folds = int(folds)
        if folds < 1:
            raise UsageError(f"--folds: a positive number, 'actor', or a preset, not {args.folds!r}")
    result = classifier.cross_validate(args.data, train_config(args), folds=folds, model_root=args.model_root)
    for fold in result["folds"]:
        speakers = ",".join(f"{speaker:02d}" for speaker in fold["held_out_speakers"])
        print(f"held out {speakers:12s} {fold['clips']:5d} clips  accuracy {fold['accuracy']:.1%}")
    print(f"accuracy over {len(result['folds'])} folds: {result['mean_accuracy']:.1%} "
          f"+/- {result['std_accuracy']:.1%} (standard deviation)")
    return 0

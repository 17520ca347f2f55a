"""``ravdess-prep train``: the emotion classifier, trained on bundles."""

from __future__ import annotations

import argparse

from .. import classifier
from ..output import OUTPUT_RULE
from .options import add_settings, given_values, wording

NAME = "train"
HELP = "train the emotion classifier on bundles"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="a bundle folder (this library's or the original's)")
    parser.add_argument("--model-dir", required=True, help="where the model and its reports go (" + OUTPUT_RULE + ")")
    add_training_options(parser)
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Keras verbosity")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Every hyperparameter of :class:`ravdess_prep.classifier.TrainConfig`."""
    table = add_settings(parser, [classifier.TrainConfig])
    parser.set_defaults(table=table, usage_errors=True, wording={**wording([classifier.TrainConfig]),
                                                                 "model_dir": "--model-dir", "model_root": "--model-root"})


def train_config(args: argparse.Namespace) -> classifier.TrainConfig:
    return classifier.TrainConfig(**given_values(args, classifier.TrainConfig, args.table))


def run(args: argparse.Namespace) -> int:
    result = classifier.train(args.data, args.model_dir, train_config(args), verbose=args.verbose)
    print(f"{'split':6s} {'clips':>6s} {'accuracy':>9s} {'balanced':>9s}")
    for name, split in result.metrics["splits"].items():
        print(f"{name:6s} {split['clips']:6d} {split['accuracy']:9.1%} {split['balanced_accuracy']:9.1%}")
    print(f"model, metrics.json and confusion_matrix.png in {result.model_dir}")
    return 0

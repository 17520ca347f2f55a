"""``ravdess-prep train``: the emotion classifier, trained on bundles."""

from __future__ import annotations

import argparse

from ..evaluation import classifier
from ..storage.guards import OUTPUT_RULE
from .options import add_settings, given_values, wording

NAME = "train"
HELP = "train the emotion classifier on bundles"


def add_data_option(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--data``, repeatable (``train`` and ``crossval``): ``what`` one folder is to them."""
    parser.add_argument("--data", required=True, action="append",
                        help=f"{what}; repeat it to put datasets of the same clips side by side (fusion)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_option(parser, what="a bundle folder (this library's or the original's)")
    parser.add_argument("--model-dir", required=True, help="where the model and its reports go (" + OUTPUT_RULE + ")")
    add_training_options(parser)
    parser.add_argument("--verbose", type=int, default=0, choices=(0, 1, 2), help="Keras verbosity")


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """Every hyperparameter of :class:`ravdess_prep.evaluation.classifier.TrainConfig`."""
    table = add_settings(parser, [classifier.TrainConfig])
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars, and no warnings of TensorFlow or Transformers (their errors still show)")
    parser.set_defaults(table=table, usage_errors=True, wording={**wording([classifier.TrainConfig]),
                                                                 "model_dir": "--model-dir", "model_root": "--model-root"})


def train_config(args: argparse.Namespace) -> classifier.TrainConfig:
    return classifier.TrainConfig(**given_values(args, classifier.TrainConfig, args.table))


def run(args: argparse.Namespace) -> int:
    data = args.data[0] if len(args.data) == 1 else args.data
    result = classifier.train(data, args.model_dir, train_config(args), verbose=args.verbose)
    choices = result.metrics.get("choices")
    if choices:
        members, count = choices["members"], len(choices["candidates"])
        print(f"chosen on dev among {count} candidates: "
              + ("; ".join(_candidate(member) for member in members)
                 + (f" (the {len(members)} best, their scores averaged)" if len(members) > 1 else "")))
    print(f"{'split':6s} {'clips':>6s} {'UA':>7s} {'WA':>7s} {'F1':>7s}")
    for name, split in result.metrics["splits"].items():
        print(f"{name:6s} {split['clips']:6d} {split['ua']:7.1%} {split['wa']:7.1%} {split['macro_f1']:7.1%}")
    print(f"model, metrics.json and confusion_matrix.png in {result.model_dir}")
    return 0


def _candidate(choice: dict) -> str:
    """One candidate of the choices made on dev, in a few words."""
    parts = [f"{key} {value}" for key, value in choice.items() if key != "dev_ua" and value is not None]
    return ", ".join(parts) + f" (dev UA {choice['dev_ua']:.1%})"

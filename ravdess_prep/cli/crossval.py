"""``ravdess-prep crossval``: the classifier cross-validated by speaker, or on a published protocol."""

from __future__ import annotations

import argparse

from ..corpora import fold_presets_help, protocols_help
from ..evaluation import crossval
from .options import UsageError
from .train import add_data_option, add_training_options, train_config

NAME = "crossval"
HELP = "cross-validate the classifier by speaker, or on a published protocol (UA, WA, macro-F1)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_option(parser, what="a bundle folder, every split pooled")
    parser.add_argument("--protocol",
                        help="a published protocol: its clips, classes and folds (" + protocols_help() + ")")
    parser.add_argument("--folds",
                        help="without --protocol: 'actor' or 'speaker' (leave one out, default), a number of folds by "
                        "speaker, or a split preset's folds (" + fold_presets_help() + ")")
    parser.add_argument("--no-refit", dest="refit", action="store_false",
                        help="report each fold's model trained on its train speakers only (default: once the choices "
                        "are made on dev, trained again on train and dev)")
    parser.add_argument("--as-published", action="store_true",
                        help="with --protocol: run its paper's own regime (where the choices are made, whether the "
                        "model is trained again; emobox: a random fifth of the training clips as dev, no refit; "
                        "pepino2021: train 01-20, dev 21-22, no refit) instead of the library's")
    parser.add_argument("--json", metavar="OUT", help="write the record (every fold, mean and std) to this JSON file")
    parser.add_argument("--model-root", help="keep each fold's model under this folder")
    add_training_options(parser)
    parser.set_defaults(wording={**parser.get_default("wording"), "json": "--json", "protocol": "--protocol",
                                 "folds": "--folds", "as_published": "--as-published"})


def run(args: argparse.Namespace) -> int:
    folds = args.folds
    if folds is not None and (folds.isdigit() or folds.lstrip("-").isdigit()):
        folds = int(folds)
        if folds < 1:
            raise UsageError(f"--folds: a positive number, 'actor', or a preset, not {args.folds!r}")
    if args.protocol is not None and folds is not None:
        raise UsageError("--protocol fixes the folds; give --protocol or --folds, not both")
    if args.json is not None:
        crossval.check_record_path(args.json)
    data = args.data[0] if len(args.data) == 1 else args.data
    record = crossval.cross_validate(data, train_config(args), folds=folds or "speaker", protocol=args.protocol,
                                     refit=args.refit, as_published=args.as_published, model_root=args.model_root)
    print(f"{'test speakers':18s} {'clips':>5s} {'UA':>6s} {'WA':>6s} {'F1':>6s}  chosen")
    for fold in record["folds"]:
        speakers = ",".join(f"{speaker:02d}" for speaker in fold["test_speakers"])
        chosen = fold["chosen"]
        detail = chosen["head"] + (f" average of {len(chosen['members'])}" if chosen.get("members") else "") + "".join(
            f" {key} {_shown(chosen[key])}" for key in ("layers", "layer", "shrinkage") if chosen.get(key) is not None)
        print(f"{speakers:18s} {fold['clips']:5d} {fold['ua']:6.1%} {fold['wa']:6.1%} {fold['macro_f1']:6.1%}  {detail}")
    print(f"over {len(record['folds'])} fold{'s' if len(record['folds']) != 1 else ''}"
          + (f" of the {record['protocol']} protocol" if record["protocol"] else "") + ": "
          + ", ".join(f"{label} {record[key]['mean']:.1%} +/- {record[key]['std']:.1%}"
                      for key, label in (("ua", "UA"), ("wa", "WA"), ("macro_f1", "macro-F1")))
          + " (mean +/- standard deviation)")
    print(f"regime: {record['regime']['name']} ({record['regime']['summary']})")
    if "note" in record["interval"]:
        print(f"interval (95%): none ({record['interval']['note']})")
    else:
        print("interval of the mean (95%, a bootstrap over test speakers): "
              + ", ".join(f"{label} {record[key]['ci95'][0]:.1%} to {record[key]['ci95'][1]:.1%}"
                          for key, label in (("ua", "UA"), ("wa", "WA"), ("macro_f1", "macro-F1"))))
    if args.json is not None:
        print(f"record in {crossval.write_record(record, args.json)}")
    return 0


def _shown(value) -> str:
    if isinstance(value, list) and len(value) > 2 and value == list(range(value[0], value[-1] + 1)):
        return f"{value[0]}-{value[-1]}"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)

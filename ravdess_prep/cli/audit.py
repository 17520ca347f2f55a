"""``ravdess-prep audit``: a dataset's splits, or a protocol's folds, checked for leakage."""

from __future__ import annotations

import argparse

from ..corpora import protocols_help
from ..evaluation import audit

NAME = "audit"
HELP = ("check a dataset's splits (or a protocol's folds) for leakage: speakers on both sides, the same audio under "
        "two names, shared texts, class balance, how speaker-identifiable the rows are")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a folder written by 'ravdess-prep build'")
    parser.add_argument("--protocol", help="audit the folds of a published protocol instead of the dataset's splits ("
                        + protocols_help() + ")")
    parser.add_argument("--seed", type=int, default=0, help="seed of the speaker probe's held-out clips (default 0)")
    parser.add_argument("--json", metavar="OUT", help="write the record to this JSON file")
    parser.set_defaults(wording={**parser.get_default("wording"), "json": "--json", "protocol": "--protocol"})


def run(args: argparse.Namespace) -> int:
    if args.json is not None:
        audit.check_record_path(args.json)
    record = audit.audit(args.dataset, protocol=args.protocol, seed=args.seed)
    print(f"{args.dataset}" + (f", the folds of the {args.protocol} protocol" if args.protocol else "") + ":")
    for check, sentence in record["verdict"].items():
        print(f"  {check.replace('_', ' ')}: {sentence}")
    probe = record["speaker_probe"]["accuracy"]
    print("  speaker probe accuracy by layer: " + ", ".join(f"{layer} {value:.2f}" for layer, value in probe.items()))
    if args.json is not None:
        print(f"record in {audit.write_record(record, args.json)}")
    return 0

"""``ravdess-prep crosscorpus``: train on each dataset, score on every other (the cross-corpus matrix)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..evaluation import corpus_matrix
from ..storage.atomic import write_json
from .train import add_training_options, train_config

NAME = "crosscorpus"
HELP = "train on each dataset and score on every other over the emotions they share (UA and WA matrix, heat map)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, action="append",
                        help="a dataset folder (give two or more, of one embedder and settings)")
    parser.add_argument("--emotions", help="the canonical emotions scored, comma-separated (default: every one the "
                        "datasets all share), e.g. angry,happy,neutral,sad")
    parser.add_argument("--no-corpus-norm", dest="corpus_norm", action="store_false",
                        help="do not standardise each dataset's rows with its own statistics first")
    parser.add_argument("--json", metavar="OUT", help="write the record (both matrices) to this JSON file")
    parser.add_argument("--plot", metavar="PNG", help="draw the UA matrix as a heat map to this PNG")
    add_training_options(parser)
    parser.set_defaults(wording={**parser.get_default("wording"), "json": "--json", "plot": "--plot",
                                 "data": "--data", "emotions": "--emotions", "corpus_norm": "--no-corpus-norm"})


def run(args: argparse.Namespace) -> int:
    corpus_matrix.check_report_paths(json_path=args.json, plot_path=args.plot)
    emotions = None if args.emotions is None else [name.strip() for name in args.emotions.split(",") if name.strip()]
    record = corpus_matrix.corpus_matrix(args.data, train_config(args), emotions=emotions,
                                         corpus_norm=args.corpus_norm)
    names = [f"{item['corpus']}:{Path(item['folder']).name}" for item in record["datasets"]]
    width = max(len(name) for name in names) + 2
    print(f"UA (WA) over {', '.join(record['emotions'])}; rows trained on, columns scored on "
          + ("(each corpus standardised with its own statistics)" if record["corpus_norm"] else "(rows as they are)"))
    print(" " * width + "".join(f"{name:>{width}s}" for name in names))
    for name, ua, wa in zip(names, record["ua"], record["wa"]):
        cells = ["-" if u is None else f"{u:.1%} ({w:.1%})" for u, w in zip(ua, wa)]
        print(f"{name:{width}s}" + "".join(f"{cell:>{width}s}" for cell in cells))
    print(f"diagonal: {record['diagonal']}")
    if args.json is not None:
        print(f"record in {write_json(args.json, record)}")
    if args.plot is not None:
        print(f"heat map in {corpus_matrix.draw(record, args.plot)}")
    return 0

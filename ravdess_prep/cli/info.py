"""``ravdess-prep info``: count the clips of a source and list every problem."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from ..build.executors import Run
from ..config import SOURCE, Config
from ..corpora import downloads_help, verifiable_help
from .options import add_settings, given_values, wording

NAME = "info"
HELP = "count the clips of a source and list every problem"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    table, _ = add_source_options(parser, required=True)
    parser.add_argument("--verify", action="store_true",
                        help="also compare every file with the corpus's published sizes and SHA-256 ("
                        + verifiable_help() + ")")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(table=table)


def add_source_options(parser: argparse.ArgumentParser, *, required: bool) -> tuple[dict, dict]:
    """``--source``, ``--corpus`` and ``--cache-dir``; returns the table of the two settings and
    the argument groups made so far."""
    groups = {SOURCE: parser.add_argument_group(SOURCE)}
    groups[SOURCE].add_argument("--source", action="append", required=required,
                                help="a folder, a .zip, or the corpus's download (" + downloads_help() + "); repeatable"
                                + ("" if required else " (default: download)"))
    table = add_settings(parser, [Config], only=("corpus", "labels", "emotion_map", "labels_table", "labels_column"),
                         groups=groups)
    add_settings(parser, [Run], only=("cache_dir",), table=table, groups=groups)
    parser.set_defaults(wording=wording([Config, Run]))
    return table, groups


def database_source(args: argparse.Namespace) -> None:
    """``--corpus audformat`` without ``--labels``: the database is the (first) source folder."""
    if getattr(args, "corpus", None) == "audformat" and getattr(args, "labels", None) is None and args.source:
        args.labels = args.source[0]


def run(args: argparse.Namespace) -> int:
    database_source(args)
    corpus = Config(**given_values(args, Config, args.table)).source_corpus()
    result = corpus.survey(args.source, cache_dir=args.cache_dir, progress=not args.json)
    if args.verify:
        result = dataclasses.replace(result, problems=result.problems + tuple(corpus.verify(result)))
    report = {
        "roots": [str(root) for root in result.roots],
        "clips": len(result.clips),
        "counts": corpus.counts(result.clips),
        "excluded": result.excluded_counts(),
        "problems": [{"error": type(problem).__name__, "message": str(problem)} for problem in result.problems],
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(f"{report['clips']} clips in {', '.join(report['roots'])}")
        for facet, counts in report["counts"].items():
            print(f"  by {facet.replace('_', ' ')}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
        for reason, count in report["excluded"].items():
            print(f"  left out by the corpus: {count} files ({reason})")
        print(f"{len(result.problems)} problems" + (":" if result.problems else ""))
        for problem in report["problems"]:
            print(f"  {problem['error']}: {problem['message']}")
    return 1 if result.problems else 0



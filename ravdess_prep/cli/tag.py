"""``ravdess-prep tag``: the top sound classes of audio files, by the tagger's model."""

from __future__ import annotations

import argparse
import json
import sys

from ..build.executors import Run
from ..embedders import tagging as tag
from ..settings import PATH
from .options import UsageError, add_settings, given_values, wording

NAME = "tag"
HELP = "the top AudioSet classes of audio files (a quick check of what they hold)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files")
    files_type = tag.TAGGER.files_type
    table = add_settings(parser, [files_type], kinds=(PATH,))
    add_settings(parser, [Run], only=("cache_dir",), table=table)
    parser.add_argument("--top", type=int, default=5, help="classes per file (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(table=table, wording=wording([files_type, Run]))


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError(f"--top: a positive number, not {args.top}")
    files = tag.TAGGER.files_type(**given_values(args, tag.TAGGER.files_type, args.table))
    report = tag.tag_files(args.files, files=files, cache_dir=args.cache_dir, top=args.top)
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
        return 0
    width = max(len(entry["class"]) for item in report for entry in item["top"])
    for item in report:
        print(f"{item['file']} ({item['patches']} patches of 0.96 s)")
        for rank, entry in enumerate(item["top"], 1):
            print(f"  {rank}. {entry['class']:{width}s}  {entry['mean_score']:.3f}")
    return 0

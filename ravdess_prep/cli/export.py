"""``ravdess-prep export``: bundles as Parquet or as a Hugging Face dataset."""

from __future__ import annotations

import argparse

from ..dataset import export
from ..storage.guards import OUTPUT_RULE

NAME = "export"
HELP = "write bundles as Parquet or as a Hugging Face dataset"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bundles", help="a folder written by 'ravdess-prep build'")
    parser.add_argument("--format", required=True, choices=export.FORMATS,
                        help="parquet: one file; hf: DatasetDict.save_to_disk")
    parser.add_argument("--out", required=True, help="the file (parquet) or folder (hf) to write (" + OUTPUT_RULE + ")")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (datasets' included)")
    parser.set_defaults(wording={"out": "--out", "format": "--format"})


def run(args: argparse.Namespace) -> int:
    path = export.export(args.bundles, format=args.format, out=args.out, progress=not args.no_progress)
    print(f"wrote {path}")
    return 0

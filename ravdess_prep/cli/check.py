"""``ravdess-prep check``: whether a dataset folder still is what its manifest says."""

from __future__ import annotations

import argparse

from ..dataset.integrity import check_recorded, manifest_problems
from ..dataset.manifest import Manifest
from ..exceptions import ManifestError

NAME = "check"
HELP = "check a dataset folder against its manifest: files, SHA-256, shapes, finite values, labels"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a folder written by 'ravdess-prep build'")


def run(args: argparse.Namespace) -> int:
    """Print one line per problem (exit status 1), or what was checked (0)."""
    try:
        manifest = Manifest.read(args.dataset)
        check_recorded(manifest, manifest.path.parent)
        problems = manifest_problems(manifest)
    except ManifestError as error:
        problems = [str(error)]
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.dataset}: {len(problems)} problem{'s' if len(problems) > 1 else ''}")
        return 1
    clips = sum(int(split.get("clips", 0)) for split in manifest.splits.values())
    digests = (f"the SHA-256 of {len(manifest.bundle_sha256)} files as recorded" if manifest.bundle_sha256
               else "no SHA-256 recorded (written by an earlier version): files, shapes and values checked")
    print(f"{args.dataset}: intact ({len(manifest.splits)} splits, {clips} clips, {digests})")
    return 0

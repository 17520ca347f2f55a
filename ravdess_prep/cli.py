"""The ``ravdess-prep`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from . import params
from .exceptions import RavdessPrepError


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except RavdessPrepError as error:
        print(f"ravdess-prep {args.command}: error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ravdess-prep", description="Turn RAVDESS recordings into VGGish embedding bundles."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    download = commands.add_parser("download", help="download and extract the RAVDESS audio-only archives")
    download.add_argument("--dest", required=True, help="folder that receives the extracted archives")
    download.add_argument("--files-url", default=params.ZENODO_FILES_URL, help="base URL of the archives (a mirror)")
    download.add_argument("--api-url", default=params.ZENODO_RECORD_API_URL, help="records API that publishes checksums")
    download.add_argument("--keep-archives", action="store_true", help="keep the zip files after extraction")
    download.add_argument("--no-progress", action="store_true", help="no progress bars")
    download.set_defaults(run=_download)

    info = commands.add_parser("info", help="count the clips of a source and list every problem")
    info.add_argument(
        "--source", action="append", required=True,
        help="a folder, a .zip, or 'zenodo'; may be given several times",
    )
    info.add_argument("--cache-dir", help="cache root for downloads and extracted zips")
    info.add_argument("--json", action="store_true", help="print JSON instead of text")
    info.set_defaults(run=_info)
    return parser


def _download(args: argparse.Namespace) -> int:
    from .download import download_ravdess

    folders = download_ravdess(
        args.dest,
        files_url=args.files_url,
        api_url=args.api_url,
        keep_archives=args.keep_archives,
        progress=not args.no_progress,
    )
    for folder in folders:
        print(folder)
    return 0


def _info(args: argparse.Namespace) -> int:
    from .ravdess import count_clips, survey

    result = survey(args.source, cache_dir=args.cache_dir, progress=not args.json)
    report = {
        "roots": [str(root) for root in result.roots],
        "clips": len(result.clips),
        "counts": count_clips(result.clips),
        "problems": [{"error": type(problem).__name__, "message": str(problem)} for problem in result.problems],
    }
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    else:
        print(f"{report['clips']} clips in {', '.join(report['roots'])}")
        for facet, counts in report["counts"].items():
            print(f"  by {facet.replace('_', ' ')}: " + ", ".join(f"{key} {value}" for key, value in counts.items()))
        print(f"{len(result.problems)} problems" + (":" if result.problems else ""))
        for problem in report["problems"]:
            print(f"  {problem['error']}: {problem['message']}")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())

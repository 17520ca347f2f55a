"""``ravdess-prep download``: fetch and extract the RAVDESS audio-only archives (verified)."""

from __future__ import annotations

import argparse

from ..corpora.ravdess import ZENODO_FILES_URL, ZENODO_RECORD_API_URL, download_ravdess

NAME = "download"
HELP = "download and extract the RAVDESS audio-only archives"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", required=True, help="folder that receives the extracted archives")
    parser.add_argument("--files-url", default=ZENODO_FILES_URL, help="base URL of the archives (a mirror)")
    parser.add_argument("--api-url", default=ZENODO_RECORD_API_URL, help="records API that publishes checksums")
    parser.add_argument("--keep-archives", action="store_true", help="keep the zip files after extraction")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    folders = download_ravdess(args.dest, files_url=args.files_url, api_url=args.api_url,
                               keep_archives=args.keep_archives, progress=not args.no_progress)
    for folder in folders:
        print(folder)
    return 0

"""``ravdess-prep download``: fetch a corpus, verified (RAVDESS: its audio-only archives from
Zenodo, extracted; EmoDB: the site's archive, checked by what it holds, extracted; CREMA-D: its
``AudioWAV/`` files from the corpus's repository)."""

from __future__ import annotations

import argparse
import inspect

from ..config import Config
from ..corpora import get_corpus
from ..corpora.ravdess import ZENODO_RECORD_API_URL, RAVDESS, download_ravdess
from ..exceptions import ParameterError
from .options import UsageError, add_settings

NAME = "download"
HELP = "download a corpus, verified (ravdess: the audio-only archives; emodb: download.zip; cremad: AudioWAV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings(parser, [Config], only=("corpus",))
    parser.add_argument("--dest", required=True, help="folder that receives the corpus")
    parser.add_argument("--files-url", help="base URL of the corpus's files (a mirror; default: where the corpus "
                        "publishes them)")
    parser.add_argument("--api-url", help=f"ravdess: the records API that publishes checksums (default "
                        f"{ZENODO_RECORD_API_URL})")
    parser.add_argument("--keep-archives", action="store_true", help="ravdess: keep the zip files after extraction")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    corpus = get_corpus(args.corpus or Config().corpus)
    if isinstance(corpus, RAVDESS):
        folders = download_ravdess(args.dest, **({"files_url": args.files_url} if args.files_url else {}),
                                   api_url=args.api_url or ZENODO_RECORD_API_URL, keep_archives=args.keep_archives,
                                   progress=not args.no_progress)
    else:
        for flag, given in (("--api-url", args.api_url), ("--keep-archives", args.keep_archives)):
            if given:
                raise UsageError(f"{flag} is an option of the ravdess corpus's download, not of {corpus.name}'s")
        accepted = inspect.signature(corpus.download).parameters
        if "dest" not in accepted or "files_url" not in accepted:
            raise ParameterError(f"the {corpus.name} corpus's download takes no destination or mirror (a plug-in "
                                 "written for an earlier version): build without --source downloads it into the cache")
        folders = corpus.download(dest=args.dest, files_url=args.files_url, progress=not args.no_progress)
    for folder in folders:
        print(folder)
    return 0

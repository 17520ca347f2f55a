"""``ravdess-prep download``: fetch a corpus, verified, by the corpus's own download (each
corpus says what it fetches and how it checks it: RAVDESS its audio-only archives from Zenodo,
EmoDB the site's archive, CREMA-D its ``AudioWAV/`` files; a plug-in corpus its own)."""

from __future__ import annotations

import argparse
import inspect

from ..config import Config
from ..corpora import get_corpus
from ..exceptions import ParameterError
from .options import UsageError, add_settings

NAME = "download"
HELP = "download a corpus, verified (each corpus's published files)"
#: Options that some corpora's downloads take (the keyword each is passed as).
CORPUS_OPTIONS = {"api_url": "--api-url", "keep_archives": "--keep-archives"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_settings(parser, [Config], only=("corpus",))
    parser.add_argument("--dest", required=True, help="folder that receives the corpus")
    parser.add_argument("--files-url", help="base URL of the corpus's files (a mirror; default: where the corpus "
                        "publishes them)")
    parser.add_argument("--api-url", help="a corpus whose checksums a records API publishes (ravdess: Zenodo's): "
                        "that API")
    parser.add_argument("--keep-archives", action="store_true",
                        help="a corpus published as archives (ravdess): keep the zip files after extraction")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    corpus = get_corpus(args.corpus or Config().corpus)
    accepted = inspect.signature(corpus.download).parameters
    if "dest" not in accepted or "files_url" not in accepted:
        raise ParameterError(f"the {corpus.name} corpus's download takes no destination or mirror (a plug-in "
                             "written for an earlier version): build without --source downloads it into the cache")
    extras = {name: getattr(args, name) for name in CORPUS_OPTIONS if getattr(args, name)}
    for name in extras:
        if name not in accepted:
            raise UsageError(f"{CORPUS_OPTIONS[name]} is not an option of the {corpus.name} corpus's download")
    folders = corpus.download(dest=args.dest, files_url=args.files_url, progress=not args.no_progress, **extras)
    for folder in folders:
        print(folder)
    return 0

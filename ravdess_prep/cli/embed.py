"""``ravdess-prep embed``: new audio files embedded exactly as a dataset was."""

from __future__ import annotations

import argparse

import numpy as np

from .. import pipeline
from ..config import Config
from ..dataset.manifest import Manifest
from ..embedders import embedder_class
from ..settings import PATH, TEXT
from ..storage.atomic import atomic_path
from ..storage.guards import OUTPUT_RULE, check_new_file
from .options import add_settings, files_types, given_values, not_of, wording

NAME = "embed"
HELP = "embed new audio files exactly as a dataset was embedded"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files")
    parser.add_argument("--dataset", required=True, help="a folder written by 'ravdess-prep build'")
    parser.add_argument("--out", required=True, help="the .npy to write: float32, one bundle row per file (" + OUTPUT_RULE
                        + ")")
    add_dataset_options(parser)


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """Where the dataset's model files are now (if they moved), and its too-long policy."""
    table = add_settings(parser, files_types(), kinds=(PATH, TEXT))  # the places of files, not switches
    add_settings(parser, [Config], only=("on_too_long",), table=table)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (Transformers' included)")
    parser.set_defaults(table=table, wording={**wording([Config, *files_types()]), "out": "--out",
                                              "model_dir": "--model-dir"})


def dataset_files(args: argparse.Namespace, manifest: Manifest):
    """Where the dataset's model files are now, from the options (None: where it recorded
    them); an option of another embedder's files is a usage error."""
    cls = embedder_class(manifest.config.embedder.name)
    files_type = cls.files_type
    not_of(args, {dest: entries for dest, entries in args.table.items() if dest != "on_too_long"},
           [files_type] if files_type else [], what=f"the dataset's embedder ({cls.name})")
    args.wording.update(wording([files_type] if files_type else []))  # --model is this embedder's
    values = given_values(args, files_type, args.table) if files_type else {}
    return files_type(**values) if values else None


def run(args: argparse.Namespace) -> int:
    check_new_file(args.out)
    manifest = Manifest.read(args.dataset)
    embeddings = pipeline.embed_files(args.files, args.dataset, files=dataset_files(args, manifest),
                                      on_too_long=args.on_too_long)
    with atomic_path(args.out, suffix=".npy") as temporary, open(temporary, "wb") as stream:
        np.save(stream, embeddings, allow_pickle=False)
    print(f"wrote {args.out}: {embeddings.shape[0]} files, embeddings of shape {embeddings.shape[1:]}")
    return 0

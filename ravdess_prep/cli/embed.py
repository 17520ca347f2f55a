"""``ravdess-prep embed``: new audio files embedded exactly as a dataset was: whole, or window
by window; files and folders of any number of them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ..config import Config
from ..dataset.manifest import Manifest
from ..embedders import embedder_class
from ..embedding import Embedding
from ..evaluation.model_folder import dataset_record
from ..exceptions import ParameterError
from ..recordings import chunks, jobs
from ..recordings.tables import table_suffix, write_table
from ..build.timeline import dataset_window_s
from ..settings import PATH, TEXT
from ..storage.guards import OUTPUT_RULE
from .options import add_settings, files_types, given_values, not_of, wording

NAME = "embed"
HELP = "embed new audio files exactly as a dataset was embedded (whole, or window by window)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files, or folders of them (searched recursively)")
    parser.add_argument("--dataset", required=True, help="a folder written by 'ravdess-prep build'")
    add_dataset_options(parser)
    add_job_options(parser, out_help="the output: .npy (float32, one bundle row per file, in the order of the files), "
                    ".csv, .json or .parquet (a table: file, with --window start_s, end_s and voiced, and the "
                    "embedding) (" + OUTPUT_RULE + ")", out_required=True)


def add_dataset_options(parser: argparse.ArgumentParser) -> None:
    """Where the dataset's model files are now (if they moved), and its too-long policy."""
    table = add_settings(parser, files_types(), kinds=(PATH, TEXT))  # the places of files, not switches
    add_settings(parser, [Config], only=("on_too_long",), table=table)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (Transformers' included)")
    parser.set_defaults(table=table, wording={**wording([Config, *files_types()]), "out": "--out",
                                              "model_dir": "--model-dir"})


def add_job_options(parser: argparse.ArgumentParser, *, out_help: str, out_required: bool = False) -> None:
    """The options of a job over many files or long ones: windows, the output, resuming."""
    parser.add_argument("--window", nargs="?", const="auto", metavar="SECONDS",
                        help="cut each file into windows of SECONDS (alone: the length the dataset pads its clips "
                        "to), each a row, read block by block whatever the file's length")
    parser.add_argument("--hop", type=float, metavar="SECONDS",
                        help="with --window: the step between windows' starts (default: a quarter of the window)")
    parser.add_argument("--out", required=out_required, help=out_help)
    parser.add_argument("--resume", action="store_true",
                        help="go on with an interrupted job of the same --out and settings, skipping the files it "
                        "finished (unchanged in size and time)")
    parser.set_defaults(wording={**parser.get_default("wording"), "window_s": "--window", "hop_s": "--hop",
                                 "resume": "--resume", "out": "--out"})


def window_choice(args: argparse.Namespace, dataset) -> tuple[float, float] | None:
    """``(window_s, hop_s)`` from the options (None: whole files).

    Raises:
        ParameterError: ``--hop`` without ``--window``, or a window that is not a number.
    """
    if args.window is None:
        if args.hop is not None:
            raise ParameterError("--hop without --window: give the window's length too")
        return None
    if args.window == "auto":
        window = dataset_window_s(dataset)
    else:
        try:
            window = float(args.window)
        except ValueError:
            raise ParameterError(f"--window {args.window}: give a number of seconds") from None
    return window, window / 4 if args.hop is None else args.hop


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


def job_report(args: argparse.Namespace, paths: list[Path], *, process: Callable, settings: dict,
               chunk_files: int | None = None) -> jobs.JobResult:
    """Run a job over ``paths`` (with ``--out``: kept in parts, resumable, the output written at
    the end; without: in memory) and report its failures on stderr, one line each."""
    jobs.check_job_options(resume=args.resume, out=args.out)
    progress = not args.no_progress and len(paths) > 1
    if args.out is not None:
        result = jobs.run_job(paths, out=Path(args.out), digest=jobs.settings_digest(settings), process=process,
                              chunk_files=chunk_files or jobs.CHUNK_FILES, resume=args.resume, progress=progress,
                              write=write_table)
    else:
        result = jobs.run_in_memory(paths, process=process, chunk_files=chunk_files or jobs.CHUNK_FILES,
                                    progress=progress)
    for _, why in result.failures:
        print(why, file=sys.stderr)
    if result.failures:
        kept = f"; rerun with --resume to try them again ({result.parts} keeps the rest)" if result.parts else ""
        print(f"{len(result.failures)} of {len(paths)} files failed{kept}", file=sys.stderr)
    if result.resumed:
        print(f"{result.resumed} files were done already (from an earlier run)", file=sys.stderr)
    return result


def run(args: argparse.Namespace) -> int:
    manifest = Manifest.read(args.dataset)
    files = dataset_files(args, manifest)
    window = window_choice(args, args.dataset)
    settings = {"command": NAME, "dataset": dataset_record(manifest), "window": window,
                "on_too_long": args.on_too_long}
    jobs.check_output(Path(args.out), resume=args.resume, digest=jobs.settings_digest(settings))
    suffix = table_suffix(args.out, rows=True)
    if window is not None and suffix == ".npy":
        raise ParameterError(f"--out {args.out}: windows are rows with their times; give a .csv, .json or .parquet "
                             "table")
    paths = jobs.job_files(args.files)
    with Embedding.of_dataset(args.dataset, files=files, on_too_long=args.on_too_long) as embedding:
        if window is None:
            process = lambda chunk: chunks.embed_clips(embedding, chunk)  # noqa: E731
        else:
            process = lambda chunk: chunks.embed_windows(embedding, chunk, window_s=window[0],  # noqa: E731
                                                         hop_s=window[1])
        result = job_report(args, paths, process=process, settings=settings)
    rows = result.columns[chunks.EMBEDDING]
    what = f"{len(rows)} windows of {len(set(result.columns['file']))} files" if window else f"{len(rows)} files"
    print(f"wrote {args.out}: {what}, embeddings of shape {rows.shape[1:]}")
    return 1 if result.failures else 0

"""``ravdess-prep predict``: the emotion of audio files, or of their windows over time, by a
trained model; files and folders of any number of them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import predict
from ..dataset.manifest import Manifest
from ..evaluation.model_folder import dataset_record, read_model_record
from ..exceptions import ParameterError
from ..recordings import chunks, jobs
from ..recordings.plot import plot_name, plot_timeline
from ..recordings.tables import table_suffix
from ..storage.guards import check_new_file, check_parent, check_outside_datasets
from .embed import add_dataset_options, add_job_options, dataset_files, job_report, window_choice

NAME = "predict"
HELP = "predict the emotion of audio files (whole, or window by window over time)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", help="audio files, or folders of them (searched recursively)")
    parser.add_argument("--dataset", required=True, help="the bundle folder the model was trained on")
    parser.add_argument("--model-dir", required=True, help="the trained model's folder")
    add_dataset_options(parser)
    parser.add_argument("--enrol", nargs="+", metavar="FILE",
                        help="a speaker-normalised model: recordings (or folders of them) of the speaker of the files, "
                        "whose statistics standardise them (without it: clips are standardised with each other, "
                        "windows with their own file's voiced windows)")
    add_job_options(parser, out_help="a table of the results: .csv, .json or .parquet (without it: printed)")
    parser.add_argument("--plot", metavar="FOLDER",
                        help="with --window: a PNG timeline per file into FOLDER (emotion probabilities over time)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(wording={**parser.get_default("wording"), "enrol": "--enrol", "plot": "--plot",
                                 "json": "--json"})


def run(args: argparse.Namespace) -> int:
    manifest = Manifest.read(args.dataset)
    files = dataset_files(args, manifest)
    window = window_choice(args, args.dataset)
    enrol = predict.enrolment_files(args.enrol or ())
    record = read_model_record(args.model_dir)
    settings = {"command": NAME, "dataset": dataset_record(manifest), "model": record.get("record_sha256"),
                "window": window, "enrol": [jobs.file_key(path) for path in enrol], "on_too_long": args.on_too_long}
    if args.out is not None:
        jobs.check_output(Path(args.out), resume=args.resume, digest=jobs.settings_digest(settings))
        table_suffix(args.out)
    paths = jobs.job_files(args.files)
    if args.plot is not None:
        _check_plots(args, window, paths)
    transductive = record.get("config", {}).get("speaker_norm") and not enrol and window is None
    if window is None:
        predict.check_clips_to_standardise(record, model_dir=args.model_dir, files=len(paths), enrol=len(enrol))
    with predict.EmotionModel(dataset=args.dataset, model_dir=args.model_dir, files=files,
                              on_too_long=args.on_too_long, enrol=enrol) as model:
        note = predict.speaker_norm_note(args.model_dir, files=len(paths), enrol=len(enrol))
        if note is not None and window is None:
            print(note, file=sys.stderr)
        plot = (lambda found: plot_timeline(found, Path(args.plot) / plot_name(found.file))) if args.plot else None
        if window is None:
            process = lambda chunk: chunks.predict_clips(model, chunk)  # noqa: E731
        else:
            process = lambda chunk: chunks.predict_windows(model, chunk, window_s=window[0],  # noqa: E731
                                                           hop_s=window[1], done=plot)
        # clips standardised with each other are one chunk: the statistics of all of them
        chunk_files = len(paths) if transductive else None
        result = job_report(args, paths, process=process, settings=settings, chunk_files=chunk_files)
    if args.out is None:
        _print(result.columns, windows=window is not None, as_json=args.json)
    return 1 if result.failures else 0


def _check_plots(args: argparse.Namespace, window, paths: list[Path]) -> None:
    """``--plot`` needs windows, and a folder whose pictures are new."""
    if window is None:
        raise ParameterError("--plot draws emotion over time: give --window (and --hop)")
    folder = Path(args.plot)
    check_parent(folder / "x.png", "plot")
    check_outside_datasets(folder, flag="plot")
    for path in paths:
        check_new_file(folder / plot_name(path), flag="plot")


def _print(columns: dict, *, windows: bool, as_json: bool) -> None:
    names = [name[2:] for name in columns if name.startswith("p_")]
    count = len(columns.get("file", ()))
    entries = []
    for index in range(count):
        entry = {"file": str(columns["file"][index])}
        if windows:
            entry.update(start_s=round(float(columns["start_s"][index]), 3),
                         end_s=round(float(columns["end_s"][index]), 3), voiced=bool(columns["voiced"][index]))
        voiced = not windows or entry["voiced"]
        entry["emotion"] = str(columns["emotion"][index]) if voiced else None
        entry["probabilities"] = ({name: round(float(columns[f"p_{name}"][index]), 6) for name in names}
                                  if voiced else None)
        if windows:
            entry["normalised_by"] = str(columns["normalised_by"][index])
        entries.append(entry)
    if as_json:
        json.dump(entries, sys.stdout, indent=2)
        print()
        return
    for entry in entries:
        where = f"{entry['file']}" + (f" {entry['start_s']:.2f}-{entry['end_s']:.2f} s" if windows else "")
        if entry["emotion"] is None:
            print(f"{where}: no voice")
            continue
        ranked = sorted(entry["probabilities"].items(), key=lambda item: -item[1])
        print(f"{where}: {entry['emotion']}  (" + ", ".join(f"{name} {value:.2f}" for name, value in ranked) + ")")


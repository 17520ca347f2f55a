"""The records behind every cross-validated figure of the README, the accuracy page and the
changelog: each a ``crossval --json`` run on the full Whisper-base build, kept in
``docs/records/NAME.json``, and the accuracy page's tables rendered from them.

    python scripts/accuracy_records.py run DATASET [--only NAME ...] [--out docs/records]
    python scripts/accuracy_records.py tables [--write docs/accuracy.md]

``run`` runs every record's command of :data:`RUNS` (those whose file is missing, or those
named) on ``DATASET`` (the docs' build: ``ravdess-prep build --source ../shared/ravdess --out
data/whisper-base --embedder whisper --whisper-model WHISPER_BASE``). ``tables`` prints the
page's tables from the records, or writes them between the page's ``<!-- records: NAME -->``
and ``<!-- /records -->`` markers; ``tests/test_accuracy_page.py`` checks that the page holds
exactly these tables and that the README and the changelog quote the records' figures, and
``python -m pytest -m slow tests/test_accuracy.py`` runs every command again.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ravdess_prep import cli
from ravdess_prep.storage.atomic import atomic_path

RECORDS = Path(__file__).resolve().parent.parent / "docs" / "records"

#: ``{record name: crossval options}``; the data is given to ``run``.
RUNS = {
    "emobox-published": ["--protocol", "emobox", "--as-published"],
    "emobox-auto": ["--protocol", "emobox"],
    "emobox-enrol16": ["--protocol", "emobox", "--speaker-norm", "--enrol-clips", "16"],
    "emobox-all": ["--protocol", "emobox", "--speaker-norm"],
    "emobox-lda": ["--protocol", "emobox", "--head", "lda"],
    "pepino-published": ["--protocol", "pepino2021", "--as-published"],
    "pepino-published-all": ["--protocol", "pepino2021", "--as-published", "--speaker-norm"],
    "pepino-lda": ["--protocol", "pepino2021", "--head", "lda"],
    "pepino-auto": ["--protocol", "pepino2021"],
    "pepino-enrol16": ["--protocol", "pepino2021", "--speaker-norm", "--enrol-clips", "16"],
    "pepino-all": ["--protocol", "pepino2021", "--speaker-norm"],
    "emobox-lda-enrol4": ["--protocol", "emobox", "--head", "lda", "--speaker-norm", "--enrol-clips", "4"],
    "emobox-lda-enrol8": ["--protocol", "emobox", "--head", "lda", "--speaker-norm", "--enrol-clips", "8"],
    "emobox-lda-enrol16": ["--protocol", "emobox", "--head", "lda", "--speaker-norm", "--enrol-clips", "16"],
    "emobox-lda-enrol32": ["--protocol", "emobox", "--head", "lda", "--speaker-norm", "--enrol-clips", "32"],
    "emobox-lda-all": ["--protocol", "emobox", "--head", "lda", "--speaker-norm"],
    "emobox-lda-ensemble1": ["--protocol", "emobox", "--head", "lda", "--ensemble", "1"],
    "emobox-lda-ensemble3": ["--protocol", "emobox", "--head", "lda", "--ensemble", "3"],
    "emobox-lda-ensemble10": ["--protocol", "emobox", "--head", "lda", "--ensemble", "10"],
    "emobox-lda-ensemble20": ["--protocol", "emobox", "--head", "lda", "--ensemble", "20"],
    "emobox-lda-no-refit": ["--protocol", "emobox", "--head", "lda", "--no-refit"],
    "emobox-lda-layer3": ["--protocol", "emobox", "--head", "lda", "--layer", "3"],
    "emobox-lda-layers1-4": ["--protocol", "emobox", "--head", "lda", "--layers", "1-4"],
    "luna-published": ["--protocol", "luna2022", "--as-published"],
    "luna-lda": ["--protocol", "luna2022", "--head", "lda"],
    "luna-auto": ["--protocol", "luna2022"],
    "luna-enrol16": ["--protocol", "luna2022", "--speaker-norm", "--enrol-clips", "16"],
    "luna-all": ["--protocol", "luna2022", "--speaker-norm"],
}

#: Each protocol's table: ``(record, regime, head and normalisation)`` per row.
TABLES = {
    "emobox": [
        ("emobox-published", "as published: a random fifth of each fold's training clips as dev, no refit",
         "`auto`"),
        ("emobox-lda", "library: dev speakers, refit", "`lda`, 5 best averaged (designed on these folds)"),
        ("emobox-auto", "library: dev speakers, refit", "**`auto`** (the default)"),
        ("emobox-enrol16", "library", "`auto`, `--speaker-norm --enrol-clips 16` (inductive)"),
        ("emobox-all", "library", "`auto`, `--speaker-norm` (transductive: not comparable)"),
    ],
    "pepino2021": [
        ("pepino-published", "as published: train 01-20, dev 21-22, no refit", "`auto`"),
        ("pepino-published-all", "as published", "`auto`, `--speaker-norm` (transductive, as the paper)"),
        ("pepino-lda", "library: dev 21-22, refit on 01-22", "`lda`, 5 best averaged (designed on emobox's folds)"),
        ("pepino-auto", "library: dev 21-22, refit on 01-22", "**`auto`** (the default)"),
        ("pepino-enrol16", "library", "`auto`, `--speaker-norm --enrol-clips 16` (inductive)"),
        ("pepino-all", "library", "`auto`, `--speaker-norm` (transductive)"),
    ],
    "luna2022": [
        ("luna-published", "as published (closest documented): no dev, no refit", "`auto` (its fallbacks)"),
        ("luna-lda", "library: dev speakers, refit", "`lda`, 5 best averaged (designed on emobox's folds)"),
        ("luna-auto", "library: dev speakers, refit", "**`auto`** (the default)"),
        ("luna-enrol16", "library", "`auto`, `--speaker-norm --enrol-clips 16` (inductive)"),
        ("luna-all", "library", "`auto`, `--speaker-norm` (transductive)"),
    ],
    "ablation": [
        ("emobox-lda", "", "`lda`: the 5 best of 140 on dev averaged, refit on train and dev"),
        ("emobox-lda-no-refit", "", "the same, trained on train only (`--no-refit`)"),
        ("emobox-lda-ensemble1", "", "`lda`, the best alone (`--ensemble 1`)"),
        ("emobox-lda-ensemble3", "", "`lda`, the 3 best (`--ensemble 3`)"),
        ("emobox-lda-ensemble10", "", "`lda`, the 10 best (`--ensemble 10`)"),
        ("emobox-lda-ensemble20", "", "`lda`, the 20 best (`--ensemble 20`)"),
        ("emobox-lda-layer3", "", "`lda` on layer 3 alone, its 5 shrinkages averaged (`--layer 3`)"),
        ("emobox-lda-layers1-4", "", "`lda` on layers 1-4, its 5 shrinkages averaged (`--layers 1-4`)"),
    ],
    "enrolment": [
        ("emobox-lda-enrol4", "", "4"),
        ("emobox-lda-enrol8", "", "8"),
        ("emobox-lda-enrol16", "", "16"),
        ("emobox-lda-enrol32", "", "32"),
        ("emobox-lda-all", "", "all clips, transductive"),
    ],
}


def read_record(name: str, folder: Path = RECORDS) -> dict:
    """The record ``name`` (``docs/records/NAME.json``)."""
    return json.loads((folder / f"{name}.json").read_text())


def percent(value: float) -> str:
    """A fraction as the pages print it: a percentage to one decimal."""
    return f"{100 * value:.1f}"


def interval(record: dict, score: str = "ua") -> str:
    """The 95 % interval of a record's mean, as the pages print it."""
    low, high = record[score]["ci95"]
    return f"{percent(low)} to {percent(high)}"


def mean_and_spread(record: dict, score: str = "ua") -> str:
    """A mean, with the standard deviation over the folds where there are several."""
    spread = f" +/- {percent(record[score]['std'])}" if len(record["folds"]) > 1 else ""
    return percent(record[score]["mean"]) + spread


def table(name: str, folder: Path = RECORDS) -> str:
    """One of :data:`TABLES` as markdown."""
    rows = TABLES[name]
    if name == "enrolment":
        records = [read_record(record, folder) for record, _, _ in rows]
        return "\n".join(["| K | " + " | ".join(label for _, _, label in rows) + " |",
                          "|---|" + "---|" * len(rows),
                          "| UA (95 % interval) | " + " | ".join(f"{percent(record['ua']['mean'])} ({interval(record)})"
                                                              for record in records) + " |"])
    lines = []
    if name == "ablation":
        lines += ["| head | UA | 95 % interval | record |", "|---|---|---|---|"]
        for record_name, _, label in rows:
            record = read_record(record_name, folder)
            lines.append(f"| {label} | {mean_and_spread(record)} | {interval(record)} | `{record_name}` |")
        return "\n".join(lines)
    lines += ["| regime | head | UA | 95 % interval | WA | macro-F1 | record |", "|---|---|---|---|---|---|---|"]
    for record_name, regime, label in rows:
        record = read_record(record_name, folder)
        lines.append(f"| {regime} | {label} | {mean_and_spread(record)} | {interval(record)} | "
                     f"{percent(record['wa']['mean'])} | {percent(record['macro_f1']['mean'])} | `{record_name}` |")
    return "\n".join(lines)


def with_tables(page: str, folder: Path = RECORDS) -> str:
    """``page`` with every ``<!-- records: NAME -->`` ... ``<!-- /records -->`` block holding
    :func:`table` ``(NAME)``."""
    out, rest = [], page
    while "<!-- records: " in rest:
        before, _, after = rest.partition("<!-- records: ")
        name, _, after = after.partition(" -->")
        _, _, rest = after.partition("<!-- /records -->")
        out += [before, f"<!-- records: {name} -->\n", table(name, folder), "\n<!-- /records -->"]
    return "".join(out + [rest])


def run(data: str, names: list[str], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        start = time.monotonic()
        status = cli.main(["crossval", "--data", data, *RUNS[name], "--no-progress", "--json",
                           str(folder / f"{name}.json")])
        print(f"{name}: exit {status}, {time.monotonic() - start:.0f} s", flush=True)
        if status != 0:
            sys.exit(status)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    running = commands.add_parser("run", help="run the records' commands")
    running.add_argument("data", help="the full Whisper-base build")
    running.add_argument("--only", nargs="+", choices=list(RUNS), help="these records (default: those missing)")
    running.add_argument("--out", type=Path, default=RECORDS)
    tables = commands.add_parser("tables", help="print or write the accuracy page's tables")
    tables.add_argument("--write", type=Path, help="the page to write them into (between its markers)")
    tables.add_argument("--records", type=Path, default=RECORDS)
    args = parser.parse_args()
    if args.command == "run":
        run(args.data, args.only or [name for name in RUNS if not (args.out / f"{name}.json").exists()], args.out)
    elif args.write is not None:
        page = with_tables(args.write.read_text(), args.records)
        with atomic_path(args.write, suffix=".md") as temporary:
            temporary.write_text(page)
    else:
        for name in TABLES:
            print(f"<!-- records: {name} -->\n{table(name, args.records)}\n<!-- /records -->\n")


if __name__ == "__main__":
    main()

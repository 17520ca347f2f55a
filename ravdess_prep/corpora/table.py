"""A corpus described by a labels table: any folder of recordings a researcher has (IEMOCAP, a
lab's own), one row per file.

The table is a CSV (UTF-8) with the columns ``file`` (the path under the source folder),
``speaker`` and ``emotion``, and optionally ``gender``, ``text``, ``split`` (train, dev or test)
and ``language``. Emotions are canonical names (:data:`ravdess_prep.corpora.emotions.CANONICAL`)
or are mapped to them by an emotion map (a two-column CSV ``from,to``, or a JSON object). The
corpus's labels are the canonical emotions the table holds, in the vocabulary's order; its
speakers are the table's, as integers (numbers as they are, other names numbered 1, 2, ... in
sorted order, the name kept in ``speaker_name``). Files under the source that the table does
not list are left out and counted; every bad row is named before anything is built.

Split presets: ``table`` (the table's ``split`` column, when it has one: its dev and test
speakers; the default), ``balanced`` (the default without one: ``folds5``'s first group test,
its second dev), ``folds5`` (five folds of speakers, dealt so that each fold's class counts stay
close) and ``loso``.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

import numpy as np

from ..exceptions import ParameterError, SourceError, option
from ..storage.guards import is_within
from .base import Corpus, Excluded
from .emotions import CANONICAL
from .split import SplitPreset, leave_one_speaker_out_split, speaker_groups

#: The columns a labels table may have; the first three are required.
REQUIRED = ("file", "speaker", "emotion")
OPTIONAL = ("gender", "text", "split", "language")
#: The splits a ``split`` column may name.
SPLIT_NAMES = ("train", "dev", "test")
#: How many bad rows a message lists before counting the rest.
LISTED = 3

INVENTORY_COLUMNS = ("clip_name", "path", "speaker", "speaker_name", "gender", "text", "split", "language", "emotion",
                     "label", "sample_rate_hz", "channels", "num_samples")


@dataclasses.dataclass(frozen=True)
class LabelsTable:
    """A labels table read and checked: one row per file, emotions canonical.

    Attributes:
        path: The table's file.
        sha256: Its SHA-256.
        rows: ``{file (POSIX path under the source): row}``, each row with ``speaker`` (an
            integer), ``speaker_name``, ``emotion`` (canonical) and the optional columns given.
        columns: The optional columns the table has.
    """

    path: Path
    sha256: str
    rows: Mapping[str, dict]
    columns: tuple[str, ...]


def read_emotion_map(path: str | os.PathLike) -> dict[str, str]:
    """``{the table's emotion: canonical name}`` from a two-column CSV (``from,to``, with or
    without that header) or a JSON object.

    Raises:
        ParameterError: Unreadable, not UTF-8, or a target that is not a canonical name.
    """
    path = Path(path)
    text = _text(path, what="emotion map")
    if path.suffix.lower() == ".json":
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as error:
            raise ParameterError(f"{path}: not a JSON object of emotions ({error.msg} at line {error.lineno})") from None
        if not isinstance(mapping, dict) or not all(isinstance(value, str) for value in mapping.values()):
            raise ParameterError(f"{path}: an emotion map in JSON is an object of names, not {type(mapping).__name__}")
    else:
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        if rows and [cell.strip().lower() for cell in rows[0]] == ["from", "to"]:
            rows = rows[1:]
        bad = next((index for index, row in enumerate(rows, 1) if len(row) != 2), None)
        if bad is not None:
            raise ParameterError(f"{path}: row {bad} has {len(rows[bad - 1])} cells; an emotion map has two (from,to)")
        mapping = {row[0].strip(): row[1].strip() for row in rows}
    unknown = sorted({value for value in mapping.values() if value not in CANONICAL})
    if unknown:
        raise ParameterError(f"{path}: {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} not "
                             f"canonical emotions ({', '.join(CANONICAL)})")
    return mapping


def read_table(path: str | os.PathLike, *, emotion_map: Mapping[str, str] | None = None) -> LabelsTable:
    """Read and check a labels table: every bad row is named (the first few, with the count).

    Raises:
        ParameterError: A header the table does not know or a required column missing, an
            empty table, text that is not UTF-8, a file outside the source (an absolute path,
            ``..``), a file listed twice, an unknown emotion (the canonical ones listed), an
            empty speaker, a split other than train, dev or test, a speaker in two splits.
    """
    path = Path(path)
    return parse_table(_text(path, what="labels table"), path=path, emotion_map=emotion_map)


def parse_table(text: str, *, path: Path, emotion_map: Mapping[str, str] | None = None) -> LabelsTable:
    """:func:`read_table` of a table's text (``path`` names it in messages and the record)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in REQUIRED + OPTIONAL]
    if unknown:
        raise ParameterError(f"{path}: column {unknown[0]!r} is not one a labels table has (required: "
                             f"{', '.join(REQUIRED)}; optional: {', '.join(OPTIONAL)})")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ParameterError(f"{path}: no {missing[0]!r} column (a labels table has {', '.join(REQUIRED)})")
    mapping = dict(emotion_map or {})
    rows, problems, splits = {}, [], {}
    for number, raw in enumerate(reader, 2):  # line numbers as an editor shows them
        row = {key.strip(): (value or "").strip() for key, value in raw.items() if key is not None}
        problem = _row_problem(row, rows, mapping)
        if problem is not None:
            problems.append(f"line {number}: {problem}")
            continue
        file = PurePosixPath(row["file"]).as_posix()
        emotion = mapping.get(row["emotion"], row["emotion"])
        rows[file] = {**{name: row[name] for name in OPTIONAL if name in row}, "speaker_name": row["speaker"],
                      "emotion": emotion, "line": number}
        if row.get("split"):
            splits.setdefault(row["speaker"], {}).setdefault(row["split"], number)
    if problems:
        raise ParameterError(f"{path}: {len(problems)} bad row{'s' if len(problems) > 1 else ''}: "
                             + "; ".join(problems[:LISTED]) + (" ..." if len(problems) > LISTED else ""))
    if not rows:
        raise ParameterError(f"{path}: the labels table has no row")
    mixed = {speaker: lines for speaker, lines in splits.items() if len(lines) > 1}
    if mixed:
        speaker, lines = sorted(mixed.items())[0]
        raise ParameterError(f"{path}: speaker {speaker!r} is in several splits (" + ", ".join(
            f"{split} at line {line}" for split, line in lines.items()) + "); a split keeps each speaker on one side")
    names = sorted({row["speaker_name"] for row in rows.values()})
    numbered = all(name.isdigit() for name in names)
    ids = {name: int(name) if numbered else index for index, name in enumerate(names, 1)}
    for row in rows.values():
        row["speaker"] = ids[row["speaker_name"]]
    return LabelsTable(path, hashlib.sha256(text.encode("utf-8")).hexdigest(), rows,
                       tuple(name for name in OPTIONAL if name in header))


class TableCorpus(Corpus):
    """The corpus a labels table describes (see the module docstring); built by
    :func:`table_corpus`. Without a table (the registry's entry) it only names what it needs."""

    name = "table"
    title = "a corpus described by a labels table"
    columns = INVENTORY_COLUMNS
    speaker_column = "speaker"
    label_column = "label"
    label_names = ()
    sort_columns = ("speaker", "clip_name")
    facet_columns = ()
    card_columns = ("emotion", "gender")
    text_column = "text"
    count_columns = {"emotion": ("label", "emotion"), "speaker": ("speaker", "speaker"), "gender": ("gender", "gender")}
    split_presets = {"loso": leave_one_speaker_out_split("loso")}
    license = {"name": "not stated: the corpus's license is the user's to state (--license)", "url": ""}

    def __init__(self, table: LabelsTable | None = None, *, license_name: str | None = None,
                 citation: str | None = None):
        self.table = table
        if table is None:
            return
        present = {row["emotion"] for row in table.rows.values()}
        self.label_names = tuple(name for name in CANONICAL if name in present)
        self.canonical_names = self.label_names
        self.speakers = tuple(sorted({row["speaker"] for row in table.rows.values()}))
        self.title = f"the corpus of the labels table {table.path.name}"
        if license_name:
            self.license = {"name": license_name, "url": ""}
        self.citation = citation or ""
        self.split_presets = _presets(table, self.label_names)
        self.count_columns = {facet: columns for facet, columns in type(self).count_columns.items()
                              if facet != "gender" or "gender" in table.columns}
        self.card_columns = tuple(column for column in type(self).card_columns
                                  if column != "gender" or "gender" in table.columns)

    def annotations(self, roots: tuple[Path, ...]) -> Any:
        """The table, its files checked against the source: a row whose file is missing (one
        message: the count and the first few), or that lies outside the source (a link out of
        it), is an error.

        Raises:
            ParameterError: No table was given.
            SourceError: Rows naming files the source lacks.
        """
        if self.table is None:
            raise ParameterError(f"{option('corpus', 'table')} needs a labels table ({option('labels')})")
        missing, outside = [], []
        for file, row in self.table.rows.items():
            found = [root / file for root in roots if (root / file).is_file()]
            if not found:
                missing.append(f"{file} (line {row['line']})")
            elif not any(is_within(found[0].resolve(), root.resolve()) for root in roots):
                outside.append(f"{file} (line {row['line']})")
        if outside:
            raise SourceError(f"{self.table.path}: {len(outside)} rows name a file that links outside the source "
                              f"({', '.join(outside[:LISTED])})")
        if missing:
            raise SourceError(f"{self.table.path}: {len(missing)} rows name a file the source "
                              f"({', '.join(map(str, roots))}) lacks: {', '.join(missing[:LISTED])}"
                              + (" ..." if len(missing) > LISTED else ""))
        return self.table

    def clip_metadata(self, path: Path, *, root: Path, annotations: Any) -> dict | Excluded:
        file = path.relative_to(root).as_posix()
        row = annotations.rows.get(file)
        if row is None:
            return Excluded("not in the labels table")
        return {"clip_name": file, "speaker": row["speaker"], "speaker_name": row["speaker_name"],
                "gender": row.get("gender", ""), "text": row.get("text", ""), "split": row.get("split", ""),
                "language": row.get("language", ""), "emotion": row["emotion"],
                "label": self.label_names.index(row["emotion"])}

    def describe(self, *, split_preset: str | None = None) -> dict:
        """The corpus's record, with the table's path, SHA-256 and row count."""
        described = super().describe(split_preset=split_preset)
        if self.table is not None:
            described["labels_table"] = {"path": str(self.table.path), "sha256": self.table.sha256,
                                         "rows": len(self.table.rows), "columns": list(REQUIRED + self.table.columns)}
        return described


def table_corpus(labels: str | os.PathLike, *, emotion_map: str | os.PathLike | None = None,
                 license_name: str | None = None, citation: str | None = None) -> TableCorpus:
    """The corpus of a labels table, read once per version of the file (see :func:`read_table`).

    Raises:
        ParameterError: A missing table or map, or any bad row (see :func:`read_table`).
    """
    return described_corpus(_table_source, labels, emotion_map=emotion_map, license_name=license_name,
                            citation=citation)


def described_corpus(reader, labels: str | os.PathLike, *, emotion_map: str | os.PathLike | None = None,
                     **options) -> Corpus:
    """``reader(path, emotion map, **options)``'s corpus of a description (a labels table, an
    audformat database folder), read again only when its files change.

    Raises:
        ParameterError: A missing description or map.
    """
    for given, flag in ((labels, "labels"), (emotion_map, "emotion_map")):
        if given is not None and not Path(given).exists():
            raise ParameterError(f"{option(flag, str(given))}: no such file")
    return _cached(reader, str(Path(labels).resolve()), _stamp(labels),
                   None if emotion_map is None else str(emotion_map), _stamp(emotion_map), tuple(sorted(options.items())))


@functools.lru_cache(maxsize=8)
def _cached(reader, path: str, stamp: tuple, emotion_map: str | None, map_stamp: tuple, options: tuple) -> Corpus:
    return reader(path, read_emotion_map(emotion_map) if emotion_map else None, **dict(options))


def _table_source(path: str, mapping, *, license_name=None, citation=None) -> TableCorpus:
    return TableCorpus(read_table(path, emotion_map=mapping), license_name=license_name, citation=citation)


def _stamp(path) -> tuple:
    """What changes when a file (or a folder's files) changes: sizes and modification times."""
    if path is None:
        return ()
    path = Path(path)
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    return tuple((str(file), file.stat().st_size, file.stat().st_mtime_ns) for file in files if file.is_file()
                 and file.suffix.lower() not in (".wav", ".flac"))


def _text(path: Path, *, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ParameterError(f"{path}: the {what} is not UTF-8 text (byte {error.start})") from None
    except OSError as error:
        raise ParameterError(f"{path}: the {what} cannot be read ({error.strerror})") from None


def _row_problem(row: dict, seen: Mapping[str, dict], mapping: Mapping[str, str]) -> str | None:
    """What is wrong with one row (None: nothing)."""
    file = row.get("file", "")
    if not file:
        return "no file"
    posix = PurePosixPath(file.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts:
        return f"{file!r} lies outside the source folder"
    if posix.as_posix() in seen:
        return f"{file!r} is listed twice (first at line {seen[posix.as_posix()]['line']})"
    if not row.get("speaker"):
        return f"{file!r} has no speaker"
    emotion = mapping.get(row.get("emotion", ""), row.get("emotion", ""))
    if emotion not in CANONICAL:
        return (f"emotion {row.get('emotion', '')!r} is not a canonical one ({', '.join(CANONICAL)}); map it with "
                "an emotion map")
    if row.get("split") and row["split"] not in SPLIT_NAMES:
        return f"split {row['split']!r} is not one of {', '.join(SPLIT_NAMES)}"
    return None


def _presets(table: LabelsTable, label_names: tuple[str, ...]) -> dict[str, SplitPreset]:
    """The table's split (when it has a ``split`` column), else a fixed split of folds5's first
    two groups; five folds of speakers; and loso."""
    presets = {}
    if "split" in table.columns:
        sides = {split: tuple(sorted({row["speaker"] for row in table.rows.values() if row.get("split") == split}))
                 for split in ("dev", "test")}
        presets["table"] = SplitPreset("table", "the labels table's split column", fixed=(sides["dev"], sides["test"]))
    groups = _balanced_groups(table, label_names, count=5)
    presets["balanced"] = SplitPreset("balanced", "a fixed split: folds5's first group of speakers test, its second "
                                      "dev", fixed=(groups[1] if len(groups) > 1 else (), groups[0]))
    presets["folds5"] = speaker_groups("folds5", groups, "5 folds of speakers dealt so that class counts stay close: "
                                       "fold K test, fold K+1 dev")
    presets["loso"] = leave_one_speaker_out_split("loso")
    return presets


def _balanced_groups(table: LabelsTable, label_names: tuple[str, ...], *, count: int, seed: int = 0):
    """Speakers dealt into ``count`` groups, most clips first (ties in a seeded order), each to
    the group where it adds least to the sum of squared class counts (which keeps every class
    spread evenly)."""
    counts = {}
    for row in table.rows.values():
        counts.setdefault(row["speaker"], np.zeros(len(label_names)))[label_names.index(row["emotion"])] += 1
    speakers = sorted(counts, key=lambda speaker: (-counts[speaker].sum(), np.random.default_rng(
        [seed, speaker]).random()))
    groups, totals = [[] for _ in range(min(count, len(speakers)))], np.zeros((min(count, len(speakers)),
                                                                               len(label_names)))
    for speaker in speakers:
        target = int(np.argmin([np.square(totals[index] + counts[speaker]).sum() for index in range(len(groups))]))
        groups[target].append(speaker)
        totals[target] += counts[speaker]
    return [tuple(sorted(group)) for group in groups]

"""A corpus from an audformat database: the format audb and audEERING's tools publish (a folder
with ``db.yaml``, its tables and its media), read as a labels table.

The emotion comes from a column of one filewise table (``--labels-table``; by default every
filewise table holding ``--labels-column``, ``emotion`` by default, e.g. ``emotion.train`` and
``emotion.test``). The speaker comes from a ``speaker`` column of that table or of another
filewise table (``files``, as audb's databases have it), the gender from the speaker scheme's
labels (``gender`` or ``sex``) or a ``gender`` column, the split from each table's split (its
type: train, dev or test). Those rows are then checked exactly as a labels table's
(:func:`ravdess_prep.corpora.table.parse_table`); the database's license and author become the
corpus's unless ``--license`` and ``--citation`` are given. A database that ``audb.load`` wrote
works as it is.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from pathlib import Path

from ..exceptions import ParameterError, option
from .table import TableCorpus, described_corpus, parse_table

#: The column of the emotion when none is named.
DEFAULT_COLUMN = "emotion"


class AudformatCorpus(TableCorpus):
    """The corpus of an audformat database (see the module docstring)."""

    name = "audformat"
    title = "a corpus of an audformat database"

    def __init__(self, table=None, *, license_name=None, citation=None, database: dict | None = None):
        super().__init__(table, license_name=license_name, citation=citation)
        self.database = database or {}
        if table is not None:
            self.title = f"the audformat database {self.database.get('name', '')}".strip()

    def describe(self, *, split_preset: str | None = None) -> dict:
        described = super().describe(split_preset=split_preset)
        if self.database:
            described["database"] = dict(self.database)
        return described


def database_corpus(folder: str | os.PathLike, *, table: str | None = None, column: str | None = None,
                    emotion_map: str | os.PathLike | None = None, license_name: str | None = None,
                    citation: str | None = None) -> AudformatCorpus:
    """The corpus of the audformat database in ``folder``, read again only when its header or
    tables change.

    Raises:
        ParameterError: No ``db.yaml``, a database audformat cannot load, no table with the
            emotion column (the tables listed), a segmented table, or any bad row (as a labels
            table's, :func:`ravdess_prep.corpora.table.read_table`).
    """
    return described_corpus(_read_database, folder, emotion_map=emotion_map, table=table, column=column,
                            license_name=license_name, citation=citation)


def database_rows(folder: str | os.PathLike, *, table: str | None = None,
                  column: str | None = None) -> tuple[str, dict]:
    """A labels table's text (CSV) of the database's files, and the database's record
    (``name``, ``license``, ``author``, ``source``, ``db_yaml_sha256``, ``tables``).

    Raises:
        ParameterError: See :func:`database_corpus`.
    """
    import audformat  # an optional dependency: loaded when a database is read

    folder = Path(folder)
    header = folder / "db.yaml"
    if not header.is_file():
        raise ParameterError(f"{folder}: no db.yaml (not an audformat database)")
    try:
        db = audformat.Database.load(str(folder), load_data=True)
    except Exception as error:  # audformat's and yaml's errors vary
        raise ParameterError(f"{header}: audformat cannot load the database ({error})") from None
    column = column or DEFAULT_COLUMN
    names = [table] if table is not None else [name for name in db.tables if column in db[name].columns]
    if table is not None and (table not in db.tables or column not in db[table].columns):
        raise ParameterError(f"{header}: no table {table!r} with a column {column!r} (tables: "
                             + ", ".join(f"{name} ({', '.join(db[name].columns)})" for name in db.tables) + ")")
    if not names:
        raise ParameterError(f"{header}: no table has a column {column!r} (tables: "
                             + ", ".join(f"{name} ({', '.join(db[name].columns) or 'no columns'})"
                                         for name in db.tables)
                             + f"); name the emotion's with {option('labels_table')} and {option('labels_column')}")
    segmented = [name for name in names if not db[name].is_filewise]
    if segmented:
        raise ParameterError(f"{header}: table {segmented[0]!r} is segmented; a corpus takes one emotion per file "
                             "(a filewise table)")
    speakers, genders = _speakers(db, audformat)
    rows = []
    for name in names:
        frame = db[name].get()
        split = db.splits[db[name].split_id].type if db[name].split_id in db.splits else ""
        for file, emotion in frame[column].items():
            speaker = speakers.get(file, "")
            rows.append((file, speaker, "" if emotion is None or str(emotion) == "nan" else str(emotion),
                         genders.get(file, ""), split if split in ("train", "dev", "test") else ""))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    columns = ["file", "speaker", "emotion"] + (["gender"] if genders else []) + (
        ["split"] if any(row[4] for row in rows) else [])
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row[0], row[1], row[2]] + ([row[3]] if genders else []) + ([row[4]] if "split" in columns
                                                                                  else []))
    record = {"name": db.name, "license": db.license or "", "author": db.author or "", "source": db.source or "",
              "db_yaml_sha256": hashlib.sha256(header.read_bytes()).hexdigest(), "tables": names,
              "column": column}
    return text.getvalue(), record


def _speakers(db, audformat) -> tuple[dict[str, str], dict[str, str]]:
    """``({file: speaker}, {file: gender})`` from the first filewise table with a ``speaker``
    column (and the speaker scheme's labels, or a ``gender`` column)."""
    speakers, genders = {}, {}
    for name in db.tables:
        table = db[name]
        if not table.is_filewise:
            continue
        frame = table.get()
        if "speaker" in frame.columns and not speakers:
            speakers = {file: str(value) for file, value in frame["speaker"].items() if value is not None}
            scheme = db.schemes.get(table.columns["speaker"].scheme_id) if table.columns["speaker"].scheme_id else None
            labels = scheme.labels if scheme is not None and isinstance(scheme.labels, dict) else {}
            for file, speaker in speakers.items():
                facts = labels.get(speaker) or labels.get(_number(speaker)) or {}
                gender = facts.get("gender") or facts.get("sex") if isinstance(facts, dict) else None
                if gender:
                    genders[file] = str(gender)
        if "gender" in frame.columns and not genders:
            genders = {file: str(value) for file, value in frame["gender"].items() if value is not None}
    return speakers, genders


def _number(value: str):
    return int(value) if value.isdigit() else value


def _read_database(path: str, mapping, *, table=None, column=None, license_name=None,
                   citation=None) -> AudformatCorpus:
    text, record = database_rows(path, table=table, column=column)
    parsed = parse_table(text, path=Path(path) / "db.yaml", emotion_map=mapping)
    return AudformatCorpus(parsed, license_name=license_name or record["license"] or None,
                           citation=citation or ", ".join(part for part in (record["author"], record["source"]) if part)
                           or None, database=record)

"""What every corpus is: a naming scheme, where its files come from, its speakers and labels.

A corpus module defines one :class:`Corpus` subclass: how a file name maps to a row of
metadata (:meth:`Corpus.parse_name`), the columns of its inventory, which column holds the
speaker and which the label, its default split, and, if it has one, its download. Everything
else (scanning folders and zips, reading audio headers, collecting every problem) is shared.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Sequence

import soundfile

from ..audio import check_complete, empty_message, unreadable_message
from ..exceptions import AudioError, ClipNameError, DuplicateClipError, RavdessPrepError, SourceError
from ..source import AUDIO_SUFFIXES, audio_files, resolve_path

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

#: Inventory columns every corpus has, besides its own: the bundle name, the file, and the
#: audio facts read from the file header.
COMMON_COLUMNS = ("clip_name", "path", "sample_rate_hz", "channels", "num_samples")


@dataclasses.dataclass(frozen=True)
class Survey:
    """What a source holds: the usable clips and every problem found.

    Attributes:
        clips: One row per usable clip, columns ``Corpus.columns``, in the corpus's order.
        problems: One exception per file that cannot be used, in path order.
        roots: The folders that were scanned (a zip source is scanned where it was extracted).
    """

    clips: "pandas.DataFrame"
    problems: tuple[RavdessPrepError, ...]
    roots: tuple[Path, ...]

    def raise_for_problems(self) -> None:
        """Raise the first problem (its own type), counting the others in the message."""
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            if more:
                raise type(first)(f"{first} (and {more} more problems; `ravdess-prep info` lists them)")
            raise first


class Corpus:
    """A corpus of labelled speech recordings. Subclasses set the class attributes and
    :meth:`parse_name`; :meth:`download` is optional.

    Attributes:
        name: Its name in the registry and in manifests.
        title: Its full name.
        columns: Inventory columns in order; they include :data:`COMMON_COLUMNS`, the speaker
            column and the label column.
        speaker_column: The column holding the speaker (an integer id); splits keep each
            speaker in one split.
        label_column: The column holding the class label (an integer, 0 .. classes - 1).
        label_names: The name of each label.
        sort_columns: Inventory order.
        facet_columns: Columns the classifier's accuracy is broken down by.
        card_columns: Columns the data card counts clips by (per split), the label's first.
        count_columns: ``{facet: (sort column, value column)}`` that :meth:`counts` reports.
        speakers: Every speaker of the corpus, in its order (the split presets cut it).
        default_dev_speakers: The dev speakers of the corpus's customary split.
        default_test_speakers: Its test speakers.
        download_names: Sources that mean "download the corpus" (None always does).
        license: ``{"name", "url"}`` of the corpus's license.
        citation: How to cite it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    speaker_column: ClassVar[str] = "speaker"
    label_column: ClassVar[str] = "label"
    label_names: ClassVar[tuple[str, ...]]
    sort_columns: ClassVar[tuple[str, ...]] = ("clip_name",)
    facet_columns: ClassVar[tuple[str, ...]] = ()
    card_columns: ClassVar[tuple[str, ...]] = ()
    count_columns: ClassVar[dict[str, tuple[str, str]]] = {}
    speakers: ClassVar[tuple[int, ...]] = ()
    default_dev_speakers: ClassVar[tuple[int, ...]] = ()
    default_test_speakers: ClassVar[tuple[int, ...]] = ()
    download_names: ClassVar[tuple[str, ...]] = ()
    license: ClassVar[dict] = {}
    citation: ClassVar[str] = ""

    def parse_name(self, path: str | os.PathLike) -> dict:
        """The metadata a file name carries: a row with ``clip_name`` and every corpus column
        but the common ones.

        Raises:
            ClipNameError: The name does not follow the corpus's scheme; the message names it.
        """
        raise NotImplementedError

    def download(self, *, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> list[Path]:
        """Fetch the corpus into the cache; the folders to scan.

        Raises:
            SourceError: This corpus has no download.
        """
        raise SourceError(f"the {self.name} corpus has no download: give a folder or a zip of its files")

    def resolve(self, source, *, cache_dir: str | os.PathLike | None = None, progress: bool = False) -> list[Path]:
        """The folders a source stands for: a folder, a zip (extracted into the cache), a
        download name or None (the corpus's download), or a sequence of these."""
        if source is None or (isinstance(source, str) and source in self.download_names):
            return self.download(cache_dir=cache_dir, progress=progress)
        if not isinstance(source, (str, os.PathLike)):
            return [folder for item in source for folder in self.resolve(item, cache_dir=cache_dir, progress=progress)]
        return [resolve_path(source, cache_dir=cache_dir, progress=progress)]

    def survey(self, source=None, *, cache_dir: str | os.PathLike | None = None, progress: bool = False) -> Survey:
        """Scan a source, collecting every clip and every problem without stopping at the first.

        Raises:
            SourceError: The source does not exist, is not usable, or holds no audio file.
            DownloadError: The download failed.
        """
        import pandas as pd
        roots = self.resolve(source, cache_dir=cache_dir, progress=progress)
        paths = [path for root in roots for path in audio_files(root)]
        if not paths:
            where = ", ".join(str(root) for root in roots)
            raise SourceError(f"{where}: no {' or '.join(AUDIO_SUFFIXES)} file found")
        rows: list[dict] = []
        problems: list[RavdessPrepError] = []
        first_path: dict[str, Path] = {}
        for path in paths:
            try:
                row = self.parse_name(path)
            except ClipNameError as error:
                problems.append(error)
                continue
            name = row["clip_name"]
            if name in first_path:
                problems.append(DuplicateClipError(f"{path}: clip name {name} is already taken by {first_path[name]}"))
                continue
            try:
                audio = soundfile.info(str(path))
            except Exception as error:  # soundfile raises its own error types for unreadable files
                problems.append(SourceError(unreadable_message(path, error)))
                continue
            if audio.frames <= 0:
                problems.append(SourceError(empty_message(path)))
                continue
            try:
                check_complete(path)
            except AudioError as error:
                problems.append(SourceError(str(error)))
                continue
            first_path[name] = path
            rows.append({**row, "path": str(path), "sample_rate_hz": int(audio.samplerate),
                         "channels": int(audio.channels), "num_samples": int(audio.frames)})
        clips = pd.DataFrame(rows, columns=list(self.columns))
        clips = clips.sort_values(list(self.sort_columns), kind="stable").reset_index(drop=True)
        return Survey(clips=clips, problems=tuple(problems), roots=tuple(roots))

    def inventory(self, source=None, *, cache_dir: str | os.PathLike | None = None,
                  progress: bool = False) -> "pandas.DataFrame":
        """Every clip of a source with its metadata (see :meth:`survey`); any problem is an error.

        Returns:
            A DataFrame, one row per clip, columns :attr:`columns`.

        Raises:
            ClipNameError: A file name is malformed (the first such file is named).
            DuplicateClipError: Two files map to one clip name (both paths are named).
            SourceError: The source is missing or empty, or a file is not readable audio.
        """
        result = self.survey(source, cache_dir=cache_dir, progress=progress)
        result.raise_for_problems()
        return result.clips

    def counts(self, clips: "pandas.DataFrame") -> dict[str, dict[str, int]]:
        """Clip counts per facet of :attr:`count_columns`, values in the corpus's own order."""
        counts = {}
        for facet, (sort_key, column) in self.count_columns.items():
            ordered = clips.sort_values(sort_key, kind="stable")[column]
            values = ordered.map(lambda value: f"{value:02d}" if column == self.speaker_column else str(value))
            counts[facet] = {str(key): int(value) for key, value in values.value_counts(sort=False).items()}
        return counts

    def describe(self) -> dict:
        """What a manifest records of the corpus."""
        return {"name": self.name, "title": self.title, "speaker_column": self.speaker_column,
                "label_column": self.label_column, "label_names": list(self.label_names),
                "facet_columns": list(self.facet_columns), "license": dict(self.license), "citation": self.citation}


def speakers_named(speakers: Sequence[int]) -> str:
    """Speaker ids as a comma-separated list of two-digit numbers."""
    return ", ".join(f"{int(speaker):02d}" for speaker in speakers)

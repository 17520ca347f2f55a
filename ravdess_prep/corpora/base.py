"""What every corpus is: where a clip's metadata comes from, its speakers, labels and splits.

A corpus module defines one :class:`Corpus` subclass: how a file maps to a row of metadata
(:meth:`Corpus.clip_metadata`: from its name, :meth:`Corpus.parse_name`, or from annotation
files the corpus reads once per source, :meth:`Corpus.annotations`), which files it leaves out
(:class:`Excluded`: skipped and counted, not errors), the columns of its inventory, which
column holds the speaker and which the label, its split presets, and, if it has one, its
download. Everything else (scanning folders and zips, reading audio headers, collecting every
problem) is shared.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Mapping

from ..exceptions import (ChecksumError, ClipNameError, DuplicateClipError, RavdessPrepError, SourceError,
                          SplitError, option)
from ..storage.digest import file_digest, identical_files
from ..storage.guards import is_dataset_folder
from .emotions import CANONICAL, check_canonical
from .source import AUDIO_SUFFIXES, audio_facts, audio_files, resolve_path
from .split import SplitPreset, customary_split, leave_one_speaker_out_split

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

    from .protocols import Protocol

#: Inventory columns every corpus has, besides its own: the bundle name, the file, and the
#: audio facts read from the file header.
COMMON_COLUMNS = ("clip_name", "path", "sample_rate_hz", "channels", "num_samples")
#: The column every inventory ends with: the source folder a clip was found under (it is not
#: written to ``metadata.csv``; the manifest lists the folders).
ROOT_COLUMN = "source_root"


@dataclasses.dataclass(frozen=True)
class Excluded:
    """What :meth:`Corpus.clip_metadata` returns for a file the corpus leaves out on purpose
    (a label outside its classes, say): skipped and counted, not an error."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Survey:
    """What a source holds: the usable clips, the files left out, and every problem found.

    Attributes:
        clips: One row per usable clip, columns ``Corpus.columns`` and :data:`ROOT_COLUMN`, in
            the corpus's order.
        problems: One exception per file that cannot be used, in path order.
        roots: The folders that were scanned (a zip source is scanned where it was extracted).
        excluded: ``(path, reason)`` of every file the corpus left out on purpose.
    """

    clips: "pandas.DataFrame"
    problems: tuple[RavdessPrepError, ...]
    roots: tuple[Path, ...]
    excluded: tuple[tuple[str, str], ...] = ()

    def excluded_counts(self) -> dict[str, int]:
        """``{reason: files}`` of the files left out."""
        return dict(Counter(reason for _, reason in self.excluded))

    def raise_for_problems(self) -> None:
        """Raise the first problem (its own type), counting the others in the message."""
        if self.problems:
            first = self.problems[0]
            more = len(self.problems) - 1
            if more:
                raise type(first)(f"{first} (and {more} more problems; `ravdess-prep info` lists them)")
            raise first


#: The facets every corpus's :meth:`Corpus.counts` reports after its own: the audio's rate and
#: channels.
AUDIO_COUNTS = {"sample_rate_hz": ("sample_rate_hz", "sample_rate_hz"), "channels": ("channels", "channels")}


class Corpus:
    """A corpus of labelled speech recordings. Subclasses set the class attributes and
    :meth:`parse_name` (or :meth:`annotations` and :meth:`clip_metadata`); :meth:`download`
    is optional.

    Attributes:
        name: Its name in the registry and in manifests.
        title: Its full name.
        columns: Inventory columns in order; they include :data:`COMMON_COLUMNS`, the speaker
            column and the label column.
        speaker_column: The column holding the speaker (an integer id); splits keep each
            speaker in one split.
        label_column: The column holding the class label (an integer, 0 .. classes - 1).
        label_names: The name of each label.
        canonical_names: Each label's name in the one vocabulary of every corpus
            (:data:`ravdess_prep.corpora.emotions.CANONICAL`); None: the label names, when they all
            are canonical names (:meth:`canonical`).
        sort_columns: Inventory order.
        facet_columns: Columns the classifier's accuracy is broken down by.
        card_columns: Columns the data card counts clips by (per split), the label's first.
        text_column: The column naming the text each clip speaks (None: the corpus does not
            say), which ``audit`` counts across splits.
        count_columns: ``{facet: (sort column, value column)}`` that :meth:`counts` reports
            (with :data:`AUDIO_COUNTS`, every corpus's).
        speakers: Every speaker of the corpus, in its order (the split presets cut it).
        default_dev_speakers: The dev speakers of the corpus's customary split.
        default_test_speakers: Its test speakers.
        split_presets: Its named splits, ``{name: SplitPreset}`` (see
            :mod:`ravdess_prep.corpora.split`); the first is the default.
        protocols: Its published evaluation protocols, ``{name: Protocol}`` (see
            :mod:`ravdess_prep.corpora.protocols`); each is also a split preset.
        download_names: Sources that mean "download the corpus" (None always does).
        published_duplicates: Sets of clip names whose files the corpus itself publishes with
            identical bytes; any other two files with the same bytes are an error of the source.
        license: ``{"name", "url"}`` of the corpus's license.
        language: The language spoken, as an ISO 639-1 code (for the data card).
        citation: How to cite it.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    speaker_column: ClassVar[str] = "speaker"
    label_column: ClassVar[str] = "label"
    label_names: ClassVar[tuple[str, ...]]
    canonical_names: ClassVar[tuple[str, ...] | None] = None
    sort_columns: ClassVar[tuple[str, ...]] = ("clip_name",)
    facet_columns: ClassVar[tuple[str, ...]] = ()
    card_columns: ClassVar[tuple[str, ...]] = ()
    text_column: ClassVar[str | None] = None
    count_columns: ClassVar[dict[str, tuple[str, str]]] = {}
    speakers: ClassVar[tuple[int, ...]] = ()
    default_dev_speakers: ClassVar[tuple[int, ...]] = ()
    default_test_speakers: ClassVar[tuple[int, ...]] = ()
    split_presets: ClassVar[Mapping[str, SplitPreset]] = {
        "original": customary_split("original"), "loso": leave_one_speaker_out_split("loso")}
    protocols: ClassVar[Mapping[str, "Protocol"]] = {}
    download_names: ClassVar[tuple[str, ...]] = ()
    published_duplicates: ClassVar[tuple[frozenset[str], ...]] = ()
    license: ClassVar[dict] = {}
    language: ClassVar[str] = "en"
    citation: ClassVar[str] = ""

    def parse_name(self, path: str | os.PathLike) -> dict:
        """The metadata a file name carries: a row with ``clip_name`` and every corpus column
        but the common ones.

        Raises:
            ClipNameError: The name does not follow the corpus's scheme; the message names it.
        """
        raise NotImplementedError

    def annotations(self, roots: tuple[Path, ...]) -> Any:
        """What the corpus's annotation files hold, read once per survey from the scanned
        ``roots`` and handed to :meth:`clip_metadata` (default: nothing; metadata comes from
        the file names).

        Raises:
            SourceError: An annotation file is missing or unreadable; the message names it.
        """
        return None

    def clip_metadata(self, path: Path, *, root: Path, annotations: Any) -> dict | Excluded:
        """One audio file's row of metadata (see :meth:`parse_name`), or :class:`Excluded`
        for a file the corpus leaves out. The default parses the file's name.

        Args:
            path: The file.
            root: The scanned folder it is under.
            annotations: What :meth:`annotations` returned.

        Raises:
            ClipNameError: The file cannot be described (a problem of the source, reported).
        """
        return self.parse_name(path)

    def preset(self, name: str) -> SplitPreset:
        """The split preset ``name``.

        Raises:
            SplitError: The corpus has no such preset; the message lists its presets.
        """
        try:
            return self.split_presets[name]
        except (KeyError, TypeError):
            raise SplitError(f"{option('split_preset', name)}: the {self.name} corpus has no such split preset (its "
                             f"presets: {', '.join(self.split_presets)}, or custom speaker lists)") from None

    def download(self, *, dest: str | os.PathLike | None = None, files_url: str | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> list[Path]:
        """Fetch the corpus, verified; the folders to scan.

        Args:
            dest: The folder that receives it (None: ``<cache root>/<corpus name>``).
            files_url: A mirror of the corpus's files (None: where the corpus publishes them).
            cache_dir: Cache root used when ``dest`` is None.
            progress: Show progress bars.

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
        roots = tuple(self.resolve(source, cache_dir=cache_dir, progress=progress))
        found = [(root, path) for root in roots for path in audio_files(root)]
        if not found:
            datasets = [root for root in roots if is_dataset_folder(root)]
            if datasets:
                raise SourceError(f"{datasets[0]}: a dataset folder ravdess-prep built (bundles, no audio), not a "
                                  f"source of clips; give the corpus's audio (ravdess-prep check {datasets[0]} checks "
                                  "the dataset)")
            where = ", ".join(str(root) for root in roots)
            raise SourceError(f"{where}: no {' or '.join(AUDIO_SUFFIXES)} file found")
        annotations = self.annotations(roots)
        rows: list[dict] = []
        problems: list[RavdessPrepError] = []
        excluded: list[tuple[str, str]] = []
        first_path: dict[str, Path] = {}
        for root, path in found:
            try:
                row = self.clip_metadata(path, root=root, annotations=annotations)
            except ClipNameError as error:
                problems.append(error)
                continue
            if isinstance(row, Excluded):
                excluded.append((str(path), row.reason))
                continue
            name = row["clip_name"]
            if name in first_path:
                problems.append(DuplicateClipError(f"{path}: clip name {name} is already taken by {first_path[name]}"))
                continue
            problem = audio_facts(path)
            if isinstance(problem, RavdessPrepError):
                problems.append(problem)
                continue
            first_path[name] = path
            rows.append({**row, "path": str(path), **problem, ROOT_COLUMN: str(root)})
        copies = self.copies(rows)
        problems.extend(DuplicateClipError(f"{path}: the same bytes as {first} (one recording under two clip names)")
                        for path, first in copies.items())
        rows = [row for row in rows if row["path"] not in copies]
        clips = pd.DataFrame(rows, columns=list(self.columns) + [ROOT_COLUMN])
        clips = clips.sort_values(list(self.sort_columns), kind="stable").reset_index(drop=True)
        return Survey(clips=clips, problems=tuple(problems), roots=roots, excluded=tuple(excluded))

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
        """Clip counts per facet of :attr:`count_columns` and of the audio's rate and channels,
        values in the corpus's own order."""
        counts = {}
        for facet, (sort_key, column) in {**self.count_columns, **AUDIO_COUNTS}.items():
            if column not in clips:
                continue
            ordered = clips.sort_values(sort_key, kind="stable")[column]
            values = ordered.map(lambda value: f"{value:02d}" if column == self.speaker_column else str(value))
            counts[facet] = {str(key): int(value) for key, value in values.value_counts(sort=False).items()}
        return counts

    def canonical(self) -> tuple[str, ...] | None:
        """Each label's canonical emotion name (see :mod:`ravdess_prep.corpora.emotions`), or None when
        the corpus declares none and its label names are not all canonical.

        Raises:
            ParameterError: Declared names that are not one canonical name per label.
        """
        if self.canonical_names is not None:
            return check_canonical(self.canonical_names, label_names=self.label_names,
                                   where=f"the {self.name} corpus's canonical_names")
        if all(name in CANONICAL for name in self.label_names) and len(set(self.label_names)) == len(self.label_names):
            return tuple(self.label_names)
        return None

    def describe(self, *, split_preset: str | None = None) -> dict:
        """What a manifest records of the corpus (and of the protocol a split preset is)."""
        protocol = self.protocols.get(split_preset) if split_preset is not None else None
        canonical = self.canonical()
        return {"name": self.name, "title": self.title, "speaker_column": self.speaker_column,
                "label_column": self.label_column, "label_names": list(self.label_names),
                **({"canonical_names": list(canonical)} if canonical is not None else {}),
                "facet_columns": list(self.facet_columns), "speakers": list(self.speakers),
                "license": dict(self.license), "language": self.language, "citation": self.citation,
                **({"protocol": protocol.describe()} if protocol is not None else {})}

    def published_files(self) -> Mapping[str, tuple[int, str]] | None:
        """``{file name: (size in bytes, sha256)}`` of every file the corpus publishes, or None
        when it publishes no such list (see :meth:`verify`)."""
        return None

    def verify(self, survey: Survey) -> list[RavdessPrepError]:
        """A source's files against the corpus's published list: each file whose size or
        SHA-256 differs, or that the list lacks, and the listed files the source lacks.

        Raises:
            SourceError: The corpus publishes no list of files.
        """
        published = self.published_files()
        if published is None:
            raise SourceError(f"the {self.name} corpus publishes no list of its files' checksums to verify a copy "
                              "against")
        problems: list[RavdessPrepError] = []
        seen = set()
        for path in survey.clips["path"]:
            name = Path(path).name
            seen.add(name)
            if name not in published:
                problems.append(ChecksumError(f"{path}: not a file of the {self.name} corpus's published list"))
                continue
            size_bytes, sha256 = published[name]
            actual = os.path.getsize(path)
            if actual != size_bytes:
                problems.append(ChecksumError(f"{path}: {actual} bytes, the published file {size_bytes}"))
                continue
            digest = file_digest(path, "sha256")
            if digest != sha256:
                problems.append(ChecksumError(f"{path}: SHA-256 is {digest}, the published file's {sha256}"))
        missing = sorted(set(published) - seen)
        if missing:
            where = ", ".join(str(root) for root in survey.roots)
            problems.append(SourceError(f"{where}: {len(missing)} of the {len(published)} published files are not "
                                        f"among the clips ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''})"))
        return problems

    def copies(self, rows: list[dict]) -> dict[str, str]:
        """``{path: path of the first file with the same bytes}`` among the rows' files, leaving
        out the copies the corpus publishes (:attr:`published_duplicates`)."""
        names = {row["path"]: row["clip_name"] for row in rows}
        copies = {}
        for group in identical_files(names):
            if frozenset(names[path] for path in group) not in self.published_duplicates:
                copies.update((path, group[0]) for path in group[1:])
        return copies

    def names_parse(self, names) -> bool:
        """Whether every one of ``names`` (bundle clip names) follows the corpus's naming
        scheme (how bundles without a manifest, the original project's, are recognised)."""
        try:
            for name in names:
                self.parse_name(name)
        except ClipNameError:
            return False
        return True


def match_name(path: str | os.PathLike, pattern: "re.Pattern[str]", *, scheme: str) -> "tuple[str, re.Match[str]]":
    """An audio file's name stem and its match of a corpus's naming ``pattern`` (only the last
    component of ``path`` is read).

    Raises:
        ClipNameError: The extension is not an audio one, or the stem does not match; the
            message names the file and says the ``scheme``.
    """
    stem, suffix = os.path.splitext(Path(path).name)
    if suffix.lower() not in AUDIO_SUFFIXES:
        raise ClipNameError(f"{path}: extension {suffix!r} is not one of {', '.join(AUDIO_SUFFIXES)}")
    match = pattern.match(stem)
    if match is None:
        raise ClipNameError(f"{path}: name {stem!r} does not follow the {scheme}")
    return stem, match


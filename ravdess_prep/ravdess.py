"""RAVDESS metadata: what every file is, parsed from its name, and the inventory of a source.

A RAVDESS audio file is named ``MM-VV-EE-II-SS-RR-AA.wav`` (or ``.flac`` in a lossless copy):
modality, vocal channel, emotion, intensity, statement, repetition, actor. Inside a bundle a
clip is named ``<channel>/Actor_<AA>/<stem>.wav`` whatever the source format.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from . import params
from .exceptions import ClipNameError, DuplicateClipError, RavdessPrepError, SourceError

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

_NAME_PATTERN = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_FIELDS = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
_DOMAINS = {
    "modality": params.MODALITIES,
    "vocal_channel": params.VOCAL_CHANNELS,
    "emotion": params.EMOTIONS,
    "intensity": params.INTENSITIES,
    "statement": params.STATEMENTS,
    "repetition": params.REPETITIONS,
    "actor": params.ACTORS,
}

#: The inventory's columns, in order.
INVENTORY_COLUMNS = (
    "clip_name",
    "path",
    "vocal_channel",
    "vocal_channel_code",
    "emotion",
    "emotion_code",
    "label",
    "intensity",
    "intensity_code",
    "statement",
    "repetition",
    "actor",
    "gender",
    "modality",
    "sample_rate_hz",
    "channels",
    "num_samples",
)


@dataclasses.dataclass(frozen=True)
class ClipInfo:
    """The seven fields of a RAVDESS file name, as integer codes."""

    modality: int
    vocal_channel: int
    emotion: int
    intensity: int
    statement: int
    repetition: int
    actor: int

    @property
    def stem(self) -> str:
        """The name without extension, e.g. ``03-01-07-01-01-02-08``."""
        return "-".join(f"{getattr(self, field):02d}" for field in _FIELDS)

    @property
    def vocal_channel_name(self) -> str:
        return params.VOCAL_CHANNELS[self.vocal_channel]

    @property
    def emotion_name(self) -> str:
        return params.EMOTIONS[self.emotion]

    @property
    def intensity_name(self) -> str:
        return params.INTENSITIES[self.intensity]

    @property
    def gender(self) -> str:
        """``"male"`` for odd actors, ``"female"`` for even ones."""
        return "male" if self.actor % 2 else "female"

    @property
    def label(self) -> int:
        """The class label: emotion code minus one (neutral 0 ... surprised 7)."""
        return self.emotion - 1

    @property
    def clip_name(self) -> str:
        """The bundle clip name, e.g. ``speech/Actor_08/03-01-07-01-01-02-08.wav``."""
        return f"{self.vocal_channel_name}/Actor_{self.actor:02d}/{self.stem}.wav"

    def as_row(self) -> dict:
        """The metadata as one inventory row (without path and audio facts)."""
        return {
            "clip_name": self.clip_name,
            "vocal_channel": self.vocal_channel_name,
            "vocal_channel_code": self.vocal_channel,
            "emotion": self.emotion_name,
            "emotion_code": self.emotion,
            "label": self.label,
            "intensity": self.intensity_name,
            "intensity_code": self.intensity,
            "statement": self.statement,
            "repetition": self.repetition,
            "actor": self.actor,
            "gender": self.gender,
            "modality": self.modality,
        }


def parse_clip_name(path: str | os.PathLike) -> ClipInfo:
    """Parse a RAVDESS file name (``.wav`` or ``.flac``) into its fields.

    Args:
        path: A file path or bare file name; only the last component is read.

    Returns:
        The parsed :class:`ClipInfo`.

    Raises:
        ClipNameError: The name does not follow the scheme, a field is out of range, the
            modality is not audio-only, or the combination does not exist in RAVDESS
            (neutral with strong intensity, disgust or surprised sung, actor 18 sung).
    """
    name = Path(path).name
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in params.AUDIO_SUFFIXES:
        raise ClipNameError(
            f"{path}: extension {suffix!r} is not one of {', '.join(params.AUDIO_SUFFIXES)}"
        )
    match = _NAME_PATTERN.match(stem)
    if match is None:
        raise ClipNameError(
            f"{path}: name {stem!r} does not follow the RAVDESS scheme "
            "MM-VV-EE-II-SS-RR-AA (seven two-digit fields)"
        )
    codes = dict(zip(_FIELDS, (int(group) for group in match.groups())))
    for field, code in codes.items():
        domain = _DOMAINS[field]
        if code not in domain:
            allowed = ", ".join(f"{value:02d}" for value in domain)
            raise ClipNameError(f"{path}: {field} {code:02d} is out of range (one of {allowed})")
    info = ClipInfo(**codes)
    if info.modality != params.AUDIO_ONLY_MODALITY:
        raise ClipNameError(
            f"{path}: modality {info.modality:02d} ({params.MODALITIES[info.modality]}) is not "
            f"audio-only ({params.AUDIO_ONLY_MODALITY:02d})"
        )
    if info.emotion == params.NEUTRAL_EMOTION and info.intensity == params.STRONG_INTENSITY:
        raise ClipNameError(f"{path}: emotion 01 (neutral) has no strong intensity (02)")
    if info.vocal_channel == params.SONG_CHANNEL:
        if info.emotion in params.EMOTIONS_NOT_SUNG:
            raise ClipNameError(
                f"{path}: emotion {info.emotion:02d} ({info.emotion_name}) is not sung "
                "(vocal channel 02)"
            )
        if info.actor in params.ACTORS_NOT_SINGING:
            raise ClipNameError(f"{path}: actor {info.actor:02d} has no song (vocal channel 02)")
    return info


@dataclasses.dataclass(frozen=True)
class Survey:
    """What a source holds: the usable clips and every problem found.

    Attributes:
        clips: One row per usable clip, columns :data:`INVENTORY_COLUMNS`, in deterministic
            order (vocal channel code, actor, name).
        problems: One exception per file that cannot be used, in path order.
        roots: The folders that were scanned (a zip source is scanned where it was extracted).
    """

    clips: "pandas.DataFrame"
    problems: tuple[RavdessPrepError, ...]
    roots: tuple[Path, ...]


def survey(
    source: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> Survey:
    """Scan a source, collecting every clip and every problem without stopping at the first.

    Args:
        source: A folder (scanned at any depth), a ``.zip`` file, ``"zenodo"`` or ``None``
            (download the two audio-only archives), or a sequence of these.
        cache_dir: Where downloads and extracted zips go (see :func:`ravdess_prep.cache.cache_root`).
        progress: Show progress bars while downloading or extracting.

    Returns:
        A :class:`Survey`.

    Raises:
        SourceError: The source does not exist, is not usable, or holds no audio file.
        DownloadError: The download failed.
    """
    import pandas as pd
    import soundfile

    from .audio import empty_message, unreadable_message
    from .source import resolve_source

    roots = resolve_source(source, cache_dir=cache_dir, progress=progress)
    paths = [path for root in roots for path in _audio_files(root)]
    if not paths:
        where = ", ".join(str(root) for root in roots)
        raise SourceError(f"{where}: no {' or '.join(params.AUDIO_SUFFIXES)} file found")

    rows: list[dict] = []
    problems: list[RavdessPrepError] = []
    first_path: dict[str, Path] = {}
    for path in paths:
        try:
            info = parse_clip_name(path)
        except ClipNameError as error:
            problems.append(error)
            continue
        if info.clip_name in first_path:
            problems.append(
                DuplicateClipError(
                    f"{path}: clip name {info.clip_name} is already taken by {first_path[info.clip_name]}"
                )
            )
            continue
        try:
            audio = soundfile.info(str(path))
        except Exception as error:  # soundfile raises its own error types for unreadable files
            problems.append(SourceError(unreadable_message(path, error)))
            continue
        if audio.frames <= 0:
            problems.append(SourceError(empty_message(path)))
            continue
        first_path[info.clip_name] = path
        rows.append(
            {
                **info.as_row(),
                "path": str(path),
                "sample_rate_hz": int(audio.samplerate),
                "channels": int(audio.channels),
                "num_samples": int(audio.frames),
            }
        )
    clips = pd.DataFrame(rows, columns=list(INVENTORY_COLUMNS))
    clips = clips.sort_values(["vocal_channel_code", "actor", "clip_name"], kind="stable")
    return Survey(clips=clips.reset_index(drop=True), problems=tuple(problems), roots=tuple(roots))


def inventory(
    source: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = False,
) -> "pandas.DataFrame":
    """List every clip of a source with its metadata; any problem is an error.

    Args:
        source: See :func:`survey`.
        cache_dir: See :func:`survey`.
        progress: See :func:`survey`.

    Returns:
        A DataFrame, one row per clip, columns :data:`INVENTORY_COLUMNS`: ``clip_name`` (the
        bundle name), ``path``, every metadata field (codes and names), ``label`` (int),
        ``gender``, and the audio facts read from the file header (``sample_rate_hz``,
        ``channels``, ``num_samples``). Rows are ordered by vocal channel code, actor and name.

    Raises:
        ClipNameError: A file name is malformed (the first such file is named).
        DuplicateClipError: Two files map to one clip name (both paths are named).
        SourceError: The source is missing or empty, or a file is not readable audio.
    """
    result = survey(source, cache_dir=cache_dir, progress=progress)
    raise_for_problems(result)
    return result.clips


def raise_for_problems(result: Survey) -> None:
    """Raise the first problem of a survey (its own type), counting the others in the message."""
    if result.problems:
        first = result.problems[0]
        more = len(result.problems) - 1
        if more:
            raise type(first)(f"{first} (and {more} more problems; `ravdess-prep info` lists them)")
        raise first


def _audio_files(root: Path) -> Iterable[Path]:
    """Every ``.wav`` / ``.flac`` file under ``root`` in sorted order, skipping hidden entries."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(
            name for name in subfolders if not name.startswith(".") and name != "__MACOSX"
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in params.AUDIO_SUFFIXES:
                yield Path(folder) / name


def count_clips(clips: "pandas.DataFrame") -> dict[str, dict[str, int]]:
    """Clip counts by vocal channel, emotion, intensity, actor, gender, sample rate and channels.

    Args:
        clips: An inventory (see :func:`inventory`).

    Returns:
        ``{facet: {value: count}}``, values in the corpus's own order (emotions by code, actors
        as two-digit strings).
    """
    order = {
        "vocal_channel": ("vocal_channel_code", "vocal_channel"),
        "emotion": ("emotion_code", "emotion"),
        "intensity": ("intensity_code", "intensity"),
        "actor": ("actor", "actor"),
        "gender": ("gender", "gender"),
        "sample_rate_hz": ("sample_rate_hz", "sample_rate_hz"),
        "channels": ("channels", "channels"),
    }
    counts = {}
    for facet, (sort_key, column) in order.items():
        ordered = clips.sort_values(sort_key, kind="stable")[column]
        values = ordered.map(lambda value: f"{value:02d}" if facet == "actor" else str(value))
        counts[facet] = {str(key): int(value) for key, value in values.value_counts(sort=False).items()}
    return counts

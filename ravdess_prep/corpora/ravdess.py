"""RAVDESS, the Ryerson Audio-Visual Database of Emotional Speech and Song (audio-only part).

A RAVDESS audio file is named ``MM-VV-EE-II-SS-RR-AA.wav`` (or ``.flac`` in a lossless copy):
modality, vocal channel, emotion, intensity, statement, repetition, actor. Inside a bundle a
clip is named ``<channel>/Actor_<AA>/<stem>.wav`` whatever the source format. The actor is the
speaker; the label is the emotion code minus one. The two audio-only archives are downloaded
from Zenodo record 1188976, verified by size and MD5.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import requests

from ..exceptions import ClipNameError, DownloadError
from ..storage.cache import cache_root
from ..storage.download import USER_AGENT, fetch
from ..storage.folders import finished_folder
from .base import Corpus, match_name
from .protocols import EMOBOX_CITATION, Protocol, Regime
from .source import extract_zip
from .split import consecutive_folds, customary_split, leave_one_speaker_out_split

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

# --- The file-name scheme: MM-VV-EE-II-SS-RR-AA.ext --------------------------------------
MODALITIES = {1: "full-AV", 2: "video-only", 3: "audio-only"}
AUDIO_ONLY_MODALITY = 3
VOCAL_CHANNELS = {1: "speech", 2: "song"}
EMOTIONS = {1: "neutral", 2: "calm", 3: "happy", 4: "sad", 5: "angry", 6: "fearful", 7: "disgust", 8: "surprised"}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
REPETITIONS = (1, 2)
ACTORS = tuple(range(1, 25))

# Combinations the corpus does not contain.
NEUTRAL_EMOTION = 1
STRONG_INTENSITY = 2
SONG_CHANNEL = 2
EMOTIONS_NOT_SUNG = (7, 8)
ACTORS_NOT_SINGING = (18,)

# Emotion names in label order (label = emotion code - 1).
EMOTION_NAMES = tuple(EMOTIONS[code] for code in sorted(EMOTIONS))

# --- The Zenodo record (https://zenodo.org/records/1188976) -------------------------------
ZENODO = "zenodo"
ZENODO_FILES_URL = "https://zenodo.org/records/1188976/files"
ZENODO_RECORD_API_URL = "https://zenodo.org/api/records/1188976"
SPEECH_ARCHIVE = "Audio_Speech_Actors_01-24.zip"
SONG_ARCHIVE = "Audio_Song_Actors_01-24.zip"
# Pinned (size in bytes, MD5) per archive; None means "read it from the records API".
ARCHIVE_CHECKSUMS = {
    SPEECH_ARCHIVE: (208_468_073, "bc696df654c87fed845eb13823edef8a"),
    SONG_ARCHIVE: None,
}

# --- The original project's split (actor-disjoint) ---------------------------------------
DEV_ACTORS = (8, 19, 24)
TEST_ACTORS = (11, 14, 15)

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

_NAME_PATTERN = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_FIELDS = ("modality", "vocal_channel", "emotion", "intensity", "statement", "repetition", "actor")
_DOMAINS = {
    "modality": MODALITIES,
    "vocal_channel": VOCAL_CHANNELS,
    "emotion": EMOTIONS,
    "intensity": INTENSITIES,
    "statement": STATEMENTS,
    "repetition": REPETITIONS,
    "actor": ACTORS,
}


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
        return VOCAL_CHANNELS[self.vocal_channel]

    @property
    def emotion_name(self) -> str:
        return EMOTIONS[self.emotion]

    @property
    def intensity_name(self) -> str:
        return INTENSITIES[self.intensity]

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
    _, match = match_name(path, _NAME_PATTERN, scheme="RAVDESS scheme MM-VV-EE-II-SS-RR-AA (seven two-digit fields)")
    codes = dict(zip(_FIELDS, (int(group) for group in match.groups())))
    for field, code in codes.items():
        domain = _DOMAINS[field]
        if code not in domain:
            allowed = ", ".join(f"{value:02d}" for value in domain)
            raise ClipNameError(f"{path}: {field} {code:02d} is out of range (one of {allowed})")
    info = ClipInfo(**codes)
    if info.modality != AUDIO_ONLY_MODALITY:
        raise ClipNameError(
            f"{path}: modality {info.modality:02d} ({MODALITIES[info.modality]}) is not "
            f"audio-only ({AUDIO_ONLY_MODALITY:02d})"
        )
    if info.emotion == NEUTRAL_EMOTION and info.intensity == STRONG_INTENSITY:
        raise ClipNameError(f"{path}: emotion 01 (neutral) has no strong intensity (02)")
    if info.vocal_channel == SONG_CHANNEL:
        if info.emotion in EMOTIONS_NOT_SUNG:
            raise ClipNameError(
                f"{path}: emotion {info.emotion:02d} ({info.emotion_name}) is not sung "
                "(vocal channel 02)"
            )
        if info.actor in ACTORS_NOT_SINGING:
            raise ClipNameError(f"{path}: actor {info.actor:02d} has no song (vocal channel 02)")
    return info


def clip_names(vocal_channels: Sequence[int] = tuple(VOCAL_CHANNELS)) -> tuple[str, ...]:
    """The bundle name of every clip of the complete audio-only corpus on these vocal channels
    (1440 of speech, 1012 of song), in no particular order."""
    names = []
    for channel in vocal_channels:
        for emotion in EMOTIONS:
            for intensity in INTENSITIES:
                for statement in STATEMENTS:
                    for repetition in REPETITIONS:
                        for actor in ACTORS:
                            info = ClipInfo(AUDIO_ONLY_MODALITY, channel, emotion, intensity, statement, repetition,
                                            actor)
                            try:
                                names.append(parse_clip_name(info.stem + ".wav").clip_name)
                            except ClipNameError:  # a combination the corpus does not have
                                continue
    return tuple(names)


# --- Published evaluation protocols (see ravdess_prep.corpora.protocols) --------------------------
_SPEECH = {"vocal_channel": ("speech",)}
EMOBOX = Protocol(
    "emobox", "ravdess", "EmoBox's RAVDESS protocol: speech only, 8 emotions, 6 folds of 4 actors",
    EMOBOX_CITATION,
    _SPEECH, EMOTION_NAMES,
    test_folds=((1, 11, 20, 21), (4, 10, 12, 14), (8, 9, 19, 23), (3, 5, 7, 24), (2, 15, 16, 18), (6, 13, 17, 22)),
    differences="EmoBox validates on a random fifth of each fold's training clips and does not train again; here "
                "a fold's dev speakers are the next fold's test speakers, so dev is speaker-disjoint too, and the "
                "model is then trained on train and dev together.",
    published=Regime("as published", "random", False, 0.2,
                     "EmoBox's: a seeded random fifth of each fold's training clips as dev (whatever their speaker), "
                     "the model trained on the other four fifths, not trained again"),
    expected_clips=lambda: clip_names((1,)))
PEPINO2021 = Protocol(
    "pepino2021", "ravdess", "Pepino, Riera and Ferrer's RAVDESS protocol: speech and song, calm merged into "
    "neutral (7 classes), train 01-20, dev 21-22, test 23-24",
    "Pepino L, Riera P, Ferrer L (2021) Emotion Recognition from Speech Using wav2vec 2.0 Embeddings. Proc. "
    "Interspeech 2021. arXiv:2104.03502",
    {"vocal_channel": ("speech", "song")}, tuple(name for name in EMOTION_NAMES if name != "calm"),
    label_map={"calm": "neutral"}, test_folds=((23, 24),), dev_folds=((21, 22),), all_speakers=ACTORS,
    differences="Pepino et al. train on actors 01-20 alone; here the model is trained again on 01-22 once the "
                "choices are made on 21-22.",
    published=Regime("as published", "speakers", False,
                     summary="Pepino et al.'s: trained on actors 01-20, choices made on 21-22, not trained again"),
    expected_clips=lambda: clip_names((1, 2)))
LUNA2022 = Protocol(
    "luna2022", "ravdess", "Luna-Jimenez et al.'s RAVDESS protocol: speech only, 8 emotions, 5 speaker folds",
    "Luna-Jimenez C, Kleinlein R, Griol D, Callejas Z, Montero JM, Fernandez-Martinez F (2022) A Proposal for "
    "Multimodal Emotion Recognition Using Aural Transformers and Action Units on RAVDESS Dataset. Applied Sciences "
    "12(1): 327. https://doi.org/10.3390/app12010327",
    _SPEECH, EMOTION_NAMES,
    test_folds=((2, 5, 14, 15, 16), (3, 6, 7, 13, 18), (10, 11, 12, 19, 20), (8, 17, 21, 23, 24), (1, 4, 9, 22)),
    differences="The paper specifies the five subject-wise folds, not a validation split; here a "
                "fold's dev speakers are the next fold's test speakers, and the model is then trained on train and "
                "dev together.",
    published=Regime("as published", "none", False,
                      summary="the closest documented choice for Luna-Jimenez et al.: trained on the other four "
                      "folds' actors with no dev split (the folds are all the protocol specifies), so the head's "
                      "choices take their fallbacks, not trained again"),
    expected_clips=lambda: clip_names((1,)))
PROTOCOLS = {protocol.name: protocol for protocol in (EMOBOX, PEPINO2021, LUNA2022)}


class RAVDESS(Corpus):
    """The RAVDESS audio-only corpus: speech and song, 24 actors, 8 emotions."""

    name = "ravdess"
    title = "The Ryerson Audio-Visual Database of Emotional Speech and Song (RAVDESS), audio-only"
    columns = INVENTORY_COLUMNS
    speaker_column = "actor"
    label_column = "label"
    label_names = EMOTION_NAMES
    sort_columns = ("vocal_channel_code", "actor", "clip_name")
    facet_columns = ("intensity", "vocal_channel")
    card_columns = ("emotion", "gender", "vocal_channel")
    text_column = "statement"
    count_columns = {
        "vocal_channel": ("vocal_channel_code", "vocal_channel"),
        "emotion": ("emotion_code", "emotion"),
        "intensity": ("intensity_code", "intensity"),
        "actor": ("actor", "actor"),
        "gender": ("gender", "gender"),
    }
    speakers = ACTORS
    default_dev_speakers = DEV_ACTORS
    default_test_speakers = TEST_ACTORS
    split_presets = {
        "original": customary_split("original"),  # the original project's: dev 08, 19, 24; test 11, 14, 15
        "folds6": consecutive_folds("folds6", 6),  # 01-04 ... 21-24, each two male and two female actors
        "loso": leave_one_speaker_out_split("loso"),
        **{name: protocol.split_preset() for name, protocol in PROTOCOLS.items()},
    }
    protocols = PROTOCOLS
    download_names = (ZENODO,)
    # actor 07's happy, normal-intensity "Dogs are sitting by the door": both takes are one file
    published_duplicates = (frozenset({"speech/Actor_07/03-01-03-01-02-01-07.wav",
                                       "speech/Actor_07/03-01-03-01-02-02-07.wav"}),)
    license = {"name": "CC BY-NC-SA 4.0", "url": "https://creativecommons.org/licenses/by-nc-sa/4.0/"}
    citation = ("Livingstone SR, Russo FA (2018) The Ryerson Audio-Visual Database of Emotional Speech and Song "
                "(RAVDESS): A dynamic, multimodal set of facial and vocal expressions in North American English. "
                "PLoS ONE 13(5): e0196391. https://doi.org/10.1371/journal.pone.0196391 (Zenodo record 1188976)")

    def parse_name(self, path: str | os.PathLike) -> dict:
        return parse_clip_name(path).as_row()

    def download(self, *, dest: str | os.PathLike | None = None, files_url: str | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True, api_url: str | None = None,
                 keep_archives: bool = False) -> list[Path]:
        """Fetch the audio-only archives, verified, and extract them (see :func:`download_ravdess`;
        ``api_url``: the records API that publishes their checksums; ``keep_archives``: keep the
        zip files)."""
        return download_ravdess(dest, files_url=files_url or ZENODO_FILES_URL, api_url=api_url or ZENODO_RECORD_API_URL,
                                cache_dir=cache_dir, keep_archives=keep_archives, progress=progress)


def inventory(source=None, *, cache_dir: str | os.PathLike | None = None, progress: bool = False) -> "pandas.DataFrame":
    """The RAVDESS inventory of a source (see :meth:`ravdess_prep.corpora.base.Corpus.inventory`):
    one row per clip, columns :data:`INVENTORY_COLUMNS`, ordered by vocal channel, actor and name."""
    return RAVDESS().inventory(source, cache_dir=cache_dir, progress=progress)


def ravdess_record(api_url: str = ZENODO_RECORD_API_URL, *, timeout_seconds: float = 60.0) -> dict:
    """Sizes and MD5s of the files of the RAVDESS Zenodo record, from Zenodo's records API.

    Returns:
        ``{file name: (size in bytes, md5 hex)}``.

    Raises:
        DownloadError: The API could not be reached or answered something unexpected.
    """
    try:
        reply = requests.get(api_url, timeout=timeout_seconds, headers={"User-Agent": USER_AGENT})
        reply.raise_for_status()
        record = reply.json()
        files = {}
        for entry in record["files"]:
            algorithm, _, digest = entry["checksum"].partition(":")
            if algorithm == "md5":
                files[entry["key"]] = (int(entry["size"]), digest)
        return files
    except (requests.RequestException, ValueError, KeyError, TypeError) as error:
        raise DownloadError(f"{api_url}: cannot read the record's file checksums ({error!r})") from None


def download_ravdess(
    dest: str | os.PathLike | None = None,
    *,
    archives: Sequence[str] = (SPEECH_ARCHIVE, SONG_ARCHIVE),
    checksums: Mapping[str, tuple[int, str] | None] | None = None,
    files_url: str = ZENODO_FILES_URL,
    api_url: str = ZENODO_RECORD_API_URL,
    cache_dir: str | os.PathLike | None = None,
    keep_archives: bool = False,
    retries: int = 5,
    backoff_seconds: float = 1.0,
    progress: bool = True,
) -> list[Path]:
    """Download and extract the RAVDESS audio-only archives; skip what is already in place.

    Each archive ``<stem>.zip`` is fetched to ``<dest>/downloads/``, verified by size and MD5
    (the speech archive's are pinned; the song archive's come from the records API at
    ``api_url``), extracted into a temporary folder and renamed to ``<dest>/<stem>/``, which
    then holds ``Actor_XX/*.wav`` and a record of the verified archive. An archive whose
    folder is already in place costs no request.

    Args:
        dest: Target folder; default ``<cache root>/ravdess``.
        archives: Which archive names to fetch.
        checksums: ``{name: (size in bytes, md5)}`` pinned per archive; a name mapped to None
            or absent is looked up in the records API. Default: :data:`ARCHIVE_CHECKSUMS`.
        files_url: Base URL of the files (``<files_url>/<name>?download=1``); a mirror may be given.
        api_url: The records API URL that publishes sizes and checksums.
        cache_dir: Cache root used when ``dest`` is None.
        keep_archives: Keep the zip files after extraction.
        retries: See :func:`fetch`.
        backoff_seconds: See :func:`fetch`.
        progress: Show progress bars.

    Returns:
        The extracted folders, one per archive.

    Raises:
        DownloadError: A transfer or the records API failed.
        ChecksumError: An archive differs from the published one (nothing is extracted).
        SourceError: An archive is not a valid RAVDESS zip.
    """
    dest = Path(dest) if dest is not None else cache_root(cache_dir) / "ravdess"
    checksums = ARCHIVE_CHECKSUMS if checksums is None else checksums
    record = None
    folders = []
    for name in archives:
        folder = dest / Path(name).stem
        folders.append(folder)
        if finished_folder(folder):
            continue
        pinned = checksums.get(name)
        if pinned is None:
            if record is None:
                record = ravdess_record(api_url)
            if name not in record:
                raise DownloadError(f"{api_url}: the record lists no file named {name}")
            pinned = record[name]
        size_bytes, md5 = pinned
        archive = fetch(
            f"{files_url.rstrip('/')}/{name}?download=1",
            dest / "downloads" / name,
            size_bytes=size_bytes,
            md5=md5,
            retries=retries,
            backoff_seconds=backoff_seconds,
            progress=progress,
        )
        extract_zip(archive, folder, record={"archive": name, "size_bytes": size_bytes, "md5": md5}, progress=progress)
        if not keep_archives:
            archive.unlink()
    return folders


"""CREMA-D, the Crowd-sourced Emotional Multimodal Actors Dataset (Cao et al., IEEE Transactions
on Affective Computing 5(4), 2014), its audio.

7442 clips of 91 actors (ids 1001-1091; 48 male, 43 female) speaking 12 sentences in 6 emotions,
at 16 kHz. A file is named ``AAAA_SSS_EEE_II.wav``: actor, sentence, emotion, intensity, e.g.
``1001_DFA_ANG_XX.wav`` is actor 1001 saying "Don't forget a jacket" in anger, intensity
unspecified. The actor is the speaker column; the label is the emotion's position in
:data:`EMOTION_CODES`. The actors' age and sex come from the corpus's ``VideoDemographics.csv``,
shipped with this module (``cremad_actors.csv``, ODbL 1.0 as the corpus).

The audio is published in Git LFS in the repository CheyneyComputerScience/CREMA-D; the
download fetches its ``AudioWAV/`` folder file by file and verifies every file by the size and
SHA-256 of the repository's LFS pointers, shipped as ``cremad_files.csv``.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
from importlib import resources
from pathlib import Path

from ..exceptions import ClipNameError
from ..storage.cache import cache_root
from ..storage.download import fetch_folder
from .base import Corpus, match_name
from .protocols import EMOBOX_CITATION, Protocol, emobox_file_regime
from .split import SplitPreset, customary_split, leave_one_speaker_out_split, speaker_groups

#: The emotion codes and the emotions, in label order.
EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
EMOTION_CODES = tuple(EMOTIONS)
EMOTION_NAMES = tuple(EMOTIONS.values())
#: Each emotion's canonical name (see :mod:`ravdess_prep.corpora.emotions`), in label order.
CANONICAL_NAMES = ("angry", "disgust", "fearful", "happy", "neutral", "sad")
#: The intensity codes (only the sentence IEO has low, medium and high versions).
INTENSITIES = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified"}
#: The sentences recorded at low, medium and high intensity (every other one only as XX).
LEVELLED_SENTENCES = ("IEO",)
#: The twelve sentences by code, as the corpus's documentation gives them.
SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened", "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about", "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold", "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment", "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before", "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
ACTORS = tuple(range(1001, 1092))
#: The folds of the ``folds5`` preset: the male actors in id order dealt to folds 1, 2, ... 5
#: in turn, then the female actors, continuing where the males stopped (sizes 19, 18, 18,
#: 18, 18; each fold 8 or 9 women and 9 or 10 men).
FOLDS = 5

# --- The repository (audio in Git LFS) -----------------------------------------------------
REPOSITORY = "CheyneyComputerScience/CREMA-D"
COMMIT = "1658cd342dff90010aa843eaeebd53610a08b1dc"
FILES_URL = f"https://media.githubusercontent.com/media/{REPOSITORY}/{COMMIT}"
AUDIO_FOLDER = "AudioWAV"

INVENTORY_COLUMNS = ("clip_name", "path", "speaker", "gender", "age", "sentence", "emotion", "emotion_code", "label",
                     "intensity", "intensity_code", "sample_rate_hz", "channels", "num_samples")

_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")


@functools.cache
def actors() -> dict[int, tuple[str, int]]:
    """``{actor: (sex, age)}`` from the shipped demographics table (sex in lower case)."""
    text = resources.files(__package__).joinpath("cremad_actors.csv").read_text(encoding="utf-8")
    return {int(row["ActorID"]): (row["Sex"].lower(), int(row["Age"])) for row in csv.DictReader(io.StringIO(text))}


@functools.cache
def published_files() -> dict[str, tuple[int, str]]:
    """``{file name: (size in bytes, sha256)}`` of every file of the repository's ``AudioWAV/``."""
    text = resources.files(__package__).joinpath("cremad_files.csv").read_text(encoding="utf-8")
    return {row["path"].rpartition("/")[2]: (int(row["size"]), row["sha256"])
            for row in csv.DictReader(io.StringIO(text))}


@functools.cache
def published_duplicates() -> tuple[frozenset[str], ...]:
    """Sets of file names that :func:`published_files` gives one SHA-256."""
    names: dict[str, set[str]] = {}
    for name, (_, sha256) in published_files().items():
        names.setdefault(sha256, set()).add(name)
    return tuple(frozenset(group) for group in names.values() if len(group) > 1)


def fold_groups() -> list[tuple[int, ...]]:
    """The actors of each fold of ``folds5`` (see :data:`FOLDS`)."""
    groups: list[list[int]] = [[] for _ in range(FOLDS)]
    dealt = 0
    for sex in ("male", "female"):
        for actor, (actor_sex, _) in sorted(actors().items()):
            if actor_sex == sex:
                groups[dealt % FOLDS].append(actor)
                dealt += 1
    return [tuple(sorted(group)) for group in groups]


def parse_cremad_name(path: str | os.PathLike) -> dict:
    """The metadata a CREMA-D file name carries (only its last component is read).

    Raises:
        ClipNameError: The name does not follow the scheme, or names an actor, sentence,
            emotion or intensity the corpus does not have; the message names the file and the
            field.
    """
    stem, match = match_name(path, _NAME, scheme="CREMA-D scheme AAAA_SSS_EEE_II (actor, sentence, emotion, "
                                                 "intensity; e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, intensity = int(match[1]), match[2], match[3], match[4]
    known = actors()
    if actor not in known:
        raise ClipNameError(f"{path}: actor {actor} is not a CREMA-D actor ({min(known)}-{max(known)})")
    if sentence not in SENTENCES:
        raise ClipNameError(f"{path}: sentence {sentence!r} is not a CREMA-D sentence ({', '.join(SENTENCES)})")
    if emotion not in EMOTIONS:
        raise ClipNameError(f"{path}: emotion {emotion!r} is not one of CREMA-D's ({', '.join(EMOTIONS)})")
    if intensity not in INTENSITIES:
        raise ClipNameError(f"{path}: intensity {intensity!r} is not one of CREMA-D's ({', '.join(INTENSITIES)})")
    if intensity != "XX" and sentence not in LEVELLED_SENTENCES:
        raise ClipNameError(f"{path}: intensity {intensity!r} of sentence {sentence!r}, which CREMA-D has only "
                            f"unspecified (XX); only {', '.join(LEVELLED_SENTENCES)} has low, medium and high versions")
    sex, age = known[actor]
    return {"clip_name": f"{stem}.wav", "speaker": actor, "gender": sex, "age": age, "sentence": sentence,
            "emotion": EMOTIONS[emotion], "emotion_code": emotion, "label": EMOTION_CODES.index(emotion),
            "intensity": INTENSITIES[intensity], "intensity_code": intensity}


def download_cremad(dest: str | os.PathLike | None = None, *, files_url: str = FILES_URL,
                    files: dict[str, tuple[int, str]] | None = None, cache_dir: str | os.PathLike | None = None,
                    workers: int = 8, retries: int = 5, backoff_seconds: float = 1.0,
                    progress: bool = True) -> list[Path]:
    """Download CREMA-D's ``AudioWAV/`` into ``<dest>/AudioWAV``, every file verified.

    Each file is fetched from ``<files_url>/AudioWAV/<name>`` and checked against its size and
    SHA-256 (see :func:`ravdess_prep.storage.download.fetch_folder`: resumable, and the folder appears
    only once every file is verified).

    Args:
        dest: Target folder; default ``<cache root>/cremad``.
        files_url: Base URL of the files (default: the repository's LFS media at its pinned
            commit); a mirror may be given.
        files: ``{name: (size in bytes, sha256)}`` (default :func:`published_files`).
        cache_dir: Cache root used when ``dest`` is None.
        workers: Transfers at a time.
        retries: See :func:`ravdess_prep.storage.download.fetch`.
        backoff_seconds: See :func:`ravdess_prep.storage.download.fetch`.
        progress: Show a progress bar.

    Returns:
        ``[<dest>/AudioWAV]``.

    Raises:
        DownloadError: A file could not be fetched (each failure counted, the first named).
        ChecksumError: A file differs from the published one.
        SourceError: ``<dest>/AudioWAV`` exists and was not written by this library.
    """
    dest = Path(dest) if dest is not None else cache_root(cache_dir) / "cremad"
    files = published_files() if files is None else files
    base = files_url.rstrip("/")
    wanted = {name: (f"{base}/{AUDIO_FOLDER}/{name}", size, sha256) for name, (size, sha256) in files.items()}
    folder = fetch_folder(wanted, dest / AUDIO_FOLDER, record={"repository": REPOSITORY, "commit": COMMIT,
                                                               "files_url": base},
                          workers=workers, retries=retries, backoff_seconds=backoff_seconds, progress=progress)
    return [folder]


def fixed_split() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ``original`` split's (dev, test) actors: the fourth and fifth groups of ``folds5``."""
    groups = fold_groups()
    return groups[3], groups[4]


def emobox_fold() -> tuple[frozenset[str], ...]:
    """EmoBox's one CREMA-D test fold, as its data files list it (shipped as
    ``emobox_cremad_test.csv``: the 1856 test files; the other 5586 train)."""
    text = resources.files(__package__).joinpath("emobox_cremad_test.csv").read_text(encoding="utf-8")
    return (frozenset(row["file"] for row in csv.DictReader(io.StringIO(text))),)


#: EmoBox's CREMA-D protocol: every file, 6 emotions, one fold of 1856 test files.
EMOBOX = Protocol(
    "emobox", "cremad", "EmoBox's CREMA-D protocol: 6 emotions, one fold of 1856 test files, every actor on both "
    "sides (speaker-dependent)", EMOBOX_CITATION, {}, EMOTION_NAMES, test_folds=(), all_speakers=ACTORS,
    differences="EmoBox's fold is a list of files with every actor on both sides (speaker-dependent: a test "
                "actor's other clips are trained on). No speaker-disjoint dev exists, so the library runs it in "
                "EmoBox's regime too; the corpus's speaker-independent presets (folds5, loso, original) are the "
                "alternative.",
    published=emobox_file_regime(), expected_clips=lambda: sorted(published_files()), clip_folds=emobox_fold,
    speaker_dependent=True)


class CremaD(Corpus):
    """CREMA-D's audio (see the module docstring)."""

    name = "cremad"
    title = "CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset"
    columns = INVENTORY_COLUMNS
    label_names = EMOTION_NAMES
    canonical_names = CANONICAL_NAMES
    sort_columns = ("speaker", "clip_name")
    facet_columns = ("intensity", "gender")
    card_columns = ("emotion", "gender", "intensity")
    text_column = "sentence"
    count_columns = {
        "emotion": ("label", "emotion"),
        "actor": ("speaker", "speaker"),
        "gender": ("gender", "gender"),
        "sentence": ("sentence", "sentence"),
        "intensity": ("intensity_code", "intensity"),
    }
    speakers = ACTORS
    protocols = {"emobox": EMOBOX}
    download_names = ("github",)
    language = "en"
    license = {"name": "ODbL 1.0 (contents: DbCL 1.0)", "url": "https://opendatacommons.org/licenses/odbl/1-0/"}
    citation = ("Cao H, Cooper DG, Keutmann MK, Gur RC, Nenkova A, Verma R (2014) CREMA-D: Crowd-sourced "
                "Emotional Multimodal Actors Dataset. IEEE Transactions on Affective Computing 5(4): 377-390. "
                "https://doi.org/10.1109/TAFFC.2014.2336244")

    @property
    def default_dev_speakers(self) -> tuple[int, ...]:
        return fixed_split()[0]

    @property
    def default_test_speakers(self) -> tuple[int, ...]:
        return fixed_split()[1]

    @property
    def split_presets(self) -> dict[str, SplitPreset]:
        return {
            "original": customary_split("original"),  # dev: folds5's group 4, test: its group 5 (18 actors each)
            "folds5": speaker_groups("folds5", fold_groups(), "5 folds of actors balanced by sex: fold K test, "
                                     "fold K+1 dev"),
            "loso": leave_one_speaker_out_split("loso"),
        }

    def parse_name(self, path: str | os.PathLike) -> dict:
        return parse_cremad_name(path)

    def published_files(self) -> dict[str, tuple[int, str]]:
        return published_files()

    @property
    def published_duplicates(self) -> tuple[frozenset[str], ...]:
        """The files the published list gives one SHA-256 under two names (three pairs, each
        labelled with two emotions: 1006_TIE_HAP/NEU, 1013_WSI_DIS/SAD, 1017_IWW_ANG/FEA)."""
        return published_duplicates()

    def download(self, *, dest: str | os.PathLike | None = None, files_url: str | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> list[Path]:
        return download_cremad(dest, files_url=files_url or FILES_URL, cache_dir=cache_dir, progress=progress)

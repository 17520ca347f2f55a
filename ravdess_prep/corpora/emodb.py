"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al., Interspeech 2005).

535 utterances of 10 actors (five female, five male) speaking 10 German sentences in 7
emotions, at 16 kHz. A file is named ``SSTTTEV.wav``: speaker (two digits), text (``a01`` ...
``b10``), emotion (one letter of the German name), version (a letter), e.g. ``03a01Fa.wav`` is
speaker 03, text a01, happiness (Freude), version a. The speaker is the speaker column; the
label is the emotion's position in :data:`EMOTION_NAMES`. The source is the corpus's ``wav/``
folder (or a zip of it), read at its own rate, or the site's ``download.zip``. The site
publishes no checksum, so a download is checked by what it holds: the corpus's 535 utterances
of its 10 speakers, as many of each emotion as its documentation counts.
"""

from __future__ import annotations

import csv
import io
import os
import re
import zipfile
from collections import Counter
from importlib import resources
from pathlib import Path, PurePosixPath

from ..exceptions import ChecksumError, ClipNameError, SourceError
from ..storage.cache import cache_root
from ..storage.digest import file_digest
from ..storage.download import fetch
from ..storage.folders import finished_folder
from .base import Corpus, match_name
from .protocols import EMOBOX_CITATION, Protocol, emobox_file_regime
from .source import extract_zip
from .split import customary_split, leave_one_speaker_out_split

#: The emotion letters (of the German names) and the emotions, in label order.
EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
            "N": "neutral"}
EMOTION_NAMES = tuple(EMOTIONS.values())
#: Each emotion's canonical name (see :mod:`ravdess_prep.corpora.emotions`), in label order.
CANONICAL_NAMES = ("angry", "boredom", "disgust", "fearful", "happy", "sad", "neutral")
#: The speakers, with their sex and age at recording, as the corpus's documentation gives them.
SPEAKERS = {3: ("male", 31), 8: ("female", 34), 9: ("female", 21), 10: ("male", 32), 11: ("male", 26),
            12: ("male", 30), 13: ("female", 32), 14: ("female", 35), 15: ("male", 25), 16: ("female", 31)}
#: The ten sentences' codes.
TEXTS = ("a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10")
#: The fixed speaker-disjoint split ("original"): a female and a male speaker each for dev and
#: test, the first of each in the speakers' order; the six others (three of each) train.
DEV_SPEAKERS = (9, 10)
TEST_SPEAKERS = (3, 8)

#: Utterances per emotion letter, as the corpus's documentation counts them (535 in all).
EMOTION_COUNTS = {"W": 127, "L": 81, "E": 46, "A": 69, "F": 71, "T": 62, "N": 79}
#: Where the corpus's site publishes its archive.
SITE_URL = "http://emodb.bilderbar.info/download"
ARCHIVE = "download.zip"

INVENTORY_COLUMNS = ("clip_name", "path", "speaker", "gender", "age", "text", "emotion", "emotion_code", "label",
                     "version", "sample_rate_hz", "channels", "num_samples")

_NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")


def parse_emodb_name(path: str | os.PathLike) -> dict:
    """The metadata an EmoDB file name carries (only its last component is read).

    Raises:
        ClipNameError: The name does not follow the scheme, or names a speaker, text or
            emotion the corpus does not have; the message names the file and the field.
    """
    stem, match = match_name(path, _NAME, scheme="EmoDB scheme SSTTTEV (speaker, text, emotion letter, version; "
                                                 "e.g. 03a01Fa)")
    speaker, text, letter, version = int(match[1]), match[2], match[3], match[4]
    if speaker not in SPEAKERS:
        raise ClipNameError(f"{path}: speaker {speaker:02d} is not an EmoDB speaker "
                            f"({', '.join(f'{known:02d}' for known in SPEAKERS)})")
    if text not in TEXTS:
        raise ClipNameError(f"{path}: text {text!r} is not an EmoDB sentence ({', '.join(TEXTS)})")
    if letter not in EMOTIONS:
        raise ClipNameError(f"{path}: emotion letter {letter!r} is not one of EmoDB's "
                            f"({', '.join(f'{code} {emotion}' for code, emotion in EMOTIONS.items())})")
    gender, age = SPEAKERS[speaker]
    return {"clip_name": f"{stem}.wav", "speaker": speaker, "gender": gender, "age": age, "text": text,
            "emotion": EMOTIONS[letter], "emotion_code": letter, "label": EMOTION_NAMES.index(EMOTIONS[letter]),
            "version": version}


def archive_problem(archive: str | os.PathLike) -> str | None:
    """How a zip differs from the corpus (not every utterance, or other counts), or None.

    Raises:
        SourceError: The zip is not readable.
    """
    try:
        with zipfile.ZipFile(archive) as bundle:
            names = [PurePosixPath(info.filename).name for info in bundle.infolist()
                     if not info.is_dir() and info.filename.lower().endswith(".wav")
                     and "__MACOSX" not in info.filename]
    except (zipfile.BadZipFile, OSError) as error:
        raise SourceError(f"{archive}: not a valid zip file ({error})") from None
    rows = []
    for name in names:
        try:
            rows.append(parse_emodb_name(name))
        except ClipNameError as error:
            return f"it holds a file that is not an EmoDB utterance ({error})"
    if len({row["clip_name"] for row in rows}) != len(rows):
        return "it holds an utterance twice"
    counts = Counter(row["emotion_code"] for row in rows)
    if counts != Counter(EMOTION_COUNTS):  # equal counts per emotion: the 535 utterances
        found = ", ".join(f"{letter} {counts.get(letter, 0)}" for letter in EMOTION_COUNTS)
        expected = ", ".join(f"{letter} {count}" for letter, count in EMOTION_COUNTS.items())
        return f"it holds {len(rows)} utterances ({found}), the corpus {sum(EMOTION_COUNTS.values())} ({expected})"
    speakers = {row["speaker"] for row in rows}
    if speakers != set(SPEAKERS):
        return f"it holds utterances of {len(speakers)} speakers, the corpus of {len(SPEAKERS)}"
    return None


def download_emodb(dest: str | os.PathLike | None = None, *, files_url: str = SITE_URL,
                   cache_dir: str | os.PathLike | None = None, keep_archive: bool = False, retries: int = 5,
                   backoff_seconds: float = 1.0, progress: bool = True) -> list[Path]:
    """Download the site's ``download.zip`` and extract its ``wav/`` files into
    ``<dest>/download``; skip what is already in place.

    The archive is fetched to ``<dest>/downloads/`` (resumable), checked by what it holds
    (:func:`archive_problem`: the site publishes no checksum), and extracted into a temporary
    folder renamed into place, whose record keeps the archive's size, MD5 and SHA-256.

    Args:
        dest: Target folder; default ``<cache root>/emodb``.
        files_url: Base URL of the archive (``<files_url>/download.zip``); a mirror may be given.
        cache_dir: Cache root used when ``dest`` is None.
        keep_archive: Keep the zip file after extraction.
        retries: See :func:`ravdess_prep.storage.download.fetch`.
        backoff_seconds: See :func:`ravdess_prep.storage.download.fetch`.
        progress: Show progress bars.

    Returns:
        ``[<dest>/download]``.

    Raises:
        DownloadError: The transfer failed.
        ChecksumError: The archive is not the corpus (it is deleted; nothing is extracted).
        SourceError: The folder exists and was not written by this library, or no longer
            matches its record.
    """
    dest = Path(dest) if dest is not None else cache_root(cache_dir) / "emodb"
    folder = dest / Path(ARCHIVE).stem
    if finished_folder(folder):
        return [folder]
    url = f"{files_url.rstrip('/')}/{ARCHIVE}"
    archive = fetch(url, dest / "downloads" / ARCHIVE, retries=retries, backoff_seconds=backoff_seconds,
                    progress=progress)
    problem = archive_problem(archive)
    if problem is not None:
        archive.unlink()
        raise ChecksumError(f"{archive} (from {url}): {problem}. The download was deleted and nothing was "
                            "extracted; the site or mirror serves another file")
    extract_zip(archive, folder, record={"archive": ARCHIVE, "url": url, "size_bytes": archive.stat().st_size,
                                         "md5": file_digest(archive, "md5"),
                                         "sha256": file_digest(archive, "sha256")}, progress=progress)
    if not keep_archive:
        archive.unlink()
    return [folder]


def emobox_folds() -> tuple[frozenset[str], ...]:
    """EmoBox's five EmoDB test folds, as its data files list them (shipped as
    ``emobox_emodb_folds.csv``: each file and the fold that tests it)."""
    text = resources.files(__package__).joinpath("emobox_emodb_folds.csv").read_text(encoding="utf-8")
    folds: dict[int, set[str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        folds.setdefault(int(row["test_fold"]), set()).add(row["file"])
    return tuple(frozenset(folds[fold]) for fold in sorted(folds))


#: EmoBox's EmoDB protocol: every file, 7 emotions, 5 folds of 107 files each.
EMOBOX = Protocol(
    "emobox", "emodb", "EmoBox's EmoDB protocol: 7 emotions, 5 folds of 107 files, every speaker in every fold "
    "(speaker-dependent)", EMOBOX_CITATION, {}, EMOTION_NAMES, test_folds=(), all_speakers=tuple(SPEAKERS),
    differences="EmoBox's folds are lists of files with every speaker in every test fold (speaker-dependent: "
                "a test speaker's other clips are trained on). No speaker-disjoint dev exists, so the library runs "
                "them in EmoBox's regime too; the corpus's speaker-independent presets (loso, original) are the "
                "alternative.",
    published=emobox_file_regime(), expected_clips=lambda: sorted(set().union(*emobox_folds())),
    clip_folds=emobox_folds, speaker_dependent=True)


class EmoDB(Corpus):
    """The Berlin Database of Emotional Speech (see the module docstring)."""

    name = "emodb"
    title = "The Berlin Database of Emotional Speech (EmoDB)"
    columns = INVENTORY_COLUMNS
    speaker_column = "speaker"
    label_column = "label"
    label_names = EMOTION_NAMES
    canonical_names = CANONICAL_NAMES
    sort_columns = ("speaker", "clip_name")
    facet_columns = ("gender",)
    card_columns = ("emotion", "gender")
    text_column = "text"
    count_columns = {
        "emotion": ("label", "emotion"),
        "speaker": ("speaker", "speaker"),
        "gender": ("gender", "gender"),
        "text": ("text", "text"),
    }
    speakers = tuple(SPEAKERS)
    default_dev_speakers = DEV_SPEAKERS
    default_test_speakers = TEST_SPEAKERS
    split_presets = {
        "original": customary_split("original"),  # dev 09, 10; test 03, 08 (a female and a male speaker each)
        "loso": leave_one_speaker_out_split("loso"),
    }
    protocols = {"emobox": EMOBOX}
    language = "de"
    license = {"name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}  # as audb publishes it
    citation = ("Burkhardt F, Paeschke A, Rolfes M, Sendlmeier W, Weiss B (2005) A Database of German Emotional "
                "Speech. Proc. Interspeech 2005, 1517-1520. https://doi.org/10.21437/Interspeech.2005-446")

    download_names = ("site",)

    def parse_name(self, path: str | os.PathLike) -> dict:
        return parse_emodb_name(path)

    def download(self, *, dest: str | os.PathLike | None = None, files_url: str | None = None,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> list[Path]:
        return download_emodb(dest, files_url=files_url or SITE_URL, cache_dir=cache_dir, progress=progress)

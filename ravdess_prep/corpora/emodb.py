"""EmoDB, the Berlin Database of Emotional Speech (Burkhardt et al., Interspeech 2005).

535 utterances of 10 actors (five female, five male) speaking 10 German sentences in 7
emotions, at 16 kHz. A file is named ``SSTTTEV.wav``: speaker (two digits), text (``a01`` ...
``b10``), emotion (one letter of the German name), version (a letter), e.g. ``03a01Fa.wav`` is
speaker 03, text a01, happiness (Freude), version a. The speaker is the speaker column; the
label is the emotion's position in :data:`EMOTION_NAMES`. The source is the corpus's ``wav/``
folder (or a zip of it), read at its own rate; this library does not download it (the
corpus's site publishes no checksum to verify a download against).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..exceptions import ClipNameError
from ..source import AUDIO_SUFFIXES
from ..split import customary_split, leave_one_speaker_out_split
from .base import Corpus

#: The emotion letters (of the German names) and the emotions, in label order.
EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear", "F": "happiness", "T": "sadness",
            "N": "neutral"}
EMOTION_NAMES = tuple(EMOTIONS.values())
#: Each emotion's canonical name (see :mod:`ravdess_prep.emotions`), in label order.
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

INVENTORY_COLUMNS = ("clip_name", "path", "speaker", "gender", "age", "text", "emotion", "emotion_code", "label",
                     "version", "sample_rate_hz", "channels", "num_samples")

_NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")


def parse_emodb_name(path: str | os.PathLike) -> dict:
    """The metadata an EmoDB file name carries (only its last component is read).

    Raises:
        ClipNameError: The name does not follow the scheme, or names a speaker, text or
            emotion the corpus does not have; the message names the file and the field.
    """
    name = Path(path).name
    stem, suffix = os.path.splitext(name)
    if suffix.lower() not in AUDIO_SUFFIXES:
        raise ClipNameError(f"{path}: extension {suffix!r} is not one of {', '.join(AUDIO_SUFFIXES)}")
    match = _NAME.match(stem)
    if match is None:
        raise ClipNameError(f"{path}: name {stem!r} does not follow the EmoDB scheme SSTTTEV (speaker, text, "
                            "emotion letter, version; e.g. 03a01Fa)")
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
    count_columns = {
        "emotion": ("label", "emotion"),
        "speaker": ("speaker", "speaker"),
        "gender": ("gender", "gender"),
        "text": ("text", "text"),
        "sample_rate_hz": ("sample_rate_hz", "sample_rate_hz"),
        "channels": ("channels", "channels"),
    }
    speakers = tuple(SPEAKERS)
    default_dev_speakers = DEV_SPEAKERS
    default_test_speakers = TEST_SPEAKERS
    split_presets = {
        "original": customary_split("original"),  # dev 09, 10; test 03, 08 (a female and a male speaker each)
        "loso": leave_one_speaker_out_split("loso"),
    }
    language = "de"
    license = {"name": "CC0 1.0", "url": "https://creativecommons.org/publicdomain/zero/1.0/"}  # as audb publishes it
    citation = ("Burkhardt F, Paeschke A, Rolfes M, Sendlmeier W, Weiss B (2005) A Database of German Emotional "
                "Speech. Proc. Interspeech 2005, 1517-1520. https://doi.org/10.21437/Interspeech.2005-446")

    def parse_name(self, path: str | os.PathLike) -> dict:
        return parse_emodb_name(path)

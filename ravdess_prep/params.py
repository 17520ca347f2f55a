"""Constants of the RAVDESS corpus and of the original project's pipeline.

Only constants live here: no function reads them implicitly. The configuration object turns
them into keyword arguments of the stage functions.
"""

from __future__ import annotations

# --- The RAVDESS file-name scheme: MM-VV-EE-II-SS-RR-AA.ext -------------------------------
MODALITIES = {1: "full-AV", 2: "video-only", 3: "audio-only"}
AUDIO_ONLY_MODALITY = 3
VOCAL_CHANNELS = {1: "speech", 2: "song"}
EMOTIONS = {
    1: "neutral",
    2: "calm",
    3: "happy",
    4: "sad",
    5: "angry",
    6: "fearful",
    7: "disgust",
    8: "surprised",
}
INTENSITIES = {1: "normal", 2: "strong"}
STATEMENTS = {1: "Kids are talking by the door", 2: "Dogs are sitting by the door"}
REPETITIONS = (1, 2)
ACTORS = tuple(range(1, 25))
AUDIO_SUFFIXES = (".wav", ".flac")

# Combinations the corpus does not contain.
NEUTRAL_EMOTION = 1
STRONG_INTENSITY = 2
SONG_CHANNEL = 2
EMOTIONS_NOT_SUNG = (7, 8)
ACTORS_NOT_SINGING = (18,)

# Emotion names in label order (label = emotion code - 1).
EMOTION_NAMES = tuple(EMOTIONS[code] for code in sorted(EMOTIONS))

# --- The Zenodo record (https://zenodo.org/records/1188976) -------------------------------
ZENODO_FILES_URL = "https://zenodo.org/records/1188976/files"
ZENODO_RECORD_API_URL = "https://zenodo.org/api/records/1188976"
SPEECH_ARCHIVE = "Audio_Speech_Actors_01-24.zip"
SONG_ARCHIVE = "Audio_Song_Actors_01-24.zip"
# Pinned (size in bytes, MD5) per archive; None means "read it from the records API".
ARCHIVE_CHECKSUMS = {
    SPEECH_ARCHIVE: (208_468_073, "bc696df654c87fed845eb13823edef8a"),
    SONG_ARCHIVE: None,
}
ARCHIVE_CHANNELS = {SPEECH_ARCHIVE: "speech", SONG_ARCHIVE: "song"}

# --- The original project's split (actor-disjoint) ---------------------------------------
DEV_ACTORS = (8, 19, 24)
TEST_ACTORS = (11, 14, 15)

# --- Where files go ----------------------------------------------------------------------
CACHE_DIR_ENV = "RAVDESS_PREP_CACHE"
CACHE_DIR_NAME = "ravdess-prep"

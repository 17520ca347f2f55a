"""Bundles over every clip of the real corpus's file names, for the protocol and
cross-validation tests: the names, speakers, labels and facets are those of the shared RAVDESS
files; the embeddings are made here (a stack of layers of which one carries the emotion)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ravdess_prep.dataset.bundles import Bundle
from ravdess_prep.corpora.ravdess import EMOTION_NAMES, parse_clip_name

LAYERS, DIM, INFORMATIVE = 4, 12, 2


def real_clip_names(ravdess_dir: Path, channel: str) -> list[str]:
    """The bundle names of the shared corpus's files of one vocal channel, sorted."""
    folder = "Audio_Speech_Actors_01-24" if channel == "speech" else "Audio_Song_Actors_01-24"
    return sorted(f"{channel}/{path.parent.name}/{path.stem}.wav" for path in (ravdess_dir / folder).glob("*/*.flac"))


def stack_bundle(ravdess_dir: Path, *, seed: int = 0, separation: float = 3.0) -> Bundle:
    """Every clip of the corpus as one bundle of ``(clips, 4, 12)`` layer stacks: layer 2 holds
    the emotion's mean (plus noise), every layer a per-speaker offset and noise."""
    names = np.asarray(real_clip_names(ravdess_dir, "speech") + real_clip_names(ravdess_dir, "song"))
    infos = [parse_clip_name(name) for name in names]
    labels = np.asarray([info.label for info in infos], np.int32)
    speakers = np.asarray([info.actor for info in infos])
    rng = np.random.default_rng(seed)
    centres, offsets = rng.normal(size=(8, DIM)) * separation, rng.normal(size=(25, LAYERS, DIM))
    embeddings = rng.normal(size=(len(names), LAYERS, DIM)) + offsets[speakers]
    embeddings[:, INFORMATIVE] += centres[labels]
    facets = {"intensity": np.asarray([info.intensity_name for info in infos]),
              "vocal_channel": np.asarray([info.vocal_channel_name for info in infos])}
    return Bundle(names, embeddings.astype(np.float32), labels, speakers, facets, EMOTION_NAMES, ("layers", "dim"),
                  tuple(range(LAYERS)))


def write_original_format(bundle: Bundle, folder: Path, *, flatten: bool = True) -> Path:
    """The bundle as a dataset folder of the original project's format (no manifest: speakers,
    labels and facets come from the clip names), every clip in ``train``; rows flattened to
    vectors (a stack's layers are not recorded in that format)."""
    (folder / "train").mkdir(parents=True)
    rows = bundle.embeddings.reshape(len(bundle), -1) if flatten else bundle.embeddings
    np.save(folder / "train" / "train_filenames.npy", bundle.names.astype(str))
    np.save(folder / "train" / "train_embeddings.npy", rows)
    np.save(folder / "train" / "train_labels.npy", bundle.labels)
    return folder

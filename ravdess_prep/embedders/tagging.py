"""Tagging: the top AudioSet classes of audio files, by YAMNet's mean scores over its patches.

A quick check that audio is what one thinks (speech, silence, noise, music) before building
from it. Files are read as YAMNet's published inference reads them: channels averaged,
resampled to 16 kHz with resampy.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

import yamnet_model

from ..exceptions import AudioError, ModelFileError
from ..storage.cache import cache_root
from . import YAMNetEmbedder, YAMNetFiles

#: The embedder whose model tags (its files type says where the model is).
TAGGER = YAMNetEmbedder


def tag_files(paths: Sequence[str | os.PathLike], *, files: YAMNetFiles | None = None,
              cache_dir: str | os.PathLike | None = None, top: int = 5) -> list[dict]:
    """The ``top`` AudioSet classes of each file, by mean score over its patches.

    Args:
        paths: Audio files.
        files: Where the YAMNet model is (None: the official one, fetched once).
        cache_dir: The cache root (where the official model is fetched to).
        top: Classes per file.

    Returns:
        One ``{"file", "patches", "top": [{"class", "index", "mean_score"}, ...]}`` per file.

    Raises:
        AudioError: A file is missing, unreadable, empty, or holds NaN or infinite values; the
            message names it (before any model is loaded).
        ModelFileError: The model folder is not a YAMNet SavedModel.
    """
    try:  # every file is read before the model is loaded: a bad one is named at once
        waveforms = [yamnet_model.read_waveform(path) for path in paths]
    except yamnet_model.InputError as error:
        raise AudioError(str(error)) from None
    folder = None if cache_dir is None else cache_root(cache_dir) / YAMNetEmbedder.name
    model_dir = YAMNetEmbedder().model_files(files, cache_dir=folder, progress=False)["model_dir"].path
    try:
        names = yamnet_model.class_names(model_dir)
        network = yamnet_model.YAMNet(model_dir)
    except yamnet_model.ModelFileError as error:
        raise ModelFileError(str(error)) from None
    report = []
    with network:
        for path, waveform in zip(paths, waveforms):
            patches = yamnet_model.waveform_to_patches(waveform)
            scores = network.run(patches)[0].mean(axis=0)
            ranked = np.argsort(-scores, kind="stable")[:top]
            report.append({"file": str(path), "patches": int(patches.shape[0]),
                           "top": [{"class": names[index], "index": int(index), "mean_score": round(float(scores[index]), 6)}
                                   for index in ranked]})
    return report

"""Emotions of new recordings: a front over the two sides of the library. The files are
embedded exactly as a dataset's clips were (:func:`ravdess_prep.pipeline.embed_files`), then
scored by a model trained on that dataset (:mod:`ravdess_prep.evaluation`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .audio.io import check_complete
from .dataset.bundles import Bundle
from .dataset.manifest import Manifest
from .embedders.outputs import clip_frame_spans
from .evaluation.classifier import predict_probabilities
from .evaluation.fitting import inputs_as_trained
from .evaluation.model_folder import check_same_dataset, dataset_record, load_trained, read_model_record
from .evaluation.speaker_norm import normalise_per_speaker
from .exceptions import ParameterError
from .pipeline import embed_files, trim


def predict_files(paths: Sequence[str | os.PathLike], *, dataset: str | os.PathLike,
                  model_dir: str | os.PathLike, on_too_long: str | None = None,
                  files=None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class probabilities of new recordings, embedded with ``dataset``'s settings. A model
    trained with speaker normalisation takes the files as clips of one speaker, standardised
    together (so give several, the more the better).

    Returns:
        ``(probabilities, class names)``: float32 ``(len(paths), classes)`` and each class's name.
    """
    model_dir = Path(model_dir)
    metrics = read_model_record(model_dir)
    trained = metrics.get("config", {})
    if metrics.get("datasets"):
        raise ParameterError(f"{model_dir} was trained on several datasets side by side "
                             f"({', '.join(str(record.get('folder')) for record in metrics['datasets'])}); "
                             "predict embeds with one dataset's settings: train a model on one dataset for it")
    speaker_norm = trained.get("speaker_norm", False)
    if speaker_norm and len(paths) < 2:
        raise ParameterError(f"{model_dir}: the model was trained with speaker normalisation; give several clips "
                             "of one speaker (they are standardised together), not one")
    manifest = Manifest.read(dataset)
    check_same_dataset(metrics.get("dataset"), dataset_record(manifest), model_dir=model_dir, dataset=dataset)
    for audio in paths:  # every file is checked before any model is loaded
        check_complete(audio)
    head, model = load_trained(model_dir, record=metrics)
    rows = embed_files(paths, dataset, on_too_long=on_too_long, files=files)
    clips = inputs_as_trained(Bundle(np.asarray([str(path) for path in paths]), rows, np.zeros(len(paths), np.int32),
                                     axes=tuple(manifest.output.get("axes", ())[1:]) or None,
                                     layer_numbers=tuple(manifest.output["layers"]) if "layers" in manifest.output
                                     else None,
                                     frames=_frames_of_files(paths, manifest) if head.uses_frames else None), trained)
    embeddings = clips.embeddings
    if speaker_norm:
        embeddings = normalise_per_speaker(embeddings, np.zeros(len(paths), int), axes=clips.axes)
    probabilities = predict_probabilities(model, embeddings, head=head)
    names = tuple(metrics.get("class_names") or (str(label) for label in range(probabilities.shape[1])))
    return probabilities, names




def _frames_of_files(paths, manifest: Manifest) -> np.ndarray:
    """Each new file's own frames among those of its padded input, as the dataset's clips'
    (see :func:`ravdess_prep.embedders.outputs.clip_frame_spans`)."""
    embedder = manifest.config.embedder
    lengths = [trim(path, manifest.config)[0].shape[0] for path in paths]
    return clip_frame_spans(lengths, target_length_samples=manifest.target.length_samples,
                            sample_rate_hz=manifest.target.sample_rate_hz, model_rate_hz=embedder.sample_rate_hz,
                            frames_of=lambda samples: embedder.num_examples(samples,
                                                                            sample_rate_hz=embedder.sample_rate_hz))

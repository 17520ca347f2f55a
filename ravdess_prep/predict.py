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
from .corpora.source import audio_files
from .evaluation.speaker_norm import standardised
from .exceptions import ParameterError, option
from .pipeline import embed_files, trim


def predict_files(paths: Sequence[str | os.PathLike], *, dataset: str | os.PathLike,
                  model_dir: str | os.PathLike, on_too_long: str | None = None, files=None,
                  enrol: Sequence[str | os.PathLike] | None = None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class probabilities of new recordings, embedded with ``dataset``'s settings.

    A model trained with speaker normalisation standardises the files with one speaker's
    statistics: those of ``enrol`` (recordings of the same speaker, embedded the same way and
    not predicted), or without an enrolment those of the files themselves, taken as clips of
    one speaker and standardised together (so give several). :func:`speaker_norm_note` says
    which in words.

    Returns:
        ``(probabilities, class names)``: float32 ``(len(paths), classes)`` and each class's name.

    Raises:
        ParameterError: An enrolment for a model trained without speaker normalisation, an
            enrolment of fewer than two files, or one file without an enrolment for a model
            trained with it.
    """
    model_dir = Path(model_dir)
    metrics = read_model_record(model_dir)
    trained = metrics.get("config", {})
    if metrics.get("datasets"):
        raise ParameterError(f"{model_dir} was trained on several datasets side by side "
                             f"({', '.join(str(record.get('folder')) for record in metrics['datasets'])}); "
                             "predict embeds with one dataset's settings: train a model on one dataset for it")
    speaker_norm = trained.get("speaker_norm", False)
    enrol = [Path(path) for path in enrol or ()]
    if enrol and not speaker_norm:
        raise ParameterError(f"{model_dir}: the model was trained without speaker normalisation; an enrolment "
                             f"({option('enrol')}) has nothing to standardise")
    if enrol and len(enrol) < 2:
        raise ParameterError(f"{enrol[0]}: an enrolment takes a speaker's statistics from at least two recordings")
    if speaker_norm and not enrol and len(paths) < 2:
        raise ParameterError(f"{model_dir}: the model was trained with speaker normalisation; give an enrolment of "
                             f"the speaker ({option('enrol')}), or several clips of one speaker (they are "
                             "standardised together), not one file alone")
    manifest = Manifest.read(dataset)
    check_same_dataset(metrics.get("dataset"), dataset_record(manifest), model_dir=model_dir, dataset=dataset)
    every = [*paths, *enrol]
    for audio in every:  # every file is checked before any model is loaded
        check_complete(audio)
    head, model = load_trained(model_dir, record=metrics)
    rows = embed_files(every, dataset, on_too_long=on_too_long, files=files)
    clips = inputs_as_trained(Bundle(np.asarray([str(path) for path in every]), rows, np.zeros(len(every), np.int32),
                                     axes=tuple(manifest.output.get("axes", ())[1:]) or None,
                                     layer_numbers=tuple(manifest.output["layers"]) if "layers" in manifest.output
                                     else None,
                                     frames=_frames_of_files(every, manifest) if head.uses_frames else None), trained)
    embeddings = clips.embeddings[:len(paths)]
    if speaker_norm:
        reference = clips.embeddings[len(paths):] if enrol else embeddings
        embeddings = standardised(embeddings, reference, axes=clips.axes).astype(np.float32)
    probabilities = predict_probabilities(model, embeddings, head=head)
    names = tuple(metrics.get("class_names") or (str(label) for label in range(probabilities.shape[1])))
    return probabilities, names


def enrolment_files(items: Sequence[str | os.PathLike]) -> list[Path]:
    """The audio files an enrolment names: files as given, and every audio file under a
    folder (sorted; see :func:`ravdess_prep.corpora.source.audio_files`).

    Raises:
        ParameterError: A folder without audio files.
    """
    found = []
    for item in items:
        if Path(item).is_dir():
            inside = list(audio_files(item))
            if not inside:
                raise ParameterError(f"{item}: an enrolment folder without audio files")
            found.extend(inside)
        else:
            found.append(Path(item))
    return found


def speaker_norm_note(model_dir: str | os.PathLike, *, files: int, enrol: int = 0) -> str | None:
    """What :func:`predict_files` does with a speaker-normalised model, in one line (None: the
    model was trained without speaker normalisation)."""
    record = read_model_record(Path(model_dir))
    if not record.get("config", {}).get("speaker_norm"):
        return None
    trained = record.get("speaker_norm", {}).get("mode", "all")
    if enrol:
        return (f"speaker normalisation: the statistics of the {enrol} enrolment recordings given, none of them "
                f"predicted (the model was trained in mode {trained})")
    return (f"speaker normalisation: the {files} files given are taken as clips of one speaker and standardised "
            f"with each other, the predicted clips included (transductive; the model was trained in mode {trained}); "
            "give an enrolment of the speaker for statistics of its own")


def _frames_of_files(paths, manifest: Manifest) -> np.ndarray:
    """Each new file's own frames among those of its padded input, as the dataset's clips'
    (see :func:`ravdess_prep.embedders.outputs.clip_frame_spans`)."""
    embedder = manifest.config.embedder
    lengths = [trim(path, manifest.config)[0].shape[0] for path in paths]
    return clip_frame_spans(lengths, target_length_samples=manifest.target.length_samples,
                            sample_rate_hz=manifest.target.sample_rate_hz, model_rate_hz=embedder.sample_rate_hz,
                            frames_of=lambda samples: embedder.num_examples(samples,
                                                                            sample_rate_hz=embedder.sample_rate_hz))

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
from .corpora.source import audio_paths
from .evaluation.speaker_norm import reduced_axes, standardise, standardised
from .exceptions import ParameterError, option
from .embedding import Embedding
from .pipeline import trim


class EmotionModel:
    """A trained model with the dataset it was trained on, loaded once, for any number of files.

    Args:
        dataset: The dataset the model was trained on (its settings embed the files).
        model_dir: The model's folder.
        files: Where the dataset's model files are now, if they moved.
        on_too_long: Another policy for files longer than the dataset's target.
        enrol: For a model trained with speaker normalisation: recordings of the speaker, whose
            statistics standardise every file (embedded as the dataset's clips, not predicted).

    Raises:
        ParameterError: A model trained on several datasets, an enrolment for a model trained
            without speaker normalisation, or an enrolment of fewer than two files.
        DatasetError: The dataset is not the one the model was trained on.
    """

    def __init__(self, *, dataset: str | os.PathLike, model_dir: str | os.PathLike, files=None,
                 on_too_long: str | None = None, enrol: Sequence[str | os.PathLike] = ()):
        self.model_dir = model_dir = Path(model_dir)
        self.record = metrics = read_model_record(model_dir)
        self.trained = metrics.get("config", {})
        if metrics.get("datasets"):
            raise ParameterError(f"{model_dir} was trained on several datasets side by side "
                                 f"({', '.join(str(record.get('folder')) for record in metrics['datasets'])}); "
                                 "predict embeds with one dataset's settings: train a model on one dataset for it")
        self.speaker_norm = bool(self.trained.get("speaker_norm", False))
        self.enrol = [Path(path) for path in enrol or ()]
        if self.enrol and not self.speaker_norm:
            raise ParameterError(f"{model_dir}: the model was trained without speaker normalisation; an enrolment "
                                 f"({option('enrol')}) has nothing to standardise")
        if self.enrol and len(self.enrol) < 2:
            raise ParameterError(f"{self.enrol[0]}: an enrolment takes a speaker's statistics from at least two "
                                 "recordings")
        self.manifest = Manifest.read(dataset)
        check_same_dataset(metrics.get("dataset"), dataset_record(self.manifest), model_dir=model_dir, dataset=dataset)
        for audio in self.enrol:  # checked before any model is loaded
            check_complete(audio)
        self.embedding = Embedding.of_dataset(dataset, files=files, on_too_long=on_too_long)
        self.head, self.model = load_trained(model_dir, record=metrics)
        self.axes = tuple(self.manifest.output.get("axes", ())[1:]) or None
        self.input_axes: tuple[str, ...] | None = None  # a row's axes as the model takes it (set by inputs)
        self.reference = self.inputs(self.embedding.process_paths(self.enrol, jobs=1),
                                     frames=self.frames_of_files(self.enrol)) if self.enrol else None
        #: The enrolment's mean and standard deviation (None without one), taken once.
        self.statistics = None
        if self.reference is not None:
            reference, reduce = self.reference.astype(np.float64), reduced_axes(self.input_axes)
            self.statistics = (reference.mean(axis=reduce, keepdims=True), reference.std(axis=reduce, keepdims=True))

    def class_names(self, count: int) -> tuple[str, ...]:
        """The classes' names, as recorded (``"0"``, ``"1"``, ... for a model of ``count``
        classes without names)."""
        return tuple(self.record.get("class_names") or (str(label) for label in range(count)))

    def inputs(self, rows: np.ndarray, *, frames: np.ndarray | None = None) -> np.ndarray:
        """Bundle rows as the model takes them (its layers, its head's preparation)."""
        bundle = Bundle(np.asarray([str(index) for index in range(len(rows))]), rows, np.zeros(len(rows), np.int32),
                        axes=self.axes, frames=frames if self.head.uses_frames else None,
                        layer_numbers=tuple(self.manifest.output["layers"]) if "layers" in self.manifest.output
                        else None)
        prepared = inputs_as_trained(bundle, self.trained)
        self.input_axes = prepared.axes
        return prepared.embeddings

    def standardised(self, inputs: np.ndarray) -> np.ndarray:
        """Inputs standardised with the speaker's statistics where the model was trained so: an
        enrolment's, or else those of the inputs themselves (transductive); as they are for a
        model trained without speaker normalisation."""
        if not self.speaker_norm:
            return inputs
        if self.statistics is None:
            return standardised(inputs, inputs, axes=self.input_axes).astype(np.float32)
        mean, std = self.statistics
        return standardise(inputs, mean=mean, std=std).astype(np.float32)

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities of inputs (already standardised where the model wants it)."""
        return predict_probabilities(self.model, inputs, head=self.head)

    def frames_of_files(self, paths) -> np.ndarray | None:
        """Each file's own frames among those of its padded input, for a head that reads frames
        (see :func:`ravdess_prep.embedders.outputs.clip_frame_spans`); None for others."""
        if not self.head.uses_frames:
            return None
        return _frames_of_files(paths, self.manifest)

    def close(self) -> None:
        self.embedding.close()

    def __enter__(self) -> "EmotionModel":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
    check_clips_to_standardise(read_model_record(Path(model_dir)), model_dir=model_dir, files=len(paths),
                               enrol=len(enrol or ()))
    for audio in paths:  # every file is checked before any model is loaded
        check_complete(audio)
    with EmotionModel(dataset=dataset, model_dir=model_dir, files=files, on_too_long=on_too_long,
                      enrol=enrol or ()) as trained:
        inputs = trained.inputs(trained.embedding.process_paths(list(paths), jobs=1),
                                frames=trained.frames_of_files(paths))
        probabilities = trained.probabilities(trained.standardised(inputs))
        names = trained.class_names(probabilities.shape[1])
    return probabilities, names


def check_clips_to_standardise(record: dict, *, model_dir, files: int, enrol: int) -> None:
    """Refuse one clip alone, without an enrolment, for a model trained with speaker
    normalisation (``record``: its ``metrics.json``): its statistics would be its own.

    Raises:
        ParameterError: Naming the model and what to give.
    """
    if record.get("config", {}).get("speaker_norm") and not enrol and files < 2:
        raise ParameterError(f"{model_dir}: the model was trained with speaker normalisation; give an enrolment of "
                             f"the speaker ({option('enrol')}), or several clips of one speaker (they are "
                             "standardised together), not one file alone")


def enrolment_files(items: Sequence[str | os.PathLike]) -> list[Path]:
    """The audio files an enrolment names: files as given, and every audio file under a
    folder (sorted; see :func:`ravdess_prep.corpora.source.audio_files`).

    Raises:
        ParameterError: A folder without audio files.
    """
    return audio_paths(items, empty=lambda folder: ParameterError(f"{folder}: an enrolment folder without audio "
                                                                  "files"))


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

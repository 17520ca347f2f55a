"""A trained model on another dataset: cross-corpus evaluation over the emotions both share.

A model trained on one corpus (RAVDESS, say) is scored on a dataset of another (EmoDB,
CREMA-D) built with the same embedder and settings. Labels meet through the one emotion
vocabulary (:mod:`ravdess_prep.corpora.emotions`): the emotions scored are those whose canonical names
both the model's classes and the dataset's labels have; clips of the dataset's other emotions
are left out, and the model's prediction is the most probable of the shared emotions (its other
classes are not candidates). The scores are the field's (UA, WA, macro-F1, see
:mod:`ravdess_prep.evaluation.metrics`) with the confusion matrix of the shared emotions.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np

from ..corpora import get_corpus
from ..corpora.emotions import CANONICAL, canonical_of
from ..dataset.manifest import Manifest
from ..exceptions import ParameterError, SourceError
from ..params import SPLITS
from ..storage.guards import check_report_path, json_record_with, report_bytes
from .classifier import predict_logits
from .clips import pooled, subset
from .fitting import inputs_as_trained
from .metrics import evaluate, plot_confusion
from .model_folder import check_same_dataset, dataset_record, load_trained, read_model_record
from .speaker_norm import speaker_norm_record, speaker_normalised
from .training_data import read_data

#: The title stored in the metadata of every figure ``evaluate`` draws (how a later run knows
#: a figure it may replace).
FIGURE_TITLE = "ravdess-prep evaluate: confusion matrix"

#: What may differ between the model's data and the data evaluated: the corpus, and the length
#: the clips were padded to (measured on each corpus; the settings that decide it must agree).
ACROSS_CORPORA = ("corpus",)


def evaluate_model(model_dir: str | os.PathLike, data: str | os.PathLike, *,
                   splits: Sequence[str] = SPLITS) -> dict:
    """Score the model of ``model_dir`` on the clips of ``data``'s ``splits``.

    Args:
        model_dir: A folder written by :func:`ravdess_prep.evaluation.classifier.train`.
        data: A dataset folder built with the same embedder and settings as the model's (its
            corpus may differ).
        splits: The dataset's splits whose clips are scored (default: all of them, as a
            cross-corpus study takes the whole other corpus).

    Returns:
        :func:`ravdess_prep.evaluation.metrics.evaluate`'s dictionary over the shared emotions (``ua``,
        ``wa``, ``macro_f1``, ``clips``, ``per_class``, ``class_names``,
        ``confusion_matrix``...), with ``shared_emotions`` (canonical names, in the
        vocabulary's order), ``left_out`` (``{emotion: clips}`` of the dataset's emotions
        the model lacks), ``model`` and ``data`` (corpus, folder, classes), ``splits``, and
        ``padded`` (whether the embedder takes clips padded to one length) and
        ``target_length_samples`` of the model's data and of these clips.

    Raises:
        ParameterError: A dataset of another embedder or settings (the first difference
            named), no shared emotion (both label sets named), or a model trained on several
            datasets side by side.
        SourceError: A folder that is not a model or a dataset.
    """
    model_dir, data = Path(model_dir), Path(data)
    record = read_model_record(model_dir)
    trained = record.get("dataset")
    if record.get("datasets") or trained is None:
        raise ParameterError(f"{model_dir}: the model has no record of one dataset it was trained on (trained on "
                             "several side by side, or on arrays); evaluate takes a model trained on a dataset folder")
    manifest = Manifest.read(data)
    given = dataset_record(manifest)
    check_same_dataset(comparable_record(trained), comparable_record(given), model_dir=model_dir, dataset=data)
    model_corpus = trained["config"].get("corpus", "ravdess")
    model_names = list(record.get("canonical_names") or canonical_labels(record["class_names"], corpus=model_corpus,
                                                                    where=f"{model_dir}'s classes"))
    unknown = [split for split in splits if split not in SPLITS]
    if unknown:
        raise ParameterError(f"splits {unknown} are not splits of a dataset ({', '.join(SPLITS)})")
    bundles = {name: bundle for name, bundle in read_data(data, manifest=manifest).bundles.items()
               if name in splits and len(bundle)}
    if not bundles:
        raise SourceError(f"{data}: no clip in the splits {', '.join(splits)}")
    config = record.get("config", {})
    bundle = pooled(bundles)
    data_names = dataset_emotions(bundle.label_names or manifest.corpus.get("label_names", ()), manifest,
                                  where=f"{data}'s labels")
    shared = [name for name in CANONICAL if name in model_names and name in data_names]
    if not shared:
        raise ParameterError(f"{model_dir} and {data} share no emotion: the model's classes are "
                             f"{', '.join(model_names)}, the dataset's {', '.join(data_names)} (canonical names)")
    clip_names = np.asarray([data_names[label] for label in bundle.labels])
    keep = np.isin(clip_names, shared)
    if not keep.any():
        raise SourceError(f"{data}: no clip of the emotions it shares with {model_dir} ({', '.join(shared)}) in the "
                          f"splits {', '.join(bundles)}")
    scored = subset(bundle, np.flatnonzero(keep))
    normalised = {}
    if config.get("speaker_norm"):  # statistics of the shared emotions' clips alone
        scored = speaker_normalised({"scored": scored}, where=str(data), enrol_clips=config.get("enrol_clips"),
                                    seed=config.get("seed", 0))["scored"]
        normalised = {"speaker_norm": {**speaker_norm_record(enrol_clips=config.get("enrol_clips"),
                                                             seed=config.get("seed", 0)),
                                       "clips": "the clips of the shared emotions only"}}
    inputs = inputs_as_trained(scored, config)
    head, model = load_trained(model_dir, record=record)
    scores = predict_logits(model, inputs.embeddings, head=head)
    columns = [model_names.index(name) for name in shared]
    predicted = np.argmax(scores[:, columns], axis=1)
    labels = np.asarray([shared.index(data_names[label]) for label in scored.labels], dtype=int)
    result = evaluate(labels, predicted, label_names=shared, facets=scored.facets)
    left_out = Counter(clip_names[~keep].tolist())
    return {**result, "shared_emotions": shared, **normalised,
            "left_out": {name: left_out[name] for name in data_names if name in left_out},
            "model": {"folder": str(model_dir), "corpus": model_corpus, "classes": list(model_names)},
            "data": {"folder": str(data), "corpus": manifest.config.corpus, "classes": list(data_names)},
            "splits": list(bundles),
            "padded": bool(manifest.embedder.get("padded", True)),
            "target_length_samples": {"model": trained.get("target_length_samples"),
                                      "data": given.get("target_length_samples")}}


def check_report_paths(*, json_path: str | os.PathLike | None, plot_path: str | os.PathLike | None) -> None:
    """Refuse, before any work, a ``--json`` or ``--plot`` path that is a folder, lies in a
    missing folder or in a dataset folder, or is a file ``evaluate`` did not write.

    Raises:
        OutputError: The message names the path.
    """
    if json_path is not None:
        check_report_path(json_path, flag="json", command="evaluate",
                          ours=lambda path: json_record_with(path, ("shared_emotions", "ua")))
    if plot_path is not None:
        check_report_path(plot_path, flag="plot", command="evaluate",
                          ours=lambda path: FIGURE_TITLE.encode() in (report_bytes(path) or b""))


def draw(result: dict, path: str | os.PathLike) -> Path:
    """The confusion matrix of :func:`evaluate_model`'s result as a PNG, as ``train`` draws it."""
    return plot_confusion({f"{result['data']['corpus']} ({', '.join(result['splits'])})": result}, path,
                          title=FIGURE_TITLE)


def comparable_record(record: dict) -> dict:
    """A dataset record without what may differ across corpora."""
    config = {key: value for key, value in record.get("config", {}).items() if key not in ACROSS_CORPORA}
    return {**{key: value for key, value in record.items() if key != "target_length_samples"}, "config": config}


def dataset_emotions(names: Sequence[str], manifest: Manifest, *, where: str) -> list[str]:
    """Each of a dataset's label names as its canonical emotion: by the mapping its manifest
    records, else by its registered corpus's (:func:`canonical_labels`)."""
    recorded = canonical_of(names, label_names=manifest.corpus.get("label_names", ()),
                            canonical_names=manifest.corpus.get("canonical_names"))
    return list(recorded or canonical_labels(names, corpus=manifest.config.corpus, where=where))


def canonical_labels(names: Sequence[str], *, corpus: str, where: str) -> list[str]:
    """Each of ``names`` (a corpus's label names, or a protocol's subset of them) as its
    canonical emotion name, by the registered corpus's mapping."""
    found = get_corpus(corpus)
    mapped = canonical_of(names, label_names=found.label_names, canonical_names=found.canonical())
    if mapped is None:
        raise ParameterError(f"{where}: {', '.join(names)} have no canonical emotion names (the {corpus} corpus maps "
                             "its labels to none, or to others)")
    return list(mapped)

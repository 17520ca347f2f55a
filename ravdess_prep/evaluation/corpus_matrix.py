"""Train on each corpus, score on every other: the cross-corpus matrix.

Datasets of one embedder and settings (their corpora differ) meet over the emotions they all
share, by canonical name (:mod:`ravdess_prep.corpora.emotions`), or over a list given. Each
dataset's rows are first standardised with that dataset's own statistics, every clip of the
shared emotions in every split pooled (the field's practice across corpora, which removes each
corpus's recording offset; ``corpus_norm=False`` leaves the rows as they are). A model is then
trained on each dataset's train and dev splits (its open choices made on dev, then refit on
both) and scored on every clip of every other dataset; the diagonal is each dataset's own test
split. The scores are the field's UA and WA (:mod:`ravdess_prep.evaluation.metrics`).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..corpora.emotions import CANONICAL
from ..dataset.bundles import Bundle
from ..dataset.manifest import Manifest
from ..exceptions import ParameterError, SourceError, option
from ..storage.guards import check_report_path, json_record_with, report_bytes
from .classifier import fit_and_score
from .clips import pooled, subset
from .crosscorpus import comparable_record, dataset_emotions
from .metrics import evaluate, figure_of, write_png
from .model_folder import dataset_difference, dataset_record
from .speaker_norm import standardised
from .train_config import TrainConfig
from .training_data import read_data

#: The title stored in the heat map's metadata (how a later run knows a figure it may replace).
FIGURE_TITLE = "ravdess-prep crosscorpus: UA matrix"


@dataclasses.dataclass(frozen=True)
class CorpusData:
    """One dataset of the matrix, its clips of the shared emotions labelled in their order."""

    folder: str
    corpus: str
    bundles: dict[str, Bundle]


def corpus_matrix(datasets: Sequence[str | os.PathLike], config: TrainConfig = TrainConfig(), *,
                  emotions: Sequence[str] | None = None, corpus_norm: bool = True, verbose: int = 0) -> dict:
    """UA and WA of a model trained on each dataset, scored on each dataset.

    Args:
        datasets: Two or more dataset folders of one embedder and settings.
        config: The head's settings (speaker normalisation is not taken: the corpus's own is).
        emotions: Canonical emotion names scored (None: every one all datasets share).
        corpus_norm: Standardise each dataset's rows with its own statistics first.

    Returns:
        ``{"datasets": [{"folder", "corpus", "clips"}], "emotions", "ua": [[...]], "wa": [[...]],
        "clips": [[...]], "corpus_norm", "diagonal", "config"}``: row ``i``, column ``j`` is the
        model trained on dataset ``i`` scored on dataset ``j`` (``None`` on the diagonal of a
        dataset without a test split).

    Raises:
        ParameterError: Fewer than two datasets, datasets of other embedders or settings (the
            first difference named), an emotion not every dataset holds, no shared emotion,
            speaker normalisation asked for.
    """
    if len(datasets) < 2:
        raise ParameterError(f"{option('data')}: the matrix takes two datasets or more, not {len(datasets)}")
    if config.speaker_norm:
        raise ParameterError(f"{option('speaker_norm')} is not taken by the cross-corpus matrix: each corpus's rows "
                             "are standardised with its own statistics instead (turn that off with corpus_norm)")
    manifests = [Manifest.read(folder) for folder in datasets]
    first = comparable_record(dataset_record(manifests[0]))
    for folder, manifest in zip(datasets[1:], manifests[1:]):
        difference = dataset_difference(first, comparable_record(dataset_record(manifest)))
        if difference is not None:
            raise ParameterError(f"{folder}: not of {datasets[0]}'s embedder and settings ({difference}); the matrix "
                                 "compares datasets of one embedder and settings")
    labelled = [_canonical_bundles(folder, manifest) for folder, manifest in zip(datasets, manifests)]
    chosen = _shared(labelled, emotions, datasets)
    data = [_kept(folder, manifest.config.corpus, bundles, chosen, corpus_norm=corpus_norm)
            for (folder, manifest), bundles in zip(zip(datasets, manifests), labelled)]
    size = len(data)
    ua, wa, clips = ([[None] * size for _ in range(size)] for _ in range(3))
    for row, source in enumerate(data):
        training = {split: source.bundles[split] for split in ("train", "dev", "test") if split in source.bundles}
        fitted, metrics = fit_and_score(training, dataclasses.replace(config, num_classes=len(chosen)), refit=True,
                                        verbose=verbose, where=source.folder, splits=("test",))
        for column, target in enumerate(data):
            if column == row:
                scores = metrics["splits"].get("test")
            else:
                every = pooled(target.bundles)
                scores = evaluate(every.labels, fitted.predict(every), label_names=chosen, facets={})
            if scores is not None:
                ua[row][column], wa[row][column], clips[row][column] = scores["ua"], scores["wa"], scores["clips"]
    return {"datasets": [{"folder": item.folder, "corpus": item.corpus,
                          "clips": sum(len(bundle) for bundle in item.bundles.values())} for item in data],
            "emotions": list(chosen), "ua": ua, "wa": wa, "clips": clips, "corpus_norm": corpus_norm,
            "diagonal": "each dataset's own test split; off the diagonal every clip of the other dataset",
            "config": config.to_dict()}


def draw(record: dict, path: str | os.PathLike) -> Path:
    """The UA matrix of :func:`corpus_matrix` as a heat map (PNG)."""
    names = [f"{item['corpus']}\n{Path(item['folder']).name}" for item in record["datasets"]]
    values = np.asarray([[np.nan if value is None else value for value in row] for row in record["ua"]], float)
    figure = figure_of(figsize=(1.6 * len(names) + 2.4, 1.4 * len(names) + 1.6))
    axis = figure.subplots()
    image = axis.imshow(values, cmap="viridis", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            text = "-" if np.isnan(values[i, j]) else f"{values[i, j]:.1%}"
            axis.text(j, i, text, ha="center", va="center", color="white" if values[i, j] < 0.6 else "black")
    axis.set_xticks(range(len(names)), names)
    axis.set_yticks(range(len(names)), names)
    axis.set_xlabel("scored on")
    axis.set_ylabel("trained on")
    axis.set_title(f"UA over {', '.join(record['emotions'])}" + (" (corpus-normalised)" if record["corpus_norm"] else ""))
    figure.colorbar(image, ax=axis, fraction=0.046)
    return write_png(figure, path, metadata={"Title": FIGURE_TITLE})


def check_report_paths(*, json_path: str | os.PathLike | None, plot_path: str | os.PathLike | None) -> None:
    """Refuse, before any work, a ``--json`` or ``--plot`` path that is a folder, lies in a
    missing folder or a dataset folder, or is a file ``crosscorpus`` did not write."""
    if json_path is not None:
        check_report_path(json_path, flag="json", command="crosscorpus",
                          ours=lambda path: json_record_with(path, ("emotions", "ua", "corpus_norm")))
    if plot_path is not None:
        check_report_path(plot_path, flag="plot", command="crosscorpus",
                          ours=lambda path: FIGURE_TITLE.encode() in (report_bytes(path) or b""))


def _canonical_bundles(folder, manifest: Manifest) -> dict[str, Bundle]:
    """The dataset's splits with their labels named canonically (``label_names``)."""
    bundles = read_data(folder, manifest=manifest).bundles
    canonical = dataset_emotions(manifest.corpus.get("label_names", ()), manifest, where=f"{folder}'s labels")
    return {split: dataclasses.replace(bundle, label_names=tuple(canonical)) for split, bundle in bundles.items()
            if len(bundle)}


def _shared(labelled: list[dict[str, Bundle]], emotions, datasets) -> tuple[str, ...]:
    """The emotions scored: those given (each held by every dataset), or every one all share."""
    held = [set(next(iter(bundles.values())).label_names) for bundles in labelled]
    if emotions is not None:
        for name in emotions:
            lacking = [str(folder) for folder, names in zip(datasets, held) if name not in names]
            if name not in CANONICAL or lacking:
                raise ParameterError(f"{option('emotions')}: {name!r} is not an emotion of "
                                     f"{', '.join(lacking) or 'the canonical vocabulary'}")
        return tuple(name for name in CANONICAL if name in emotions)
    shared = tuple(name for name in CANONICAL if all(name in names for names in held))
    if not shared:
        raise ParameterError("the datasets share no emotion: " + "; ".join(
            f"{folder}: {', '.join(sorted(names))}" for folder, names in zip(datasets, held)))
    return shared


def _kept(folder, corpus: str, bundles: dict[str, Bundle], emotions: tuple[str, ...], *,
          corpus_norm: bool) -> CorpusData:
    """The clips of ``emotions``, labelled in their order, standardised with the dataset's own
    statistics (``corpus_norm``)."""
    kept = {}
    for split, bundle in bundles.items():
        names = np.asarray(bundle.label_names)[bundle.labels]
        index = np.flatnonzero(np.isin(names, emotions))
        if index.size:
            labels = np.asarray([emotions.index(name) for name in names[index]], np.int32)
            kept[split] = dataclasses.replace(subset(bundle, index), labels=labels, label_names=emotions)
    if "train" not in kept:
        raise SourceError(f"{folder}: no training clip of the emotions scored ({', '.join(emotions)})")
    if corpus_norm:
        reference = np.concatenate([bundle.embeddings for bundle in kept.values()])
        axes = next(iter(kept.values())).axes or ("dim",)
        kept = {split: dataclasses.replace(bundle, embeddings=standardised(bundle.embeddings, reference, axes=axes)
                                           .astype(np.float32)) for split, bundle in kept.items()}
    return CorpusData(str(folder), corpus, kept)

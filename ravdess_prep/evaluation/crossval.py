"""Cross-validation by speaker, scored as the field scores: UA, WA and macro-F1 per fold, and
their mean and standard deviation over the folds.

The folds are a published protocol's (:mod:`ravdess_prep.corpora.protocols`: its clips, classes, and
test and dev speakers), a split preset's, leave one speaker out, or k folds by speaker. Every
split of the data is pooled first. Each fold makes the head's choices on its dev speakers and
then, by default, trains the model it reports on its train and dev speakers together (``refit``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..corpora import Corpus
from ..corpora.protocols import Protocol, Regime, library_regime
from ..corpora.split import k_fold_by_speaker
from ..exceptions import ParameterError, SourceError, option
from ..storage.atomic import write_json
from ..storage.guards import (check_outside_datasets, check_report_path, check_writable_folder,
                              json_record_with)
from .classifier import fit_and_score, train
from .clips import pooled, subset, take_protocol
from .speaker_norm import speaker_norm_record
from .intervals import LEVEL, METHOD, RESAMPLES, speaker_bootstrap, speaker_confusions
from .train_config import TrainConfig
from .training_data import corpus_of, corpus_protocol, folders_of, read_data

_log = logging.getLogger("ravdess_prep")

#: The scores each fold reports, and whose mean and standard deviation the record gives.
SCORES = ("ua", "wa", "macro_f1")


def cross_validate(data, config: TrainConfig = TrainConfig(), *, folds: str | int = "speaker",
                   protocol: str | None = None, refit: bool = True, as_published: bool = False,
                   model_root: str | os.PathLike | None = None, verbose: int = 0) -> dict:
    """Cross-validation by speaker over every clip of the data.

    Args:
        data: A bundle folder, several of the same clips (fused), or ``{split: Bundle}`` (with
            speakers); all splits are pooled.
        config: Hyperparameters (``auto`` choices are made on each fold's dev speakers).
        folds: Without ``protocol``: ``"speaker"`` or ``"actor"`` (leave one speaker out, no
            dev), a number of folds (k folds by speaker, shuffled with ``config.seed``, no dev),
            or a split preset with folds (``"folds6"``, ``"loso"``).
        protocol: A published protocol of the data's corpus (``"emobox"``, ``"pepino2021"``,
            ``"luna2022"``): its clips, classes and folds; every clip it takes must be there.
        refit: Train each fold's reported model on its train and dev speakers together once
            the choices are made on dev (no effect on folds without dev); the library's regime.
        as_published: Run the protocol's paper's own regime instead of the library's
            (:attr:`~ravdess_prep.corpora.protocols.Protocol.published`: where its choices are
            made, whether it trains again); ``refit`` is then the regime's.
        model_root: If given, each fold's model folder is written under it.
        verbose: Keras verbosity.

    Returns:
        ``{"protocol", "folds": [{"test_speakers", "dev_speakers", "dev_clips", "clips", "ua",
        "wa", "macro_f1", "chosen"}...], "ua": {"mean", "std", "ci95"}, "wa": {...},
        "macro_f1": {...}, "interval", "regime", "refit", "config"}``: fractions in 0..1, the
        standard deviation over folds (ddof 0), and the 95 % interval of the mean by a bootstrap
        over test speakers (:mod:`ravdess_prep.evaluation.intervals`; ``interval`` says how it
        was drawn); ``regime`` says where the choices were made and whether the model was
        trained again (``dev_speakers`` is empty when dev is not a set of speakers).

    Raises:
        SourceError: The data lacks speakers, or clips or speakers the protocol takes.
        ParameterError: Unknown folds or protocol, or both given; ``as_published`` without a
            protocol that declares its regime.
    """
    if as_published and protocol is None:
        raise ParameterError(f"{option('as_published')} runs a published protocol's own regime; give "
                             f"{option('protocol')}")
    if model_root is not None:  # refused before any work, named as given
        check_outside_datasets(check_writable_folder(model_root, flag="model_root"), flag="model_root")
    given = config
    fused = len(folders_of(data)) > 1
    training = read_data(data, layers=config.layers if fused else None, built_protocol=protocol is None)
    where = training.where
    if fused:  # the layers are taken when the datasets are fused
        config = dataclasses.replace(config, layers=None)
    clips = pooled(training.bundles)
    if clips.speakers is None:
        raise SourceError(f"{where}: the bundles do not say each clip's speaker; cross-validation needs them")
    corpus = corpus_of(training)
    if protocol is not None:
        if folds not in ("speaker", None):
            raise ParameterError(f"{option('protocol', protocol)} fixes the folds; give no {option('folds')}")
        chosen = corpus_protocol(protocol, corpus=corpus.name)
        clips = take_protocol(chosen, clips, where=where)
        plan = [(f"{protocol} fold {index}", fold.test, fold.dev) for index, fold in enumerate(chosen.folds(), 1)]
        by_clip = chosen.clip_folds is not None
        regime = _regime(chosen, as_published=as_published, refit=refit)
    else:
        plan, by_clip = list(_folds(folds, clips.speakers, corpus=corpus, seed=config.seed)), False
        regime = library_regime(refit=refit)
    refit = regime.refit
    results, confusions = [], []
    for index, (label, test, dev) in enumerate(plan):
        held, watched = fold_partition(clips.speakers, test=test, dev=dev, regime=regime, seed=[config.seed, index],
                                       held=np.isin(clips.names, list(chosen.test_clips(index))) if by_clip else None)
        if not held.any():
            _log.info("%s left out: the bundles hold no clip of its test speakers %s", label, _speakers(test))
            continue
        fold = {"train": subset(clips, np.flatnonzero(~held & ~watched)), "test": subset(clips, np.flatnonzero(held))}
        if watched.any():
            fold["dev"] = subset(clips, np.flatnonzero(watched))
        elif dev:
            _log.info("%s: the bundles hold no clip of its dev speakers %s; trained without a dev split", label,
                      _speakers(dev))
        if model_root is not None:
            folder = Path(model_root) / (f"fold-{index + 1}" if by_clip else
                                         "fold-" + "-".join(f"{int(s):02d}" for s in test))
            metrics = train(fold, folder, config, refit=refit, verbose=verbose, flag="model_root",
                            keep_predictions=True).metrics
        else:  # nothing kept: nothing written
            _, metrics = fit_and_score(fold, config, refit=refit, verbose=verbose, where=where, splits=("test",),
                                       keep_predictions=True)
        scores = metrics["splits"]["test"]
        confusions.append(speaker_confusions(scores["labels"], scores["predicted"], scores["speakers"],
                                             num_classes=len(metrics["class_names"])))
        results.append({"test_speakers": sorted(int(s) for s in np.unique(clips.speakers[held])),
                        "dev_speakers": sorted(int(s) for s in np.unique(clips.speakers[watched]))
                        if regime.dev == "speakers" else [], "dev_clips": int(watched.sum()),
                        "clips": scores["clips"], **{name: scores[name] for name in SCORES},
                        "chosen": _chosen(metrics), "trained_on": metrics["trained_on"]})
    if not results:
        raise SourceError(f"{where}: no fold has a test clip")
    interval = speaker_bootstrap(confusions, seed=config.seed)
    summary = {name: {"mean": float(np.mean([fold[name] for fold in results])),
                      "std": float(np.std([fold[name] for fold in results])), "ci95": interval[name]}
               for name in SCORES}
    widthless = all(len(fold) == 1 for fold in confusions)
    return {"protocol": protocol, "folds": results, **summary,
            "interval": {"method": METHOD, "level": LEVEL, "resamples": RESAMPLES, "seed": config.seed,
                         **({"note": "one test speaker per fold: the interval has no width and says nothing"}
                            if widthless else {})},
            **({"speaker_norm": speaker_norm_record(enrol_clips=given.enrol_clips, seed=given.seed)} if given.speaker_norm else {}),
            **({"speaker_dependent": True} if protocol is not None and chosen.speaker_dependent else {}),
            "regime": {**regime.describe(), **({"seed": config.seed} if regime.dev == "random" else {})},
            "refit": refit, "config": given.to_dict()}


def fold_partition(speakers: np.ndarray, *, test, dev, regime: Regime, seed,
                   held: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(test mask, dev mask)`` of one fold's clips under a regime; train is the rest.

    Args:
        speakers: Each clip's speaker, ``(clips,)``.
        test: The fold's test speakers.
        dev: Its dev speakers (used when the regime's dev is ``"speakers"``).
        regime: Where the choices are made.
        seed: Seeds the draw of a random dev (``dev="random"``: that share of the clips not
            tested, rounded, whatever their speaker; the draw is the same for the same seed).
        held: The test clips, for folds of clips rather than of speakers (``test`` unused).
    """
    held = np.isin(speakers, test) if held is None else np.asarray(held, bool)
    if regime.dev == "speakers":
        return held, np.isin(speakers, dev)
    watched = np.zeros(len(speakers), bool)
    if regime.dev == "random":
        pool = np.random.default_rng(seed).permutation(np.flatnonzero(~held))
        watched[pool[:int(round(regime.dev_fraction * pool.size))]] = True
    return held, watched


def write_record(record: dict, path: str | os.PathLike) -> Path:
    """Write a :func:`cross_validate` record as JSON, atomically."""
    return write_json(path, record)


def check_record_path(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a ``--json`` path that is a folder, lies in a missing folder
    or in a dataset folder, or is a file other than a cross-validation record.

    Raises:
        OutputError: The message names the path.
    """
    return check_report_path(path, flag="json", command="crossval",
                             ours=lambda existing: json_record_with(existing, ("folds", "ua")))


def _folds(folds, speakers: np.ndarray, *, corpus: Corpus, seed: int) -> Iterator[tuple[str, tuple[int, ...], tuple]]:
    """``(name, test speakers, dev speakers)`` of each fold that ``folds`` names."""
    if folds in ("speaker", "actor", None):
        return ((f"speaker {int(speaker):02d}", (int(speaker),), ()) for speaker in np.unique(speakers))
    if isinstance(folds, str) and folds in corpus.split_presets and corpus.preset(folds).groups is not None:
        preset, order = corpus.preset(folds), tuple(corpus.speakers) or tuple(int(s) for s in np.unique(speakers))
        return ((f"{folds} fold {fold}", *reversed(preset.speakers(fold=fold, speakers=order)))
                for fold in range(1, preset.fold_count(order) + 1))
    if isinstance(folds, int) and not isinstance(folds, bool):
        return ((f"fold {index}", held, ())
                for index, (held, _, _) in enumerate(k_fold_by_speaker(speakers, num_folds=folds, seed=seed), 1))
    with_folds = [name for name in corpus.split_presets if corpus.preset(name).groups]
    raise ParameterError(f"{option('folds')} has to be 'speaker', a number of folds, or a split preset with folds "
                         f"({', '.join(with_folds)}), not {folds!r}; a published protocol is {option('protocol')} "
                         f"({', '.join(corpus.protocols) or 'none'})")


def _regime(protocol: Protocol, *, as_published: bool, refit: bool) -> Regime:
    """The regime a protocol's folds run: its paper's, or the library's (refitting or not). A
    protocol of clip folds has no dev speakers to choose on: it always runs its paper's.

    Raises:
        ParameterError: ``as_published`` for a protocol that declares no published regime.
    """
    if not as_published and protocol.clip_folds is None:
        return library_regime(refit=refit)
    if protocol.published is None:
        raise ParameterError(f"{option('protocol', protocol.name)} does not declare how its paper trained; "
                             f"{option('as_published')} cannot run it")
    return protocol.published


def _chosen(metrics: dict) -> dict:
    """What a fold's model chose: its head, layers and shrinkage, and for an ensemble its
    members (``[layers, shrinkage]`` each)."""
    config = metrics["config"]
    members = metrics.get("choices", {}).get("members", [])
    design = metrics.get("design", {}).get("tried", [])
    return {"head": config["head"], "layers": config.get("layers"), "layer": config.get("layer"),
            "shrinkage": config.get("shrinkage"),
            **({"design": design[0], "designs_tried": len(design)} if design else {}),
            **({"members": [[member.get("layers"), member.get("shrinkage")] for member in members]} if len(members) > 1
               else {})}


def _speakers(speakers) -> str:
    return ", ".join(f"{int(speaker):02d}" for speaker in speakers)

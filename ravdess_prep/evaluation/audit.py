"""An audit of a dataset's splits (or of a protocol's folds) for what makes scores optimistic:
speakers on both sides, the same audio under two names, the texts spoken on both sides, the
class balance of each split, and how well a linear probe names a clip's speaker from its row.

Each check is a pure function of arrays; :func:`audit` reads the dataset, runs them for every
group of splits (the dataset's, or each fold's), and gives every check a verdict in words. The
same audio is found by the SHA-256 of each clip's decoded samples (so a FLAC and a WAV of the
same recording match), read from the source the manifest records; where that source is not at
hand the check says so instead of passing.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..audio.io import read_audio
from ..corpora import Corpus
from ..corpora.protocols import library_regime
from ..dataset.bundles import Bundle
from ..exceptions import SourceError
from ..storage.atomic import write_json
from ..storage.guards import check_report_path, json_record_with
from .clips import pooled, subset, take_protocol
from .crossval import fold_partition
from .shrinkage_lda import fit_shrinkage_lda
from .training_data import corpus_of, corpus_protocol, read_data

#: The share of each training speaker's clips the speaker probe holds out, and its shrinkage.
PROBE_HELD_OUT, PROBE_SHRINKAGE = 0.2, 0.5
#: The keys of an audit's record.
KEYS = ("speakers_in_several_splits", "duplicate_audio", "shared_texts", "class_counts", "speaker_probe", "verdict")


def speakers_in_several_splits(speakers: Mapping[str, np.ndarray]) -> list[dict]:
    """``[{"speaker", "splits"}]`` of each speaker with clips in more than one split
    (``speakers``: each split's clips' speakers)."""
    found = {}
    for split, values in speakers.items():
        for speaker in np.unique(values):
            found.setdefault(int(speaker), []).append(split)
    return [{"speaker": speaker, "splits": splits} for speaker, splits in sorted(found.items()) if len(splits) > 1]


def duplicate_pairs(digests: Mapping[str, str], split_of: Mapping[str, str]) -> list[dict]:
    """``[{"clips": [a, b], "splits": [split of a, split of b]}]`` for every two clips of the
    same digest (``digests``: clip name to the SHA-256 of its decoded samples)."""
    by_digest = {}
    for name in sorted(digests):
        by_digest.setdefault(digests[name], []).append(name)
    pairs = []
    for names in by_digest.values():
        for index, first in enumerate(names):
            for second in names[index + 1:]:
                if first in split_of and second in split_of:
                    pairs.append({"clips": [first, second], "splits": [split_of[first], split_of[second]]})
    return pairs


def shared_texts(texts: Mapping[str, np.ndarray]) -> dict:
    """``{text: {split: clips}}`` of each text spoken in more than one split."""
    counts = {}
    for split, values in texts.items():
        for text, count in zip(*np.unique(np.asarray(values).astype(str), return_counts=True)):
            counts.setdefault(str(text), {})[split] = int(count)
    return {text: splits for text, splits in sorted(counts.items()) if len(splits) > 1}


def class_counts(labels: Mapping[str, np.ndarray], label_names: Sequence[str]) -> dict:
    """``{split: {class: clips}}``."""
    return {split: {name: int(np.sum(np.asarray(values) == index)) for index, name in enumerate(label_names)}
            for split, values in labels.items()}


def speaker_probe(rows: np.ndarray, speakers: np.ndarray, *, axes: Sequence[str], seed: int = 0,
                  layer_numbers: Sequence[int] | None = None) -> dict:
    """How well a linear probe names the speaker of held-out clips of the training speakers.

    Each speaker's clips are split at random (seeded) into :data:`PROBE_HELD_OUT` held out and
    the rest; a shrinkage LDA (shrinkage :data:`PROBE_SHRINKAGE`, closed form) is fitted on the
    rest with the speaker as the class and scored on the held-out clips. A stack of layers is
    probed layer by layer; a sequence by the mean of its examples.

    Returns:
        ``{"accuracy": {layer or "all": fraction}, "chance": 1 / speakers, "speakers",
        "held_out_clips", "seed"}``.
    """
    rows = np.asarray(rows, np.float64)
    axes = list(axes)
    if "examples" in axes:  # a sequence: the mean over its examples
        rows, axes = rows.mean(axis=1 + axes.index("examples")), [axis for axis in axes if axis != "examples"]
    names, codes = np.unique(speakers, return_inverse=True)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(codes), bool)
    for code in range(len(names)):
        own = rng.permutation(np.flatnonzero(codes == code))
        held[own[:int(round(PROBE_HELD_OUT * own.size))]] = True
    views = ({str(number): rows[:, index] for index, number in enumerate(layer_numbers or range(rows.shape[1]))}
             if axes and axes[0] == "layers" else {"all": rows})
    accuracy = {}
    for view, values in views.items():
        flat = values.reshape(len(values), -1)
        probe, = fit_shrinkage_lda(flat[~held], codes[~held], num_classes=len(names), shrinkages=[PROBE_SHRINKAGE])
        accuracy[view] = float(np.mean(probe.predict(flat[held]) == codes[held]))
    return {"accuracy": accuracy, "chance": 1.0 / len(names), "speakers": len(names),
            "held_out_clips": int(held.sum()), "seed": seed}


def audio_digests(paths: Mapping[str, str | os.PathLike]) -> dict[str, str]:
    """``{clip name: SHA-256 of its decoded samples}``: the samples as little-endian float32,
    channels interleaved, after the sample rate and the channel count."""
    digests = {}
    for name, path in paths.items():
        samples, rate = read_audio(path, name=str(path))
        digest = hashlib.sha256(f"{rate}:{samples.shape[1]}:".encode())
        digest.update(np.ascontiguousarray(samples, "<f4").tobytes())
        digests[name] = digest.hexdigest()
    return digests


def audit(dataset: str | os.PathLike, *, protocol: str | None = None, seed: int = 0) -> dict:
    """Every check of the module on a dataset's splits, or on each fold of ``protocol`` (the
    folds ``crossval --protocol`` runs, in the library's regime), with a verdict per check.

    Returns:
        ``{"dataset", "protocol", "groups": [{"name", "speakers_in_several_splits",
        "duplicate_audio", "shared_texts", "class_counts"}...], "speaker_probe",
        "duplicate_audio", "speakers_in_several_splits", "shared_texts", "class_counts",
        "verdict"}``: the top-level checks are those of the first group (the dataset's splits, or
        fold 1), ``duplicate_audio`` is None where the source is not at hand.

    Raises:
        SourceError: The dataset's bundles lack speakers.
    """
    training = read_data(dataset, built_protocol=protocol is None)
    manifest = training.manifest
    corpus = corpus_of(training)
    metadata = _metadata(Path(dataset), column=corpus.text_column)
    groups = _groups(training.bundles, protocol=protocol, corpus=corpus, seed=seed, where=training.where)
    digests, missing = _digests(manifest, corpus, names=[name for _, splits in groups for bundle in splits.values()
                                                          for name in bundle.names])
    records = []
    for name, splits in groups:
        split_of = {str(clip): split for split, bundle in splits.items() for clip in bundle.names}
        texts = ({split: [metadata[str(clip)] for clip in bundle.names] for split, bundle in splits.items()}
                 if corpus.text_column and metadata and all(str(clip) in metadata for clip in split_of) else None)
        records.append({
            "name": name, "speakers_in_several_splits": speakers_in_several_splits(
                {split: bundle.speakers for split, bundle in splits.items()}),
            "duplicate_audio": None if digests is None else duplicate_pairs(digests, split_of),
            "shared_texts": None if texts is None else shared_texts(texts),
            "class_counts": class_counts({split: bundle.labels for split, bundle in splits.items()},
                                         next(iter(splits.values())).label_names or ())})
    train = groups[0][1]["train"]
    probe = speaker_probe(train.embeddings, train.speakers, axes=train.axes or ("dim",), seed=seed,
                          layer_numbers=train.layer_numbers)
    first = records[0]
    record = {"dataset": str(dataset), "protocol": protocol, "groups": records, "speaker_probe": probe,
              **{key: first[key] for key in ("speakers_in_several_splits", "duplicate_audio", "shared_texts",
                                            "class_counts")},
              **({"duplicate_audio_note": missing} if missing else {})}
    record["verdict"] = verdict(record, text_column=corpus.text_column)
    return record


def verdict(record: dict, *, text_column: str | None) -> dict:
    """One plain sentence per check of an :func:`audit` record."""
    groups = record["groups"]
    mixed = [group for group in groups if group["speakers_in_several_splits"]]
    speakers = ("no speaker has clips in more than one split: the scores are speaker-independent" if not mixed else
                f"{len(mixed)} of {len(groups)} split groups share speakers between splits "
                f"({len(mixed[0]['speakers_in_several_splits'])} speakers in {mixed[0]['name']}): the scores are "
                "speaker-dependent and will not hold for new speakers")
    if record["duplicate_audio"] is None:
        duplicates = f"not checked: {record.get('duplicate_audio_note', 'the source audio is not at hand')}"
    else:
        pairs = {tuple(pair["clips"]) for group in groups for pair in group["duplicate_audio"]}
        across = {tuple(pair["clips"]) for group in groups for pair in group["duplicate_audio"]
                  if pair["splits"][0] != pair["splits"][1]}
        where = " in some fold" if len(groups) > 1 else ""
        duplicates = ("no two clips hold the same audio" if not pairs else
                      f"{len(pairs)} pair{'s' if len(pairs) > 1 else ''} of clips hold{'' if len(pairs) > 1 else 's'} "
                      f"the same audio, {len(across)} of them on two sides of a split{where}"
                      + (" (a scored clip's recording is also trained on or chosen on)" if across
                         else " (each within one split: counted twice)"))
    if text_column is None or record["shared_texts"] is None:
        texts = "not checked: the corpus records no text per clip"
    else:
        shared = record["shared_texts"]
        texts = (f"no {text_column} is spoken in two splits" if not shared else
                 f"{len(shared)} {text_column}{'s are' if len(shared) > 1 else ' is'} spoken in several splits "
                 "(counted, not an error: a lexical cue the model may use, as in every corpus of fixed sentences)")
    sizes = [count for group in groups for counts in group["class_counts"].values() for count in counts.values()]
    balance = ("every split holds every class" if min(sizes, default=0) > 0 else
               "some split lacks a class: its scores leave that class out")
    probe = record["speaker_probe"]
    best = max(probe["accuracy"].values())
    identity = (f"a linear probe names the speaker of held-out clips with accuracy up to {best:.2f} (chance "
                f"{probe['chance']:.2f}): " + ("the rows carry speaker identity, so speaker-dependent splits "
                                               "overstate what the model knows of emotion"
                                               if best > 2 * probe["chance"] else "the rows carry little of it"))
    return {"speakers": speakers, "duplicate_audio": duplicates, "shared_texts": texts, "class_balance": balance,
            "speaker_identity": identity}


def write_record(record: dict, path: str | os.PathLike) -> Path:
    """Write an :func:`audit` record as JSON, atomically."""
    return write_json(path, record)


def check_record_path(path: str | os.PathLike) -> Path:
    """Refuse, before any work, a ``--json`` path that is a folder, lies in a missing folder or a
    dataset folder, or is a file other than an audit record."""
    return check_report_path(path, flag="json", command="audit",
                             ours=lambda existing: json_record_with(existing, ("verdict", "speaker_probe")))


def _groups(bundles: Mapping[str, Bundle], *, protocol: str | None, corpus: Corpus, seed: int,
            where: str) -> list[tuple[str, dict[str, Bundle]]]:
    """``[(name, {split: Bundle})]``: the dataset's splits, or each fold of ``protocol``."""
    if any(bundle.speakers is None for bundle in bundles.values()):
        raise SourceError(f"{where}: the bundles do not say each clip's speaker; an audit needs them")
    if protocol is None:
        return [("the dataset's splits", {split: bundle for split, bundle in bundles.items() if len(bundle)})]
    chosen = corpus_protocol(protocol, corpus=corpus.name)
    clips = take_protocol(chosen, pooled(bundles), where=where)
    groups = []
    for index, fold in enumerate(chosen.folds(), 1):
        by_clip = chosen.test_clips(index - 1)
        held, watched = fold_partition(clips.speakers, test=fold.test, dev=fold.dev, regime=library_regime(),
                                       seed=[seed, index - 1],
                                       held=None if by_clip is None else np.isin(clips.names, list(by_clip)))
        parts = {"train": ~held & ~watched, "dev": watched, "test": held}
        groups.append((f"{protocol} fold {index}",
                       {split: subset(clips, np.flatnonzero(mask)) for split, mask in parts.items() if mask.any()}))
    return groups


def _metadata(folder: Path, *, column: str | None) -> dict[str, str]:
    """``{clip name: text}`` from the dataset's ``metadata.csv`` (empty without one, or where the
    corpus names no text column)."""
    import pandas

    path = folder / "metadata.csv"
    if column is None or not path.is_file():
        return {}
    table = pandas.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(table["clip_name"], table[column])) if column in table.columns else {}


def _digests(manifest, corpus: Corpus, *, names: Sequence[str]) -> tuple[dict[str, str] | None, str | None]:
    """The decoded samples' digests of the clips ``names`` from the source the manifest records,
    or ``(None, why not)``."""
    roots = [Path(root) for root in (manifest.source.get("roots", []) if manifest is not None else [])]
    if not roots or not all(root.is_dir() for root in roots):
        return None, "the source the manifest records is not at hand (" + (
            ", ".join(map(str, roots)) or "none recorded") + ")"
    inventory = corpus.inventory([str(root) for root in roots])
    paths = dict(zip(inventory["clip_name"].astype(str), inventory["path"].astype(str)))
    wanted = set(map(str, names))
    absent = sorted(wanted - set(paths))
    if absent:
        return None, f"{len(absent)} clips are not in the source any more (the first: {absent[0]})"
    return audio_digests({name: paths[name] for name in sorted(wanted)}), None

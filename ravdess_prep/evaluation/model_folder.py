"""A model folder, as ``train`` writes it: its files, the guard that refuses a folder ``train``
did not write, the record of what a model was trained on (``metrics.json``), and the check that
a dataset is the one a model was trained on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..corpora.emotions import CANONICAL
from ..dataset.manifest import Manifest
from ..exceptions import ModelFileError, ParameterError, SourceError
from ..storage.digest import file_digest, json_digest
from ..storage.guards import check_owned_folder
from .heads import HEADS, Head

MODEL_FILE = Head.model_file
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
CONFUSION_FILE = "confusion_matrix.png"
LAYER_WEIGHTS_FILE = "layer_weights.png"
#: The files ``train`` writes into a model folder that make a folder one it wrote.
MODEL_FILES = (MODEL_FILE, METRICS_FILE)
#: The keys of ``metrics.json`` that record the SHA-256 of the model's file, and of the
#: record's own values (every other key).
MODEL_DIGEST = "model_sha256"
RECORD_DIGEST = "record_sha256"


def check_model_folder(path: str | os.PathLike, *, flag: str = "model_dir") -> Path:
    """Refuse a model folder that is a file, lies inside a dataset folder, or is a non-empty
    folder ``train`` did not write (see :data:`ravdess_prep.storage.guards.OUTPUT_RULE`).

    Raises:
        OutputError: The message names the path and the option.
    """
    return check_owned_folder(path, flag=flag, command="train", marks=MODEL_FILES)


def _head_of(record: dict, path: Path) -> Head:
    """The head a model record names (a generic Keras head for a record that names none).

    Raises:
        SourceError: The recorded head is not installed (a plug-in no longer is); the message
            names the record.
        RavdessPrepError: The head's plug-in cannot be loaded.
    """
    name = record.get("config", {}).get("head")
    if not isinstance(name, str):
        return Head()
    if name not in HEADS:
        raise SourceError(f"{path}: the model was made by the head {name!r}, which is not installed (the heads: "
                          f"{', '.join(HEADS)})")
    return HEADS.get_named(name)


def load_model(model_dir: str | os.PathLike):
    """The trained model saved by :func:`ravdess_prep.evaluation.classifier.train` (see
    :func:`load_trained`)."""
    return load_trained(model_dir)[1]


def load_trained(model_dir: str | os.PathLike, *, record: dict | None = None) -> tuple[Head, object]:
    """``(head, model)``: the trained model, loaded by the head its record names, and checked
    against the record: the file's SHA-256 (where recorded), and as many outputs as the record
    has classes.

    Args:
        model_dir: The model folder.
        record: Its record, when the caller has read it already (:func:`read_model_record`).

    Raises:
        SourceError: The folder holds no model, or its record contradicts the network.
        ModelFileError: The model's file differs from the one ``train`` wrote, or is damaged.
    """
    metrics = Path(model_dir) / METRICS_FILE
    if record is None:
        record = read_model_record(model_dir) if metrics.is_file() else {}
    head = _head_of(record, metrics)
    path = Path(model_dir) / head.model_file
    if not path.is_file():
        raise SourceError(f"{path}: no trained model (run `ravdess-prep train` first)")
    recorded = record.get(MODEL_DIGEST)
    if recorded is not None and (found := file_digest(path)) != recorded:
        raise ModelFileError(f"{path}: SHA-256 {found}, but {METRICS_FILE} records {recorded} (changed since train "
                             "wrote it); train the model again")
    try:
        model = head.load(path)
    except Exception as error:  # Keras's loader raises many kinds for a damaged file
        raise ModelFileError(f"{path}: not a readable model ({type(error).__name__}: "
                             f"{' '.join(str(error).split())[:200]})") from None
    outputs = getattr(model, "output_shape", (None,))[-1]
    names = record.get("class_names")
    if names is not None and isinstance(outputs, int) and len(names) != outputs:
        raise SourceError(f"{metrics}: {len(names)} class names for a model of {outputs} outputs; the record does "
                          "not belong to this model")
    return head, model


def seal(record: dict, model_file: Path) -> dict:
    """``record`` with the SHA-256 of the model's file and of its own values (what
    :func:`read_model_record` and :func:`load_model` check)."""
    sealed = {key: value for key, value in record.items() if key != RECORD_DIGEST}
    sealed[MODEL_DIGEST] = file_digest(model_file)
    sealed[RECORD_DIGEST] = json_digest(sealed, allow_nan=True)
    return sealed


def read_model_record(model_dir: str | os.PathLike) -> dict:
    """What a model folder's ``metrics.json`` records: its configuration, classes, scores and
    the dataset it was trained on; checked against its own SHA-256 (where recorded), its
    classes a list of names, its canonical names the vocabulary's.

    Raises:
        SourceError: No such file, not readable JSON, not an object, edited since it was
            written, or classes that are not names; the message names it.
    """
    path = Path(model_dir) / METRICS_FILE
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; is {model_dir} a model folder written by ravdess-prep train?") \
            from None
    except (OSError, ValueError) as error:
        raise SourceError(f"{path}: not readable ({error})") from None
    if not isinstance(record, dict):
        raise SourceError(f"{path}: not a model record (a JSON object)")
    recorded = record.get(RECORD_DIGEST)
    if recorded is not None:
        values = {key: value for key, value in record.items() if key != RECORD_DIGEST}
        try:
            found = json_digest(values, allow_nan=True)
        except (TypeError, ValueError):
            found = None
        if found != recorded:
            raise SourceError(f"{path}: edited since train wrote it (its values no longer have the SHA-256 it "
                              "records); train the model again")
    if "class_names" not in record:
        raise SourceError(f"{path}: no class_names; not a record ravdess-prep train wrote")
    for key in ("class_names", "canonical_names"):
        names = record.get(key)
        if names is not None and (not isinstance(names, list) or not all(isinstance(name, str) for name in names)):
            raise SourceError(f"{path}: {key} has to be a list of names, not {names!r}")
    unknown = [name for name in record.get("canonical_names") or () if name not in CANONICAL]
    if unknown:
        raise SourceError(f"{path}: {unknown[0]!r} is no canonical emotion (the vocabulary: {', '.join(CANONICAL)})")
    return record


def dataset_record(manifest: Manifest) -> dict:
    """What identifies the data a model is trained on: the settings that decide a clip's
    embedding, the target length, the model files' digests and a row's shape."""
    config = {key: value for key, value in manifest.config.to_dict().items() if key not in manifest.config.SPLIT_FIELDS}
    return {"config": config, "target_length_samples": manifest.target.length_samples,
            "files": {role: entry["sha256"] for role, entry in sorted(manifest.embedder.get("files", {}).items())},
            "row_shape": list(manifest.row_shape)}


def check_same_dataset(trained: dict | None, given: dict, *, model_dir, dataset) -> None:
    """Raise :class:`ParameterError` when a model was trained on data other than ``dataset``'s
    (other settings, target, model files or shape), naming both and the first difference."""
    difference = None if trained is None else dataset_difference(trained, given)
    if difference is not None:
        raise ParameterError(f"{model_dir} was trained on data other than {dataset}'s ({difference}); "
                             "give the dataset the model was trained on")


def dataset_difference(first: dict, second: dict) -> str | None:
    """The first difference between two datasets' records (:func:`dataset_record`) in words
    (``"config differs: embedder.precision: 'fp32' against 'bf16'"``), or None."""
    if first == second:
        return None
    for key in ("row_shape", "target_length_samples", "files", "config"):
        if first.get(key) != second.get(key):
            one, other = first.get(key), second.get(key)
            if key == "config":
                detail = "; ".join(f"{name}: {left!r} against {right!r}"
                                   for name, left, right in _differences(one or {}, other or {})[:3])
            else:
                detail = f"{one!r} against {other!r}"
            return f"{key} differs: {detail}"
    return None


def _differences(first: dict, second: dict, *, prefix: str = "") -> list[tuple[str, object, object]]:
    """``(dotted name, first value, second value)`` of every setting that differs, nested
    settings (the embedder's) named one by one (``embedder.precision``)."""
    found = []
    for name in sorted(set(first) | set(second)):
        one, other = first.get(name), second.get(name)
        if one == other:
            continue
        if isinstance(one, dict) and isinstance(other, dict):
            found += _differences(one, other, prefix=f"{prefix}{name}.")
        else:
            found.append((f"{prefix}{name}", one, other))
    return found

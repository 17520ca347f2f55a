"""A model folder, as ``train`` writes it: its files, the guard that refuses a folder ``train``
did not write, the record of what a model was trained on (``metrics.json``), and the check that
a dataset is the one a model was trained on."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..dataset.manifest import Manifest
from ..exceptions import ParameterError, SourceError
from ..storage.guards import check_owned_folder
from .heads import HEADS, Head

MODEL_FILE = Head.model_file
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
CONFUSION_FILE = "confusion_matrix.png"
LAYER_WEIGHTS_FILE = "layer_weights.png"
#: The files ``train`` writes into a model folder that make a folder one it wrote.
MODEL_FILES = (MODEL_FILE, METRICS_FILE)


def check_model_folder(path: str | os.PathLike, *, flag: str = "model_dir") -> Path:
    """Refuse a model folder that is a file, lies inside a dataset folder, or is a non-empty
    folder ``train`` did not write (see :data:`ravdess_prep.storage.guards.OUTPUT_RULE`).

    Raises:
        OutputError: The message names the path and the option.
    """
    return check_owned_folder(path, flag=flag, command="train", marks=MODEL_FILES)


def model_head(model_dir: str | os.PathLike) -> Head:
    """The head a model folder's model was made by, as its record names it (a generic Keras
    head for a folder without a record).

    Raises:
        SourceError: The recorded head is not installed (a plug-in no longer is); the message
            names the record.
        RavdessPrepError: The head's plug-in cannot be loaded.
    """
    path = Path(model_dir) / METRICS_FILE
    if not path.is_file():
        return Head()
    name = read_model_record(model_dir).get("config", {}).get("head")
    if not isinstance(name, str):
        return Head()
    if name not in HEADS:
        raise SourceError(f"{path}: the model was made by the head {name!r}, which is not installed (the heads: "
                          f"{', '.join(HEADS)})")
    return HEADS.get_named(name)


def load_model(model_dir: str | os.PathLike):
    """The trained model saved by :func:`ravdess_prep.evaluation.classifier.train`, loaded by
    its head.

    Raises:
        SourceError: The folder holds no model.
    """
    head = model_head(model_dir)
    path = Path(model_dir) / head.model_file
    if not path.is_file():
        raise SourceError(f"{path}: no trained model (run `ravdess-prep train` first)")
    return head.load(path)


def read_model_record(model_dir: str | os.PathLike) -> dict:
    """What a model folder's ``metrics.json`` records: its configuration, classes, scores and
    the dataset it was trained on.

    Raises:
        SourceError: No such file, or not readable JSON; the message names it.
    """
    path = Path(model_dir) / METRICS_FILE
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise SourceError(f"{path}: no such file; is {model_dir} a model folder written by ravdess-prep train?") \
            from None
    except (OSError, ValueError) as error:
        raise SourceError(f"{path}: not readable ({error})") from None


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
    if trained is None or trained == given:
        return
    for key in ("row_shape", "target_length_samples", "files", "config"):
        if trained.get(key) != given.get(key):
            first, second = trained.get(key), given.get(key)
            if key == "config":
                changed = sorted(name for name in set(first or {}) | set(second or {})
                                 if (first or {}).get(name) != (second or {}).get(name))
                detail = "; ".join(f"{name}: {(first or {}).get(name)!r} against {(second or {}).get(name)!r}"
                                   for name in changed[:3])
            else:
                detail = f"{first!r} against {second!r}"
            raise ParameterError(f"{model_dir} was trained on data other than {dataset}'s ({key} differs: {detail}); "
                                 "give the dataset the model was trained on")

"""A YAMNet SavedModel folder: its weights, read by one rule from either layout, and its class map.

The official download (TF Hub / Kaggle Models ``google/yamnet/1``) is the YAMNet module saved
on its own: its checkpoint keys are ``_yamnet/layer_with_weights-K/<attribute>/...``. A module
wrapped in another Keras model keeps the same keys under a prefix
(``layer-1/layer/_func/_yamnet/...``). The rule accepts any one prefix holding every weight of
the published network with its shape, and refuses anything else, listing what is wrong.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from . import params
from .errors import ModelFileError

_BATCH_NORM = ("beta", "moving_mean", "moving_variance")


def weight_shapes() -> dict[tuple[int, str], tuple[int, ...]]:
    """``{(K, attribute): shape}`` of every weight of the published network
    (``layer_with_weights-K``)."""
    shapes: dict[tuple[int, str], tuple[int, ...]] = {}
    for layer, kind, _, channels_in, channels_out in params.LAYERS:
        if kind == "conv":
            shapes[(0, "kernel")] = (3, 3, channels_in, channels_out)
            shapes.update({(1, name): (channels_out,) for name in _BATCH_NORM})
            continue
        base = 2 + 4 * (layer - 2)
        shapes[(base, "depthwise_kernel")] = (3, 3, channels_in, 1)
        shapes.update({(base + 1, name): (channels_in,) for name in _BATCH_NORM})
        shapes[(base + 2, "kernel")] = (1, 1, channels_in, channels_out)
        shapes.update({(base + 3, name): (channels_out,) for name in _BATCH_NORM})
    shapes[(params.LOGITS_INDEX, "kernel")] = (params.EMBEDDING_SIZE, params.NUM_CLASSES)
    shapes[(params.LOGITS_INDEX, "bias")] = (params.NUM_CLASSES,)
    return shapes


def _reader(model_dir: Path):
    import tensorflow as tf

    if not (model_dir / "saved_model.pb").is_file():
        raise ModelFileError(f"{model_dir}: not a SavedModel folder (no saved_model.pb)")
    try:
        return tf.train.load_checkpoint(str(model_dir / params.VARIABLES_PREFIX))
    except (tf.errors.OpError, ValueError) as error:
        reason = getattr(error, "message", str(error)).strip().splitlines()[0]
        raise ModelFileError(f"{model_dir}: its variables cannot be read ({reason})") from None


def weights_prefix(model_dir: str | os.PathLike) -> str:
    """The checkpoint-key prefix of the YAMNet weights in a SavedModel folder (``""`` for the
    official layout).

    Raises:
        ModelFileError: Not a SavedModel, unreadable variables, no YAMNet weights, weights
            under several prefixes, or weights missing or of another shape (each one named).
    """
    model_dir = Path(model_dir)
    stored = _reader(model_dir).get_variable_to_shape_map()
    pattern = re.compile(params.WEIGHTS_PATTERN)
    found: dict[str, dict[tuple[int, str], tuple[int, ...]]] = {}
    for key, shape in stored.items():
        match = pattern.match(key)
        if match:
            found.setdefault(match["prefix"], {})[(int(match["index"]), match["attribute"])] = tuple(shape)
    if not found:
        raise ModelFileError(f"{model_dir}: no YAMNet weights (no variable named _yamnet/layer_with_weights-K)")
    if len(found) > 1:
        raise ModelFileError(f"{model_dir}: YAMNet weights under several prefixes: {', '.join(sorted(found))}")
    prefix, weights = next(iter(found.items()))
    problems = []
    for (index, attribute), shape in weight_shapes().items():
        if (index, attribute) not in weights:
            problems.append(f"missing layer_with_weights-{index}/{attribute} {list(shape)}")
        elif weights[(index, attribute)] != shape:
            problems.append(f"layer_with_weights-{index}/{attribute} has shape {list(weights[(index, attribute)])}, "
                            f"expected {list(shape)}")
    if problems:
        raise ModelFileError(f"{model_dir}: not the YAMNet network ({len(problems)} weights):\n  " + "\n  ".join(problems))
    return prefix


def read_weights(model_dir: str | os.PathLike) -> dict[tuple[int, str], np.ndarray]:
    """Every weight of the network, ``{(K, attribute): float32 array}``, checked as
    :func:`weights_prefix` does, and finite.

    Raises:
        ModelFileError: See :func:`weights_prefix`; or a weight holds NaN or infinite values.
    """
    model_dir = Path(model_dir)
    prefix = weights_prefix(model_dir)
    reader = _reader(model_dir)
    weights = {}
    for index, attribute in weight_shapes():
        key = f"{prefix}_yamnet/layer_with_weights-{index}/{attribute}/.ATTRIBUTES/VARIABLE_VALUE"
        try:
            value = np.asarray(reader.get_tensor(key), np.float32)
        except Exception as error:  # TensorFlow raises OpError, ValueError or IndexError for damaged data
            raise ModelFileError(f"{model_dir}: its variables cannot be read ({type(error).__name__}: {error})") from None
        if not np.isfinite(value).all():
            raise ModelFileError(f"{model_dir}: layer_with_weights-{index}/{attribute} holds NaN or infinite values")
        weights[(index, attribute)] = value
    return weights


def class_names(model_dir: str | os.PathLike) -> tuple[str, ...]:
    """The 521 AudioSet class names, in score order, from the folder's class map.

    Raises:
        ModelFileError: No class map, or not one name per class.
    """
    path = Path(model_dir) / params.CLASS_MAP
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.DictReader(stream))
        names = tuple(row["display_name"] for row in sorted(rows, key=lambda row: int(row["index"])))
    except (OSError, KeyError, ValueError) as error:
        raise ModelFileError(f"{path}: cannot read the class map ({error})") from None
    if len(names) != params.NUM_CLASSES:
        raise ModelFileError(f"{path}: {len(names)} classes, expected {params.NUM_CLASSES}")
    return names

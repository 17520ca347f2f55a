"""The model files' layout: whether a checkpoint holds every VGGish variable with its official
shape and finite values.

Fetching and identifying the official files is left to the caller (their URLs, sizes and
SHA-256 are in :mod:`vggish.params`).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import params
from .errors import ModelFileError


def check_checkpoint_layout(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Check that a checkpoint holds every VGGish variable with its official shape.

    Returns:
        ``{variable name: shape}`` as stored in the checkpoint.

    Raises:
        ModelFileError: The checkpoint cannot be read (missing, truncated, another format), or
            variables are missing or mis-shaped; every one of them is listed.
    """
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(path))
    except (tf.errors.OpError, ValueError) as error:
        reason = getattr(error, "message", str(error)).strip().splitlines()[0]
        raise ModelFileError(
            f"{path}: not a readable TensorFlow checkpoint (missing, truncated or another format): {reason}"
        ) from None
    stored = {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()}
    problems = []
    for name, shape in params.VARIABLE_SHAPES.items():
        if name not in stored:
            problems.append(f"missing {name} {list(shape)}")
        elif stored[name] != shape:
            problems.append(f"{name} has shape {list(stored[name])}, expected {list(shape)}")
    if problems:
        raise ModelFileError(
            f"{path}: incompatible with VGGish ({len(problems)} variables):\n  " + "\n  ".join(problems)
        )
    return stored


def check_checkpoint_values(path: str | os.PathLike) -> None:
    """Check that every VGGish variable of a checkpoint can be read and is finite.

    Raises:
        ModelFileError: A variable's data is damaged (unreadable), or holds NaN or infinite
            values; the message names the file and the variable.
    """
    import numpy as np
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(path))
    except (tf.errors.OpError, ValueError) as error:
        reason = getattr(error, "message", str(error)).strip().splitlines()[0]
        raise ModelFileError(f"{path}: not a readable TensorFlow checkpoint: {reason}") from None
    for name in params.VARIABLE_SHAPES:
        try:
            value = reader.get_tensor(name)
        except Exception as error:  # DataLossError, IndexError, ... for damaged data
            reason = getattr(error, "message", str(error)).strip().splitlines()[0]
            raise ModelFileError(f"{path}: the data of {name} cannot be read (damaged): {reason}") from None
        if not np.isfinite(value).all():
            raise ModelFileError(f"{path}: {name} holds {int((~np.isfinite(value)).sum())} NaN or infinite values")

"""Helpers for tests and benchmarks: a checkpoint in the official layout with random weights.

Speed and shapes do not depend on weight values, so a random checkpoint serves every test and
benchmark that cannot reach the official file. Its embeddings mean nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np

from . import params


def write_random_checkpoint(
    path: str | os.PathLike,
    *,
    seed: int = 0,
    shapes: Mapping[str, tuple[int, ...]] = params.VARIABLE_SHAPES,
    values: Mapping[str, np.ndarray] = {},
    version: int = 1,
) -> Path:
    """Write a checkpoint with seeded He-normal weights and small biases.

    Args:
        path: The checkpoint to write (the file of a V1 checkpoint, the prefix of a V2 one).
        seed: Seed of the weights: the same seed gives the same file.
        shapes: Variables to write; pass a modified copy of the official layout to make an
            incompatible checkpoint.
        values: Variables to write with these values instead (for example a NaN).
        version: 1 (a single file, like the official checkpoint) or 2 (``.index`` and ``.data``).

    Returns:
        ``path``.
    """
    import tensorflow as tf

    v1 = tf.compat.v1
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        variables = {
            name: v1.get_variable(name, shape=shape, dtype=tf.float32, initializer=v1.zeros_initializer())
            for name, shape in shapes.items()
        }
        write_version = v1.train.SaverDef.V1 if version == 1 else v1.train.SaverDef.V2
        saver = v1.train.Saver(list(variables.values()), write_version=write_version)
        with v1.Session(graph=graph) as session:
            session.run(v1.global_variables_initializer())
            for name, variable in variables.items():
                shape = shapes[name]
                if len(shape) > 1:
                    fan_in = int(np.prod(shape[:-1]))
                    value = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
                else:
                    value = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.01)
                if name in values:
                    value = np.asarray(values[name], np.float32)
                variable.load(value, session)
            saver.save(session, str(path), write_meta_graph=False, write_state=False)
    return path

"""The YAMNet network, built in code (TensorFlow ops) with the weights of a SavedModel folder.

:class:`YAMNet` reads the weights once (:func:`yamnet_model.files.read_weights`) and compiles one
function for a fixed batch shape; :meth:`YAMNet.run` then only calls it. Every call sees
exactly ``batch_size`` patches (a last partial batch is padded with zeros and the padding's
outputs dropped), so a patch's outputs do not depend on how many patches are run with it, nor
where: patches of many clips run in one batch, and a patch of silence can be run once.
"""

from __future__ import annotations

import os

import numpy as np

from . import params
from .errors import InputError
from .files import read_weights


def network(patches, weights: dict, *, epsilon: float = params.BATCH_NORM_EPSILON):
    """The published network on a batch of log-mel patches (TensorFlow ops).

    Args:
        patches: float32 tensor ``[batch, 96, 64]``.
        weights: ``{(K, attribute): array}`` (see :func:`yamnet_model.files.read_weights`).
        epsilon: BatchNormalization's epsilon.

    Returns:
        ``(scores, embeddings)``: sigmoid class scores ``[batch, 521]`` and the embeddings
        ``[batch, 1024]`` (layer 14's output averaged over time and frequency).
    """
    import tensorflow as tf

    def normalized(x, index):  # BatchNormalization at inference, no scale, then ReLU
        scale = tf.math.rsqrt(weights[(index, "moving_variance")] + epsilon)
        return tf.nn.relu(x * scale + (weights[(index, "beta")] - weights[(index, "moving_mean")] * scale))

    x = tf.reshape(patches, [-1, params.PATCH_FRAMES, params.NUM_MEL_BINS, 1])
    for layer, kind, stride, _, _ in params.LAYERS:
        if kind == "conv":
            x = normalized(tf.nn.conv2d(x, weights[(0, "kernel")], strides=stride, padding="SAME"), 1)
            continue
        base = 2 + 4 * (layer - 2)
        x = tf.nn.depthwise_conv2d(x, weights[(base, "depthwise_kernel")], strides=[1, stride, stride, 1],
                                   padding="SAME")
        x = normalized(x, base + 1)
        x = normalized(tf.nn.conv2d(x, weights[(base + 2, "kernel")], strides=1, padding="SAME"), base + 3)
    embeddings = tf.reduce_mean(x, axis=[1, 2])
    logits = tf.matmul(embeddings, weights[(params.LOGITS_INDEX, "kernel")]) + weights[(params.LOGITS_INDEX, "bias")]
    return tf.sigmoid(logits), embeddings


class YAMNet:
    """YAMNet with the weights of a SavedModel folder, ready to run on batches of patches.

    Args:
        model_dir: A YAMNet SavedModel folder (the official download, or a module wrapped in
            another Keras model; see :mod:`yamnet_model.files`).
        batch_size: Patches per call of the compiled network.

    Raises:
        ModelFileError: The folder is not a YAMNet SavedModel (see :func:`yamnet_model.files.weights_prefix`).
        InputError: ``batch_size`` is not a positive integer.
    """

    def __init__(self, model_dir: str | os.PathLike, *, batch_size: int = 64):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size has to be a positive integer, not {batch_size!r}")
        import tensorflow as tf

        self.model_dir = model_dir
        self.batch_size = batch_size
        weights = {key: tf.constant(value) for key, value in read_weights(model_dir).items()}
        signature = [tf.TensorSpec([batch_size, params.PATCH_FRAMES, params.NUM_MEL_BINS], tf.float32)]
        self._function = tf.function(lambda patches: network(patches, weights), input_signature=signature)

    def run(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and embeddings of log-mel patches.

        Args:
            patches: float array ``(n, 96, 64)``, any ``n`` including 0.

        Returns:
            ``(scores, embeddings)``: float32 ``(n, 521)`` and ``(n, 1024)``.

        Raises:
            InputError: ``patches`` has another shape, or the model was closed.
        """
        patches = np.asarray(patches, dtype=np.float32)
        if patches.ndim != 3 or patches.shape[1:] != (params.PATCH_FRAMES, params.NUM_MEL_BINS):
            raise InputError(f"patches have to have shape (n, {params.PATCH_FRAMES}, {params.NUM_MEL_BINS}), "
                             f"not {patches.shape}")
        if self._function is None:
            raise InputError("this YAMNet model was closed")
        count = patches.shape[0]
        scores = np.empty((count, params.NUM_CLASSES), np.float32)
        embeddings = np.empty((count, params.EMBEDDING_SIZE), np.float32)
        for start in range(0, count, self.batch_size):
            batch = patches[start : start + self.batch_size]
            rows = batch.shape[0]
            if rows < self.batch_size:  # same shape every call: results independent of the count
                batch = np.concatenate([batch, np.zeros((self.batch_size - rows,) + batch.shape[1:], np.float32)])
            batch_scores, batch_embeddings = self._function(batch)
            scores[start : start + rows] = batch_scores.numpy()[:rows]
            embeddings[start : start + rows] = batch_embeddings.numpy()[:rows]
        return scores, embeddings

    def embed(self, patches: np.ndarray) -> np.ndarray:
        """Embeddings of log-mel patches, float32 ``(n, 1024)``."""
        return self.run(patches)[1]

    def close(self) -> None:
        """Free the compiled function (idempotent)."""
        self._function = None

    def __enter__(self) -> "YAMNet":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

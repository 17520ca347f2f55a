"""The VGGish network (tf-slim under ``tf.compat.v1``) and a session that serves it.

:func:`define_vggish_slim` builds the published graph with the official variable names.
:class:`VGGish` builds it once in a private graph, restores a checkpoint once, and embeds any
number of examples in batches; it is a context manager that closes its session.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from . import params
from .errors import InputError, ModelFileError


def define_vggish_slim(*, fc2_activation: str | None = "relu"):
    """Add the VGGish layers to the current default graph and return the embedding tensor.

    Input placeholder ``vggish/input_features`` float32 ``[batch, 96, 64]``; output tensor
    ``vggish/embedding`` float32 ``[batch, 128]``. Convolutions are 3x3, stride 1, SAME, ReLU;
    max-pools 2x2, stride 2, SAME; fc1 has two 4096-unit ReLU layers; fc2 has 128 units with a
    ReLU (``fc2_activation="relu"``, the 2019 release) or none (``None``, the current one).

    Args:
        fc2_activation: ``"relu"`` or None.

    Returns:
        The ``vggish/embedding`` tensor.
    """
    import tensorflow as tf
    import tf_slim as slim

    v1 = tf.compat.v1
    fc2_fn = tf.nn.relu if fc2_activation == "relu" else None
    with warnings.catch_warnings():
        # tf-slim's layers call deprecated tf.compat.v1 layer methods; the graph is the same.
        warnings.simplefilter("ignore", UserWarning)
        return _layers(tf, v1, slim, fc2_fn)


def _layers(tf, v1, slim, fc2_fn):
    with slim.arg_scope(
        [slim.conv2d, slim.fully_connected],
        weights_initializer=v1.truncated_normal_initializer(stddev=0.01),
        biases_initializer=v1.zeros_initializer(),
        activation_fn=tf.nn.relu,
        trainable=False,
    ), slim.arg_scope([slim.conv2d], kernel_size=[3, 3], stride=1, padding="SAME"), slim.arg_scope(
        [slim.max_pool2d], kernel_size=[2, 2], stride=2, padding="SAME"
    ), v1.variable_scope("vggish"):
        features = v1.placeholder(tf.float32, shape=(None, params.NUM_FRAMES, params.NUM_BANDS), name="input_features")
        net = tf.reshape(features, [-1, params.NUM_FRAMES, params.NUM_BANDS, 1])
        net = slim.conv2d(net, 64, scope="conv1")
        net = slim.max_pool2d(net, scope="pool1")
        net = slim.conv2d(net, 128, scope="conv2")
        net = slim.max_pool2d(net, scope="pool2")
        net = slim.repeat(net, 2, slim.conv2d, 256, scope="conv3")
        net = slim.max_pool2d(net, scope="pool3")
        net = slim.repeat(net, 2, slim.conv2d, 512, scope="conv4")
        net = slim.max_pool2d(net, scope="pool4")
        net = slim.flatten(net)
        net = slim.repeat(net, 2, slim.fully_connected, 4096, scope="fc1")
        net = slim.fully_connected(net, params.EMBEDDING_SIZE, activation_fn=fc2_fn, scope="fc2")
        return tf.identity(net, name="embedding")


class VGGish:
    """A restored VGGish model that embeds log-mel examples.

    The graph is built and the checkpoint restored once, in the constructor; :meth:`embed` then
    only runs the session, so one instance serves any number of files. Every ``session.run``
    sees exactly ``batch_size`` examples (a last partial batch is padded with zeros and the
    padding's outputs dropped), so an example's embedding does not depend on how many examples
    are embedded with it, nor where: splitting the same examples into other calls gives the
    same bits.

    Which checkpoint is given is the caller's business: :mod:`vggish.files` tells whether it is
    the official one (by SHA-256) and whether its layout is VGGish's.

    Args:
        checkpoint_path: The checkpoint (a V1 single file, or any TF checkpoint prefix).
        fc2_activation: ``"relu"`` (2019 release; the original RAVDESS project) or None
            (current release).
        batch_size: Examples per ``session.run``.
        intra_op_threads: TensorFlow intra-op threads (None: TensorFlow's default).

    Raises:
        ModelFileError: The checkpoint cannot be restored (missing, truncated, damaged, or
            without a VGGish variable); the message names the file.
        InputError: Invalid ``fc2_activation`` or ``batch_size``.
    """

    def __init__(
        self,
        checkpoint_path: str | os.PathLike,
        *,
        fc2_activation: str | None = "relu",
        batch_size: int = 128,
        intra_op_threads: int | None = None,
    ):
        if fc2_activation not in params.FC2_ACTIVATIONS:
            raise InputError(f"fc2_activation has to be 'relu' or None, not {fc2_activation!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size has to be a positive integer, not {batch_size!r}")
        self.checkpoint_path = Path(checkpoint_path)
        self.fc2_activation = fc2_activation
        self.batch_size = batch_size
        self._session = None

        import tensorflow as tf

        v1 = tf.compat.v1
        self._graph = tf.Graph()
        with self._graph.as_default():
            embedding = define_vggish_slim(fc2_activation=fc2_activation)
            saver = v1.train.Saver(v1.global_variables())
        config = v1.ConfigProto()
        if intra_op_threads:
            config.intra_op_parallelism_threads = intra_op_threads
        self._session = v1.Session(graph=self._graph, config=config)
        try:
            with self._graph.as_default():
                saver.restore(self._session, str(self.checkpoint_path))
        except (tf.errors.OpError, ValueError) as error:
            self.close()
            reason = getattr(error, "message", str(error)).strip().splitlines()[0]
            raise ModelFileError(f"{self.checkpoint_path}: the checkpoint cannot be restored: {reason}") from None
        self._graph.finalize()
        self._input = self._graph.get_tensor_by_name(params.INPUT_TENSOR_NAME)
        self._output = embedding

    def embed(self, examples: np.ndarray) -> np.ndarray:
        """Raw embeddings of log-mel examples.

        Args:
            examples: float array of shape ``(n, 96, 64)``, any ``n`` including 0.

        Returns:
            float32 array of shape ``(n, 128)``.

        Raises:
            InputError: ``examples`` has another shape, or the model was closed.
        """
        examples = np.asarray(examples, dtype=np.float32)
        if examples.ndim != 3 or examples.shape[1:] != (params.NUM_FRAMES, params.NUM_BANDS):
            raise InputError(
                f"examples have to have shape (n, {params.NUM_FRAMES}, {params.NUM_BANDS}), not {examples.shape}"
            )
        if self._session is None:
            raise InputError("this VGGish model was closed")
        count = examples.shape[0]
        output = np.empty((count, params.EMBEDDING_SIZE), dtype=np.float32)
        for start in range(0, count, self.batch_size):
            batch = examples[start : start + self.batch_size]
            rows = batch.shape[0]
            if rows < self.batch_size:  # same shape every run: results independent of the count
                batch = np.concatenate([batch, np.zeros((self.batch_size - rows,) + batch.shape[1:], np.float32)])
            output[start : start + rows] = self._session.run(self._output, feed_dict={self._input: batch})[:rows]
        return output

    def close(self) -> None:
        """Free the session (idempotent)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def __enter__(self) -> "VGGish":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

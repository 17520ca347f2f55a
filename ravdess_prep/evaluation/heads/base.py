"""What every head is: :class:`Head`, the seam between the bundles and a classifier.

A head says which clips it takes (the output kinds of :mod:`ravdess_prep.embedders.outputs`),
which of :class:`~ravdess_prep.evaluation.train_config.TrainConfig`'s settings are its own, how
it is fitted on train, which open choices it makes on dev (the layers of a stack by default),
and how its model is saved and loaded. The library's heads are Keras models with logits output,
saved as ``model.keras``; a head is registered by name in
:data:`ravdess_prep.evaluation.heads.HEADS`, or from another package as an entry point of the
group ``ravdess_prep.heads``.

A stack of layers (a speech encoder's hidden states) is reduced to one layer by a learned
softmax weighting of the layers (the SUPERB practice, :func:`weighted_layers`), each layer
standardised on train before it is weighted.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
from pathlib import Path
from typing import ClassVar, Sequence

import numpy as np

from ...dataset.bundles import Bundle
from ...embedders.outputs import kind_of_axes
from ...exceptions import ParameterError, option

#: At most this many layer boundaries are tried (``layers="auto"``): 28 contiguous ranges.
MOST_BOUNDARIES = 8


class Head:
    """A classifier head (subclass it; the library's are in this package).

    Class attributes:
        name: Its name, as ``--head`` takes it and ``metrics.json`` records it.
        kinds: The output kinds it takes (``"vector"``, ``"sequence"``, ``"layers"``,
            ``"layer-sequences"``).
        default_for: The output kinds it is the ``auto`` head for (the library's own heads).
        own_settings: The :class:`TrainConfig` fields that are this head's alone (given for
            another head, they are refused).
        learning_rate, epochs: Its defaults where the configuration leaves them open.
        model_file: The file its model is saved to in a model folder.
        uses_frames: Whether it needs to know which frames are each clip's own (a bundle's
            ``frames``; new recordings then have theirs worked out).
    """

    name: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]] = ()
    default_for: ClassVar[tuple[str, ...]] = ()
    own_settings: ClassVar[tuple[str, ...]] = ()
    learning_rate: ClassVar[float | None] = 1e-3
    epochs: ClassVar[int | None] = 100
    model_file: ClassVar[str] = "model.keras"
    uses_frames: ClassVar[bool] = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def accepts(self, axes: Sequence[str]) -> bool:
        """Whether it takes clips of these axes."""
        return kind_of_axes(tuple(axes)).name in self.kinds

    def resolved(self, config, axes: Sequence[str]):
        """``config`` with its learning rate and epochs filled (the head's where left open)."""
        return dataclasses.replace(config, head=self.name, learning_rate=config.learning_rate or self.learning_rate,
                                   epochs=config.epochs or self.epochs)

    def prepare(self, bundle: Bundle) -> Bundle:
        """A bundle as this head takes it (unchanged, unless the head needs otherwise)."""
        return bundle

    def candidates(self, config, *, stack: Sequence[int] | None, has_dev: bool) -> list:
        """Every configuration to try on dev (one: nothing to choose). By default the layers of
        a stack (``layers="auto"``: every contiguous range, :func:`layer_ranges`).

        Raises:
            ParameterError: ``layers="auto"`` without a dev split, or for clips without layers.
        """
        if config.layers == "auto" and not has_dev:
            raise ParameterError(f"{option('layers', 'auto')} is chosen on the dev split, and there is none")
        if config.layers == "auto" and stack is None:
            raise ParameterError(f"{option('layers', 'auto')}: the clips are not a stack of layers")
        if stack is None or config.layer is not None:
            return [dataclasses.replace(config, layers=None)]
        if config.layers == "auto":
            return [dataclasses.replace(config, layers=layers) for layers in layer_ranges(stack)]
        return [config]

    def choice_of(self, config) -> dict:
        """What a candidate chose, as the model's record lists it."""
        return {"layers": None if config.layers is None else list(config.layers)}

    def ensemble_size(self, config) -> int:
        """How many of the best candidates on dev its model averages (1: the best alone)."""
        return 1

    def fit(self, data: Bundle, watched: Bundle | None, config, *, num_classes: int, verbose: int = 0):
        """``(model, history, config)``: the model of one configuration (its choices made),
        trained on ``data`` (``data`` as :func:`ravdess_prep.evaluation.fitting.model_inputs`
        gives it), watching ``watched`` (dev, or None), and the configuration resolved."""
        raise NotImplementedError(f"the {self.name} head does not say how it is fitted")

    def fit_ensemble(self, data: Bundle, members: list, *, stack: Sequence[int] | None, num_classes: int):
        """``(model, config)`` of several candidates as one model (heads whose
        :meth:`ensemble_size` can exceed 1)."""
        raise NotImplementedError(f"the {self.name} head does not average candidates")

    def dev_scores(self, train: Bundle, dev: Bundle, options: list, *, num_classes: int, inputs) -> list[float]:
        """Each option's UA on dev, trained on train. ``inputs(bundle, config)`` gives a
        bundle as the model takes it."""
        scores = []
        for option_config in options:
            model, _, _ = self.fit(inputs(train, option_config), None, option_config, num_classes=num_classes)
            predicted = np.argmax(self.logits(model, inputs(dev, option_config).embeddings), axis=-1)
            scores.append(unweighted_accuracy(dev.labels, predicted))
        return scores

    def logits(self, model, embeddings: np.ndarray, *, batch_size: int = 256) -> np.ndarray:
        """The model's score of each class before the softmax, float32 ``(clips, classes)``."""
        # batch by batch: Keras's predict costs about 80 ms a call here and grows a little each
        # call; the same batches through predict_on_batch give the same numbers
        embeddings = np.asarray(embeddings, np.float32)
        if len(embeddings) == 0:
            return np.asarray(model.predict(embeddings, verbose=0), np.float32)
        return np.concatenate([np.asarray(model.predict_on_batch(embeddings[first : first + batch_size]), np.float32)
                               for first in range(0, len(embeddings), batch_size)])

    def classes(self, model, embeddings: np.ndarray) -> np.ndarray:
        """The class of highest probability of each clip, int32 ``(clips,)``."""
        return np.argmax(probabilities(self.logits(model, embeddings)), axis=-1).astype(np.int32)

    def finite(self, model) -> bool:
        """Whether every weight of ``model`` is a finite number (a Keras model's; a model
        without ``get_weights`` is taken as it is)."""
        weights = model.get_weights() if hasattr(model, "get_weights") else []
        return all(np.isfinite(np.asarray(weight, np.float64)).all() for weight in weights)

    def save(self, model, path: str | os.PathLike) -> None:
        """Write ``model`` to ``path`` (a temporary name, renamed into place by the caller)."""
        model.save(path)

    def load(self, path: str | os.PathLike):
        """The model saved at ``path``."""
        import keras

        return keras.saving.load_model(Path(path), custom_objects=custom_objects())


class KerasHead(Head):
    """A head that is a Keras network trained by Adam on the softmax cross-entropy of its
    logits; subclasses say its layers (:meth:`layers`)."""

    #: Whether the learning rate decays to zero along a cosine over the epochs.
    decays: ClassVar[bool] = True

    def layers(self, x, config, *, axes: tuple[str, ...], train_inputs: np.ndarray | None):
        """The network from the input ``x`` to the features the logits layer takes."""
        raise NotImplementedError

    def regularizer(self, config):
        """The logits layer's weight penalty (None: none)."""
        return None

    def build(self, input_shape: tuple[int, ...], config, *, num_classes: int,
              train_inputs: np.ndarray | None = None, axes: tuple[str, ...]):
        """The head as a compiled Keras model with logits output (``config`` resolved)."""
        import keras

        inputs = keras.Input(shape=tuple(input_shape), name="embeddings")
        x = self.layers(inputs, config, axes=axes, train_inputs=train_inputs)
        outputs = keras.layers.Dense(num_classes, kernel_regularizer=self.regularizer(config), name="logits")(x)
        model = keras.Model(inputs, outputs, name=f"emotion_classifier_{self.name}")
        rate = config.learning_rate
        if self.decays and train_inputs is not None:  # decayed to zero: the fit converges, whatever the seed
            steps = config.epochs * -(-len(train_inputs) // config.batch_size)
            rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
        return model

    def fit(self, data: Bundle, watched: Bundle | None, config, *, num_classes: int, verbose: int = 0):
        """``(model, history, config)``: the network trained on ``data`` for ``config.epochs``
        (with ``early_stopping``: until dev accuracy stops improving, the best epoch kept)."""
        import keras

        config = self.resolved(config, data.axes)
        model = self.build(data.embeddings.shape[1:], config, num_classes=num_classes, train_inputs=data.embeddings,
                           axes=data.axes)
        callbacks = []
        if config.early_stopping:
            if watched is None:
                raise ParameterError(f"{option('early_stopping', config.early_stopping)} watches the dev split, and "
                                     "there is none (or it is trained on)")
            callbacks = [keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max",
                                                       patience=config.early_stopping, restore_best_weights=True)]
        validation = None if watched is None else (watched.embeddings, watched.labels)
        history = model.fit(data.embeddings, data.labels, batch_size=config.batch_size, epochs=config.epochs,
                            validation_data=validation, shuffle=True, verbose=verbose, callbacks=callbacks)
        return model, {key: [float(value) for value in values] for key, values in history.history.items()}, config


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Class probabilities, the softmax of ``logits`` (Keras's, as the models compute it),
    float32 ``(clips, classes)``."""
    import keras

    return np.asarray(keras.ops.softmax(np.asarray(logits, np.float32), axis=-1), dtype=np.float32)


def layer_ranges(numbers: Sequence[int], *, most_boundaries: int = MOST_BOUNDARIES) -> list[tuple[int, ...]]:
    """The contiguous ranges of a stack's layers that ``layers="auto"`` chooses among: every
    range between two of at most ``most_boundaries`` evenly spaced boundaries (every range of
    a stack of 7 layers; 28 ranges of a stack of 13)."""
    count = len(numbers)
    cuts = sorted({int(round(cut)) for cut in np.linspace(0, count, min(count, most_boundaries - 1) + 1)})
    return [tuple(numbers[start:end]) for start, end in itertools.combinations(cuts, 2)]


def unweighted_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    """UA: the mean recall over the classes present in ``labels``."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    return float(np.mean([np.mean(predicted[labels == label] == label) for label in np.unique(labels)]))


def standardised(x, *, train_inputs: np.ndarray | None, name: str, axis=-1):
    """``x`` standardised with the mean and variance of ``train_inputs`` (per ``axis``)."""
    import keras

    norm = keras.layers.Normalization(axis=axis, name=name)
    if train_inputs is not None:
        norm.adapt(np.asarray(train_inputs, np.float32))
    return norm(x)


def weighted_layers(x, *, standardise: bool, train_inputs: np.ndarray | None):
    """A stack's layers, each standardised on train (``standardise``), as their learned softmax
    weighting."""
    if standardise:
        x = standardised(x, train_inputs=train_inputs, name="standardise_layers", axis=(1, 2))
    return custom_objects()["LayerWeights"](name="layer_weights")(x)


@functools.lru_cache(maxsize=1)
def custom_objects() -> dict:
    """The Keras layers of the library's heads (made on first use: Keras is imported then)."""
    import keras

    @keras.saving.register_keras_serializable(package="ravdess_prep")
    class LayerWeights(keras.layers.Layer):
        """A softmax-weighted sum over axis 1 (the layers of a stack)."""

        def build(self, input_shape):
            self.logits = self.add_weight(shape=(input_shape[1],), initializer="zeros", name="logits")

        def weights_of_layers(self):
            return keras.ops.softmax(self.logits)

        def call(self, inputs):
            shape = (1, -1) + (1,) * (len(inputs.shape) - 2)
            return keras.ops.sum(inputs * keras.ops.reshape(self.weights_of_layers(), shape), axis=1)

    return {"LayerWeights": LayerWeights}


def layer_weights(model) -> list[float] | None:
    """The learned weight of each layer of a layer-stack head (None for other models)."""
    get_layer = getattr(model, "get_layer", None)
    if get_layer is None:
        return None
    try:
        layer = get_layer("layer_weights")
    except ValueError:
        return None
    return [float(value) for value in np.asarray(layer.weights_of_layers())]


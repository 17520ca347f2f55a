"""Heads for one vector per clip or a stack of layers: the linear head (standardisation, then
a dense layer with an L2 penalty: multinomial logistic regression, the usual baseline for
eGeMAPS) and a small MLP (standardisation, dropout, a ReLU layer, dropout). Both train with
Adam's learning rate decayed to zero along a cosine over the epochs, so that the fit converges
(without it, the final epochs of a noisy minibatch fit scattered test accuracy by several
points between seeds). A stack's layers are standardised and weighted
(:func:`~ravdess_prep.evaluation.heads.base.weighted_layers`)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

from .base import KerasHead, standardised, weighted_layers

#: The linear head's L2 penalty when the configuration leaves it open: for one vector per clip
#: (chosen on the dev split of the eGeMAPS bundles), and for a stack of layers (chosen on the dev
#: split of the Whisper-base bundles: 3e-4, 3e-3, 1e-2 and 3e-2 tried).
L2_DEFAULTS = {"vector": 3e-4, "layers": 1e-2}


class _VectorHead(KerasHead):
    kinds: ClassVar[tuple[str, ...]] = ("vector", "layers")

    def layers(self, x, config, *, axes, train_inputs):
        if "layers" in axes:
            return weighted_layers(x, standardise=True, train_inputs=train_inputs)
        return standardised(x, train_inputs=train_inputs, name="standardise")


class LinearHead(_VectorHead):
    """Multinomial logistic regression on standardised features (the ``auto`` head for one
    vector per clip)."""

    name: ClassVar[str] = "linear"
    default_for: ClassVar[tuple[str, ...]] = ("vector",)
    own_settings: ClassVar[tuple[str, ...]] = ("l2",)
    learning_rate: ClassVar[float] = 1e-2
    epochs: ClassVar[int] = 500

    def resolved(self, config, axes: Sequence[str]):
        config = super().resolved(config, axes)
        if config.l2 is not None:
            return config
        return dataclasses.replace(config, l2=L2_DEFAULTS["layers" if "layers" in axes else "vector"])

    def regularizer(self, config):
        import keras

        return keras.regularizers.L2(config.l2)


class MLPHead(_VectorHead):
    """Standardisation -> Dropout -> Dense(hidden_units, ReLU) -> Dropout -> logits."""

    name: ClassVar[str] = "mlp"
    learning_rate: ClassVar[float] = 1e-3
    epochs: ClassVar[int] = 200

    def layers(self, x, config, *, axes, train_inputs):
        import keras

        x = super().layers(x, config, axes=axes, train_inputs=train_inputs)
        x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
        x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
        return keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="hidden_dropout")(x)

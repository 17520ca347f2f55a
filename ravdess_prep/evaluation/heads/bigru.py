"""The original project's head for sequences of examples (FACTS.md): BatchNormalization ->
Dropout(0.6) -> Bidirectional GRU(128) -> Dropout(0.6) -> BatchNormalization -> logits; Adam
with learning rate 1e-4, batches of 128, 160 epochs, sparse softmax cross-entropy on logits,
the learning rate constant (the original recipe). A stack of layers of sequences is first
weighted (:func:`~ravdess_prep.evaluation.heads.base.weighted_layers`, unstandardised)."""

from __future__ import annotations

from typing import ClassVar

from .base import KerasHead, weighted_layers


class BiGRUHead(KerasHead):
    """The bidirectional GRU of the original project (the ``auto`` head for sequences)."""

    name: ClassVar[str] = "bigru"
    kinds: ClassVar[tuple[str, ...]] = ("sequence", "layer-sequences")
    default_for: ClassVar[tuple[str, ...]] = ("sequence", "layer-sequences")
    own_settings: ClassVar[tuple[str, ...]] = ("gru_units",)
    learning_rate: ClassVar[float] = 1e-4
    epochs: ClassVar[int] = 160
    decays: ClassVar[bool] = False

    def layers(self, x, config, *, axes, train_inputs):
        import keras

        if "layers" in axes:
            x = weighted_layers(x, standardise=False, train_inputs=train_inputs)
        x = keras.layers.BatchNormalization(name="input_norm")(x)
        x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
        x = keras.layers.Bidirectional(keras.layers.GRU(config.gru_units, seed=config.seed), name="bigru")(x)
        x = keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="gru_dropout")(x)
        return keras.layers.BatchNormalization(name="gru_norm")(x)

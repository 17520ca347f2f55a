"""SUPERB's and EmoBox's head for sequences of frames: Dense(hidden_units, ReLU) on every
frame, the mean over the clip's own frames (the padding masked: frames outside a clip's own
are zeroed, and zeroed frames are left out of the mean), then the logits."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from ...dataset.bundles import Bundle
from ...embedders.outputs import zero_outside
from ...exceptions import ParameterError, option
from .base import KerasHead, weighted_layers


class SequenceHead(KerasHead):
    """Linear, ReLU, the mean over the clip's own frames, Linear."""

    name: ClassVar[str] = "sequence"
    kinds: ClassVar[tuple[str, ...]] = ("sequence", "layer-sequences")
    learning_rate: ClassVar[float] = 1e-3
    epochs: ClassVar[int] = 100
    uses_frames: ClassVar[bool] = True

    def prepare(self, bundle: Bundle) -> Bundle:
        """The bundle with every frame outside each clip's own frames zeroed.

        Raises:
            ParameterError: The clips are not sequences, or their frames are not known.
        """
        if "examples" not in bundle.axes:
            raise ParameterError(f"{option('head', self.name)} takes sequences of frames (a build with "
                                 f"{option('pool', 'none')}), not clips of axes ({', '.join(bundle.axes)})")
        if bundle.frames is None:
            raise ParameterError(f"{option('head', self.name)} needs to know which frames are each clip's own: a "
                                 "dataset of a speech encoder built with --pool none records them, these bundles do "
                                 "not")
        return dataclasses.replace(bundle, embeddings=zero_outside(bundle.embeddings, bundle.frames,
                                                                   axis=1 + bundle.axes.index("examples")))

    def layers(self, x, config, *, axes, train_inputs):
        import keras

        if "layers" in axes:  # unstandardised: the zeroed frames stay zero
            x = weighted_layers(x, standardise=False, train_inputs=train_inputs)
        x = keras.layers.Masking(mask_value=0.0, name="clip_frames")(x)
        x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
        return keras.layers.GlobalAveragePooling1D(name="mean_over_frames")(x)

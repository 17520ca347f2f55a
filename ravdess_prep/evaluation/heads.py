"""The classifier's heads: its hyperparameters (:class:`TrainConfig`) and the Keras model of
each head (:func:`build_model`).

Sequences of examples ``(examples, dim)`` go to the original project's recurrent model
(FACTS.md): BatchNormalization -> Dropout(0.6) -> Bidirectional GRU(128) -> Dropout(0.6) ->
BatchNormalization -> Dense(classes) logits; Adam with learning rate 1e-4, batches of 128, 160
epochs, sparse softmax cross-entropy on logits. One vector per clip ``(dim,)`` goes to a
linear head, standardisation (fitted on train) -> Dense(classes) with an L2 penalty
(multinomial logistic regression, the usual baseline for eGeMAPS), or to a small MLP:
standardisation -> Dropout -> Dense(hidden, ReLU) -> Dropout -> Dense(classes); both with
Adam's learning rate decayed to zero along a cosine over the epochs, so that the fit converges
(without it, the final epochs of a noisy minibatch fit scattered test accuracy by several
points between seeds).

A stack of layers (a speech encoder's hidden states, ``(layers, dim)`` or ``(layers, examples,
dim)``) is first reduced to one layer by a learned softmax weighting of the layers (the SUPERB
practice), each layer standardised on train before it is weighted; or one layer is taken
(``layer``). The axes of a bundle come from its manifest, so a stack of layers is never taken
for a sequence of examples.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..exceptions import ParameterError, option
from ..settings import INTEGER, LAYER_CHOICE, NUMBER, POSITIVE, SHRINKAGE, SWITCH, setting

HEADS = ("auto", "bigru", "mlp", "linear", "lda", "sequence")
#: The shrinkages the lda head chooses among on dev (``shrinkage="auto"``).
SHRINKAGES = (0.1, 0.3, 0.5, 0.7, 0.9)
#: The lda head's shrinkage and layers when there is no dev split to choose them on.
LDA_FALLBACK = {"shrinkage": 0.5, "layers": None}
#: How many of the best candidates on dev the lda head averages (``ensemble`` left open).
ENSEMBLE = 5
TRAINING = "training (the BiGRU's defaults are the original recipe)"
#: Each head's learning rate and epochs when the configuration leaves them open: the BiGRU's
#: are the original recipe; the linear head's converge on eGeMAPS functionals (chosen on dev).
HEAD_DEFAULTS = {"bigru": {"learning_rate": 1e-4, "epochs": 160}, "linear": {"learning_rate": 1e-2, "epochs": 500},
                 "mlp": {"learning_rate": 1e-3, "epochs": 200}, "lda": {"learning_rate": None, "epochs": None},
                 "sequence": {"learning_rate": 1e-3, "epochs": 100}}
#: The linear head's L2 penalty when the configuration leaves it open: for one vector per clip
#: (chosen on the dev split of the eGeMAPS bundles), and for a stack of layers (chosen on the dev
#: split of the Whisper-base bundles: 3e-4, 3e-3, 1e-2 and 3e-2 tried).
L2_DEFAULTS = {"vector": 3e-4, "layers": 1e-2}
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the classifier; the BiGRU's defaults are the original project's.

    Attributes:
        head: ``"bigru"`` or ``"sequence"`` (sequences of examples or frames), ``"linear"``,
            ``"mlp"`` or ``"lda"`` (one vector per clip, or a stack of layers), or ``"auto"``: the
            BiGRU for sequences, lda for a stack of layers, the linear head for vectors. The
            sequence head is SUPERB's and EmoBox's: Dense(hidden_units, ReLU) on every frame,
            the mean over the clip's own frames (the padding masked), Dense(classes).
        gru_units: Units of each direction of the bidirectional GRU.
        hidden_units: Units of the MLP's hidden layer.
        l2: The linear head's L2 penalty on its weights (multinomial logistic regression; None:
            :data:`L2_DEFAULTS`).
        dropout: Dropout rate of both dropout layers.
        learning_rate: Adam's learning rate (None: the head's, :data:`HEAD_DEFAULTS`).
        batch_size: Clips per training step.
        epochs: Passes over the training split (None: the head's).
        seed: Seed of weight initialisation, dropout and shuffling.
        num_classes: Output classes (None: the bundles' label count, 8 for RAVDESS).
        early_stopping: None: train every epoch (the original recipe). An integer: stop when
            dev accuracy has not improved for that many epochs and keep the weights of the best
            epoch (needs a dev split).
        speaker_norm: Standardise each speaker's features with that speaker's own clips before
            training and evaluating (:func:`normalise_per_speaker`), the common practice with
            eGeMAPS. It uses the unlabelled clips of the dev and test speakers; :func:`predict_files`
            then needs several clips of one speaker.
        layer: For a stack of layers: take this layer (its number as the manifest lists the
            layers) instead of learning a weighting of all of them.
        layers: For a stack of layers: these layers (numbers as the manifest lists them),
            concatenated into one vector per clip; ``"auto"``: the contiguous range that scores
            best on dev (see :func:`ravdess_prep.fitting.layer_ranges`). None: every layer,
            concatenated for the lda head, weighted for the linear and MLP heads; the lda head
            takes ``"auto"`` when there is a dev split.
        shrinkage: The lda head's shrinkage of the within-class covariance towards the
            identity, in (0, 1]; ``"auto"`` (also None with a dev split): the one of
            :data:`SHRINKAGES` that scores best on dev.
        ensemble: The lda head, when it chooses on dev: average the scores of this many of the
            best candidates (layers and shrinkage) instead of taking the best alone (None:
            :data:`ENSEMBLE`; 1: the best alone). The average of linear scorers is one linear
            scorer, so the model stays one dense layer.
    """

    head: str = setting("auto", flags="--head", choices=HEADS, group=TRAINING,
                        help="bigru or sequence (Linear, ReLU, mean over the clip's frames, Linear) for sequences "
                        "and layer sequences; linear, mlp or lda (shrinkage LDA) for (clips, dim) and layer stacks; "
                        "auto (default): bigru for sequences, lda for layer stacks, linear for vectors")
    gru_units: int = setting(128, flags="--gru-units", kind=POSITIVE, group=TRAINING, help="default 128")
    hidden_units: int = setting(256, flags="--hidden-units", kind=POSITIVE, group=TRAINING,
                                help="mlp and sequence: default 256")
    l2: float | None = setting(None, flags="--l2", kind=NUMBER, group=TRAINING,
                               help="linear: L2 penalty (default 3e-4; 1e-2 for a stack of layers)")
    dropout: float = setting(0.6, flags="--dropout", kind=NUMBER, group=TRAINING, help="default 0.6")
    learning_rate: float | None = setting(None, flags="--learning-rate", kind=NUMBER, group=TRAINING,
                                          help="default: the head's (bigru 1e-4, the original's; linear 1e-2; "
                                          "mlp 1e-3)")
    batch_size: int = setting(128, flags="--batch-size", kind=POSITIVE, group=TRAINING, help="default 128")
    epochs: int | None = setting(None, flags="--epochs", kind=POSITIVE, group=TRAINING,
                                 help="default: the head's (bigru 160, the original's; linear 500; mlp 200)")
    seed: int = setting(0, flags="--seed", kind=INTEGER, group=TRAINING, help="default 0")
    num_classes: int | None = None
    early_stopping: int | None = setting(None, flags="--early-stopping", kind=POSITIVE, group=TRAINING,
                                         help="stop when dev accuracy has not improved for EPOCHS epochs; keep the "
                                         "best weights")
    speaker_norm: bool = setting(False, flags="--speaker-norm", kind=SWITCH, group=TRAINING,
                                 help="standardise each speaker's features with that speaker's own clips (uses the "
                                 "dev and test speakers' unlabelled clips; predict then needs several clips of one "
                                 "speaker)")
    layer: int | None = setting(None, flags="--layer", kind=INTEGER, group=TRAINING,
                                help="a layer stack: take layer K (as the manifest numbers them) instead of learning a "
                                "weighting of every layer")
    layers: tuple[int, ...] | str | None = setting(None, flags="--layers", kind=LAYER_CHOICE, group=TRAINING,
                                                   help="a layer stack: these layers concatenated (a range 1-4 or a "
                                                   "list 1,2,3,4, as the manifest numbers them); auto: the range "
                                                   "that scores best on dev (the lda head's default)")
    shrinkage: float | str | None = setting(None, flags="--shrinkage", kind=SHRINKAGE, group=TRAINING,
                                            help="lda: shrinkage of the covariance towards the identity, in (0, 1]; "
                                            "auto (default with a dev split): chosen on dev among "
                                            + ", ".join(map(str, SHRINKAGES)))
    ensemble: int | None = setting(None, flags="--ensemble", kind=POSITIVE, group=TRAINING,
                                   help=f"lda, choosing on dev: average the {ENSEMBLE} (default) best candidates' "
                                   "scores; 1: the best alone")

    def __post_init__(self):
        if self.head not in HEADS:
            raise ParameterError(f"{option('head')} has to be one of {', '.join(map(repr, HEADS))}, not {self.head!r}")
        optional = tuple(name for name in ("num_classes", "early_stopping", "epochs") if getattr(self, name) is not None)
        for name in ("gru_units", "hidden_units", "batch_size") + optional:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{option(name)} has to be a positive integer, not {value!r}")
        if not 0 <= self.dropout < 1:
            raise ParameterError(f"{option('dropout')} has to be in [0, 1), not {self.dropout!r}")
        if self.l2 is not None and not self.l2 >= 0:
            raise ParameterError(f"{option('l2')} has to be a non-negative number, not {self.l2!r}")
        if self.learning_rate is not None and not self.learning_rate > 0:
            raise ParameterError(f"{option('learning_rate')} has to be positive, not {self.learning_rate!r}")
        if self.shrinkage not in (None, "auto") and (isinstance(self.shrinkage, bool) or not isinstance(
                self.shrinkage, (int, float)) or not 0 < self.shrinkage <= 1):
            raise ParameterError(f"{option('shrinkage')} has to be auto or a number in (0, 1], not {self.shrinkage!r}")
        for name in ("shrinkage", "ensemble"):
            if getattr(self, name) is not None and self.head not in ("auto", "lda"):
                raise ParameterError(f"{option(name, getattr(self, name))} is a setting of the lda head, not of "
                                     f"{option('head', self.head)}")
        if self.ensemble is not None and (isinstance(self.ensemble, bool) or not isinstance(self.ensemble, int)
                                          or self.ensemble < 1):
            raise ParameterError(f"{option('ensemble')} has to be a positive integer, not {self.ensemble!r}")
        if self.layers is not None:
            if isinstance(self.layers, list):
                object.__setattr__(self, "layers", tuple(self.layers))
            if self.layers != "auto" and (not isinstance(self.layers, tuple) or not self.layers or not all(
                    isinstance(number, int) and not isinstance(number, bool) for number in self.layers)):
                raise ParameterError(f"{option('layers')} has to be auto or a list of layer numbers, not "
                                     f"{self.layers!r}")
            if self.layer is not None:
                raise ParameterError(f"{option('layer', self.layer)} and {option('layers')} do not go together: "
                                     "give one")

    def head_for(self, axes: tuple[str, ...]) -> str:
        """The head for clips of these axes (``("examples", "dim")``, ...): the BiGRU for
        sequences, lda for a stack of layers, else linear (or the one asked for)."""
        sequence = "examples" in axes
        head = self.head if self.head != "auto" else ("bigru" if sequence else "lda" if "layers" in axes else "linear")
        if (head in ("bigru", "sequence")) != sequence:
            raise ParameterError(f"the {head} head does not take clips of axes ({', '.join(axes)})")
        return head

    def resolved(self, axes: tuple[str, ...]) -> "TrainConfig":
        """This configuration with the head chosen and its learning rate and epochs filled."""
        head = self.head_for(axes)
        defaults = HEAD_DEFAULTS[head]
        l2 = self.l2 if self.l2 is not None else L2_DEFAULTS["layers" if "layers" in axes else "vector"]
        return dataclasses.replace(self, head=head, learning_rate=self.learning_rate or defaults["learning_rate"],
                                   epochs=self.epochs or defaults["epochs"], l2=l2)


def axes_of(shape: tuple[int, ...], axes: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """A clip's axes: ``axes`` when the bundle says them, else by rank (a vector or a sequence)."""
    if axes is not None:
        if len(axes) != len(shape):
            raise ParameterError(f"clips of shape {tuple(shape)} do not have the axes ({', '.join(axes)})")
        return tuple(axes)
    return ("dim",) if len(shape) == 1 else ("examples", "dim")


@functools.lru_cache(maxsize=1)
def custom_objects() -> dict:
    """The Keras layers of this module's heads (made on first use: Keras is imported then)."""
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
    """The learned weight of each layer of a layer-stack head (None for other heads)."""
    try:
        layer = model.get_layer("layer_weights")
    except ValueError:
        return None
    return [float(value) for value in np.asarray(layer.weights_of_layers())]


def build_model(input_shape: tuple[int, ...], config: TrainConfig = TrainConfig(), *, num_classes: int = 8,
                train_inputs: np.ndarray | None = None, axes: tuple[str, ...] | None = None):
    """The classifier as a Keras model with logits output.

    Args:
        input_shape: A clip's shape: ``(dim,)``, ``(examples, dim)``, ``(layers, dim)`` or
            ``(layers, examples, dim)``.
        config: Hyperparameters (``head`` "auto" picks the BiGRU for sequences, the linear head
            else; see :meth:`TrainConfig.resolved`).
        num_classes: Output classes.
        train_inputs: The training inputs; the linear head's and the MLP's standardisation is
            fitted on them (a stack's, per layer).
        axes: The clip's axes (default: by rank, a vector or a sequence).
    """
    import keras

    axes = axes_of(tuple(input_shape), axes)
    config = config.resolved(axes)
    head = config.head
    inputs = keras.Input(shape=tuple(input_shape), name="embeddings")
    x = inputs
    if "layers" in axes:  # standardised per layer (vectors) and weighted
        if head not in ("bigru", "sequence"):  # the sequence head's zeroed frames stay zero
            norm = keras.layers.Normalization(axis=(1, 2), name="standardise_layers")
            if train_inputs is not None:
                norm.adapt(np.asarray(train_inputs, np.float32))
            x = norm(x)
        x = custom_objects()["LayerWeights"](name="layer_weights")(x)
    if head == "sequence":  # SUPERB's and EmoBox's: Linear(d, 256), ReLU, masked mean over frames, Linear
        x = keras.layers.Masking(mask_value=0.0, name="clip_frames")(x)
        x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
        x = keras.layers.GlobalAveragePooling1D(name="mean_over_frames")(x)
    elif head == "bigru":
        x = keras.layers.BatchNormalization(name="input_norm")(x)
        x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
        x = keras.layers.Bidirectional(keras.layers.GRU(config.gru_units, seed=config.seed), name="bigru")(x)
        x = keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="gru_dropout")(x)
        x = keras.layers.BatchNormalization(name="gru_norm")(x)
    else:
        if "layers" not in axes:
            norm = keras.layers.Normalization(name="standardise")
            if train_inputs is not None:
                norm.adapt(np.asarray(train_inputs, np.float32))
            x = norm(x)
        if head == "mlp":
            x = keras.layers.Dropout(config.dropout, seed=config.seed, name="input_dropout")(x)
            x = keras.layers.Dense(config.hidden_units, activation="relu", name="hidden")(x)
            x = keras.layers.Dropout(config.dropout, seed=config.seed + 1, name="hidden_dropout")(x)
    regularizer = keras.regularizers.L2(config.l2) if head == "linear" else None
    outputs = keras.layers.Dense(num_classes, kernel_regularizer=regularizer, name="logits")(x)
    model = keras.Model(inputs, outputs, name=f"emotion_classifier_{head}")
    rate = config.learning_rate
    if head != "bigru" and train_inputs is not None:  # decayed to zero: the fit converges, whatever the seed
        steps = config.epochs * -(-len(train_inputs) // config.batch_size)
        rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
    )
    return model


def lda_model(classifier, input_shape: tuple[int, ...]):
    """A fitted :class:`ravdess_prep.lda.LinearClassifier` as a Keras model (standardisation,
    then a dense layer of its weights) with logits output, saved and used like every head."""
    import keras

    inputs = keras.Input(shape=tuple(input_shape), name="embeddings")
    norm = keras.layers.Normalization(mean=classifier.mean.astype(np.float32),
                                      variance=np.square(classifier.scale).astype(np.float32), name="standardise")
    logits = keras.layers.Dense(classifier.weights.shape[1], name="logits")
    outputs = logits(norm(inputs))
    logits.set_weights([classifier.weights.astype(np.float32), classifier.bias.astype(np.float32)])
    return keras.Model(inputs, outputs, name="emotion_classifier_lda")

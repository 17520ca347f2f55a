"""The classifier's hyperparameters: :class:`TrainConfig`, one frozen record of every head's
settings, declared with their flags (:func:`ravdess_prep.settings.setting`). The heads
themselves are :mod:`ravdess_prep.evaluation.heads`; a setting that is one head's alone is
refused for another.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from ..exceptions import ParameterError, option
from ..settings import INTEGER, LAYER_CHOICE, NUMBER, POSITIVE, SHRINKAGE, SWITCH, setting
from .heads import HEADS, Head, auto_head
from .heads.lda import ENSEMBLE, SHRINKAGES

TRAINING = "training (the BiGRU's defaults are the original recipe)"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of the classifier; the BiGRU's defaults are the original project's.

    Attributes:
        head: ``"bigru"`` or ``"sequence"`` (sequences of examples or frames), ``"linear"``,
            ``"mlp"`` or ``"lda"`` (one vector per clip, or a stack of layers), or ``"auto"``: the
            BiGRU for sequences, the linear head for vectors, and for a stack of layers the
            design chosen on dev (:func:`ravdess_prep.evaluation.fitting.fit`: lda averaging
            1, 3, 5 or 10 candidates, or the linear head), lda without a dev split. The
            sequence head is SUPERB's and EmoBox's: Dense(hidden_units, ReLU) on every frame,
            the mean over the clip's own frames (the padding masked), Dense(classes).
        gru_units: Units of each direction of the bidirectional GRU.
        hidden_units: Units of the MLP's hidden layer.
        l2: The linear head's L2 penalty on its weights (multinomial logistic regression; None:
            :data:`ravdess_prep.evaluation.heads.linear.L2_DEFAULTS`).
        dropout: Dropout rate of both dropout layers.
        learning_rate: Adam's learning rate (None: the head's, its class's ``learning_rate``).
        batch_size: Clips per training step.
        epochs: Passes over the training split (None: the head's).
        seed: Seed of weight initialisation, dropout and shuffling.
        num_classes: Output classes (None: the bundles' label count, 8 for RAVDESS).
        early_stopping: None: train every epoch (the original recipe). An integer: stop when
            dev accuracy has not improved for that many epochs and keep the weights of the best
            epoch (needs a dev split).
        speaker_norm: Standardise each speaker's features with that speaker's own clips before
            training and evaluating (see :mod:`ravdess_prep.evaluation.speaker_norm`), the
            common practice with eGeMAPS. It uses the unlabelled clips of the dev and test
            speakers; :func:`ravdess_prep.predict.predict_files` then needs several clips of one
            speaker.
        enrol_clips: With ``speaker_norm``: each dev and test speaker's statistics come from
            this many of their clips (seeded by ``seed``, labels unused), which are then not
            scored (inductive); None: from all their clips, the scored ones included
            (transductive). Training speakers use all their clips either way.
        layer: For a stack of layers: take this layer (its number as the manifest lists the
            layers) instead of learning a weighting of all of them.
        layers: For a stack of layers: these layers (numbers as the manifest lists them),
            concatenated into one vector per clip; ``"auto"``: the contiguous range that scores
            best on dev (see :func:`ravdess_prep.evaluation.heads.base.layer_ranges`). None: every layer,
            concatenated for the lda head, weighted for the linear and MLP heads; the lda head
            takes ``"auto"`` when there is a dev split.
        shrinkage: The lda head's shrinkage of the within-class covariance towards the
            identity, in (0, 1]; ``"auto"`` (also None with a dev split): the one of
            :data:`~ravdess_prep.evaluation.heads.lda.SHRINKAGES` that scores best on dev.
        ensemble: The lda head, when it chooses on dev: average the scores of this many of the
            best candidates (layers and shrinkage) instead of taking the best alone (None:
            :data:`~ravdess_prep.evaluation.heads.lda.ENSEMBLE`; 1: the best alone). The average of linear scorers is one linear
            scorer, so the model stays one dense layer.
    """

    head: str = setting("auto", flags="--head", choices=lambda: ("auto",) + tuple(HEADS), group=TRAINING,
                        help="bigru or sequence (Linear, ReLU, mean over the clip's frames, Linear) for sequences "
                        "and layer sequences; linear, mlp or lda (shrinkage LDA) for (clips, dim) and layer stacks; "
                        "auto (default): bigru for sequences, linear for vectors; for layer stacks the design that "
                        "scores best on dev (lda averaging 1, 3, 5 or 10 candidates, or linear), lda without dev")
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
                                 help="standardise each speaker's features with that speaker's own clips: "
                                 "transductive, the dev and test speakers' scored clips included (unless "
                                 "--enrol-clips); predict then needs several clips of one speaker")
    enrol_clips: int | None = setting(None, flags="--enrol-clips", kind=POSITIVE, group=TRAINING,
                                      help="with --speaker-norm: take each dev and test speaker's statistics from K "
                                      "of their clips (seeded, labels unused) and never score those clips; without "
                                      "it every clip of the speaker is used, the scored ones included (transductive)")
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
        chosen = None if self.head == "auto" else HEADS.get_named(self.head)
        optional = tuple(name for name in ("num_classes", "early_stopping", "epochs", "enrol_clips")
                         if getattr(self, name) is not None)
        if self.enrol_clips is not None and not self.speaker_norm:
            raise ParameterError(f"{option('enrol_clips', self.enrol_clips)} chooses how {option('speaker_norm')} "
                                 "takes each speaker's statistics; give both")
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
        defaults = {field.name: field.default for field in dataclasses.fields(self)}
        for name, owner in (_owned_settings() if chosen is not None else {}).items():  # auto: any head's
            if getattr(self, name) != defaults[name] and name not in chosen.own_settings:
                raise ParameterError(f"{option(name, getattr(self, name))} is a setting of the {owner} head, not of "
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

    def to_dict(self) -> dict:
        """Every setting by name, JSON-ready (tuples as lists), as ``metrics.json`` records it."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    def head_for(self, axes: Sequence[str]) -> Head:
        """The head for clips of these axes (``("examples", "dim")``, ...): the one asked for,
        or with ``auto`` the library's for them (:func:`~ravdess_prep.evaluation.heads.auto_head`).

        Raises:
            ParameterError: The head does not take such clips.
        """
        head = auto_head(axes) if self.head == "auto" else HEADS.get_named(self.head)
        if not head.accepts(axes):
            raise ParameterError(f"the {head.name} head does not take clips of axes ({', '.join(axes)})")
        return head


def _owned_settings() -> dict[str, str]:
    """``{setting: head}`` of the settings that one of the library's heads has alone (given
    other than its default, refused for another head)."""
    return {name: HEADS[head].name for head in HEADS.builtin() for name in HEADS[head].own_settings}

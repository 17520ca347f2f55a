"""What a clip's embedding is: its output kind, named by its axes.

An embedder declares the kind of what one clip gives (and caches); a bundle row is that, or
that pooled over its ``examples`` axis:

=================== =========================== ======================================
kind                a clip                      examples
=================== =========================== ======================================
``vector``          ``(dim,)``                  eGeMAPS functionals, pooled sequences
``sequence``        ``(examples, dim)``         VGGish, YAMNet, eGeMAPS LLDs
``layers``          ``(layers, dim)``           a speech encoder's layers, pooled over frames
``layer-sequences`` ``(layers, examples, dim)`` a speech encoder's frames, layer by layer
=================== =========================== ======================================

A bundle adds the clip axis in front. The manifest records the kind and its axes, so that a
stack of layers is never taken for a sequence of examples.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..exceptions import ParameterError, option

#: How the examples (frames) of a clip become one vector: ``mean`` or ``mean-std`` (the mean,
#: then the standard deviation), or ``none`` (kept).
POOLS = ("none", "mean", "mean-std")


@dataclasses.dataclass(frozen=True)
class OutputKind:
    """A kind of clip output, named by its axes (the clip axis of a bundle not included)."""

    name: str
    axes: tuple[str, ...]

    @property
    def has_examples(self) -> bool:
        return "examples" in self.axes

    def pooled(self) -> "OutputKind":
        """The kind after the examples axis is pooled away."""
        return kind_of_axes(tuple(axis for axis in self.axes if axis != "examples"))

    def bundle_axes(self) -> tuple[str, ...]:
        """The axes of a bundle of such clips."""
        return ("clips",) + self.axes


VECTOR = OutputKind("vector", ("dim",))
SEQUENCE = OutputKind("sequence", ("examples", "dim"))
LAYERS = OutputKind("layers", ("layers", "dim"))
LAYER_SEQUENCES = OutputKind("layer-sequences", ("layers", "examples", "dim"))
KINDS = {kind.name: kind for kind in (VECTOR, SEQUENCE, LAYERS, LAYER_SEQUENCES)}


def kind_of_axes(axes: tuple[str, ...]) -> OutputKind:
    """The kind whose clip axes are ``axes``."""
    for kind in KINDS.values():
        if kind.axes == tuple(axes):
            return kind
    raise ParameterError(f"no output kind has the axes {axes}")


def kind_named(name: str) -> OutputKind:
    """The kind called ``name``.

    Raises:
        ParameterError: No such kind.
    """
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise ParameterError(f"output kind has to be one of {', '.join(map(repr, KINDS))}, not {name!r}") from None


def pooled_shape(kind: OutputKind, shape: tuple[int, ...], *, pool: str) -> tuple[int, ...]:
    """The shape of a clip output of ``kind`` and ``shape`` after :func:`pool_examples`."""
    if pool == "none" or not kind.has_examples:
        return tuple(shape)
    kept = tuple(size for axis, size in zip(kind.axes, shape) if axis != "examples")
    return kept[:-1] + (kept[-1] * (2 if pool == "mean-std" else 1),)


def bundle_rows(outputs: np.ndarray, *, kind: OutputKind, pool: str) -> np.ndarray:
    """Bundle rows from clip outputs of ``kind`` stacked ``(clips, *clip shape)``: pooled over
    their examples when ``pool`` asks for it and they have examples; float32."""
    if pool == "none" or not kind.has_examples:
        return np.asarray(outputs, np.float32)
    return pool_examples(outputs, pool=pool, axis=1 + kind.axes.index("examples"))


def pool_examples(embeddings: np.ndarray, *, pool: str = "none", axis: int = 1) -> np.ndarray:
    """Pool the examples axis of a stack of clips.

    Args:
        embeddings: float array with an examples axis at ``axis`` (a bundle of sequences:
            ``(clips, examples, dim)``, axis 1; of layer sequences: ``(clips, layers, examples,
            dim)``, axis 2; or one clip's output without the clip axis).
        pool: ``"none"`` (unchanged), ``"mean"`` (the mean over examples) or ``"mean-std"``
            (the mean, then the standard deviation, side by side on the last axis). Both are
            computed in float64 and returned as float32.
        axis: Where the examples axis is.

    Returns:
        float32 array: the input without its examples axis, the last axis doubled for
        ``mean-std``.

    Raises:
        ParameterError: Unknown pool, or no such axis.
    """
    if pool not in POOLS:
        raise ParameterError(f"{option('pool')} has to be one of {', '.join(map(repr, POOLS))}, not {pool!r}")
    embeddings = np.asarray(embeddings)
    if pool == "none":
        return embeddings.astype(np.float32, copy=False)
    if not 0 <= axis < embeddings.ndim - 1:
        raise ParameterError(f"embeddings of shape {embeddings.shape} have no examples axis {axis} to pool")
    # summed in float64 as read, without a float64 copy of the frames (the same bits: each
    # output element's sum runs over the examples in order either way)
    parts = [np.mean(embeddings, axis=axis, dtype=np.float64)]
    if pool == "mean-std":
        parts.append(np.std(embeddings, axis=axis, dtype=np.float64))
    return np.concatenate(parts, axis=-1).astype(np.float32)


def clip_frame_spans(trimmed_lengths_samples, *, target_length_samples: int, sample_rate_hz: int,
                     model_rate_hz: int, frames_of) -> np.ndarray:
    """Where each centre-padded clip's own frames are among the frames of its padded input.

    A clip of ``L`` samples is padded to the target with ``ceil((target - L) / 2)`` zeros in
    front (:func:`ravdess_prep.audio.pad.center_amounts`); at the model's rate its sound starts after
    ``left`` samples and ends after ``left + L``, and its frames are those between the frame
    counts of these two prefixes.

    Args:
        trimmed_lengths_samples: Each clip's trimmed length at ``sample_rate_hz``, ``(clips,)``.
        target_length_samples: The target length at ``sample_rate_hz``.
        sample_rate_hz: The dataset's rate.
        model_rate_hz: The rate the model's frames are made at.
        frames_of: The frames a signal of so many samples at ``model_rate_hz`` gives.

    Returns:
        int64 ``(clips, 2)``: ``[first, end)`` of each clip's frames (the whole input for a
        clip as long as the target, or cropped to it).
    """
    lengths = np.minimum(np.asarray(trimmed_lengths_samples, np.int64), target_length_samples)
    left = -(-(target_length_samples - lengths) // 2)
    scale = model_rate_hz / sample_rate_hz
    starts = [frames_of(int(value * scale)) if value > 0 else 0 for value in left]
    ends = [frames_of(int((start + length) * scale)) for start, length in zip(left, lengths)]
    whole = frames_of(int(target_length_samples * scale))  # as the manifest counts a padded clip's examples
    spans = np.asarray([[first, max(first + 1, min(end, whole))] for first, end in zip(starts, ends)], np.int64)
    return spans.reshape(-1, 2)


def zero_outside(embeddings: np.ndarray, spans: np.ndarray, *, axis: int) -> np.ndarray:
    """A copy of ``embeddings`` with every example outside each clip's ``[first, end)`` span
    (along ``axis``, the examples axis) set to zero: what a masked head ignores."""
    frames = np.arange(embeddings.shape[axis])
    inside = (frames[None, :] >= spans[:, :1]) & (frames[None, :] < spans[:, 1:])  # (clips, frames)
    shape = [embeddings.shape[0]] + [1] * (embeddings.ndim - 1)
    shape[axis] = embeddings.shape[axis]
    return np.where(inside.reshape(shape), embeddings, 0).astype(embeddings.dtype, copy=False)

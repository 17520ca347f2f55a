"""The per-clip recipe: how every clip of a build is embedded, decided once.

A build's plan (:class:`~ravdess_prep.build.plan.BuildPlan`) holds its inventory and its global
steps. Once the target length is known and the model's files are verified, the plan makes one
:class:`ClipRecipe` (:meth:`~ravdess_prep.build.plan.BuildPlan.recipe`), and every executor hands
that same object to its workers: the default executor to its threads, the Beam executor as a
side input computed in one step. A recipe is plain data (settings, sizes, paths), so it
pickles; nothing in it is recomputed per clip.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Iterable

import numpy as np

from ..audio.measure import ClipOffsets, Target
from ..embedders import Embedder, ModelFiles
from ..embedders.outputs import bundle_rows
from ..storage.cache import ClipCache
from .inference import EmbedResult, ModelSession, PreparedClip, embed_prepared, prepare_clip


@dataclasses.dataclass(frozen=True)
class ClipRecipe:
    """What every clip of a build is embedded with.

    Attributes:
        embedder: The build's embedder (its settings).
        front_end: The embedder as its front-end runs for :attr:`files` (see
            :meth:`ravdess_prep.embedders.Embedder.for_files`).
        target: The target length every clip is padded (or cropped) to.
        files: The model's files, verified.
        examples_per_clip: Examples of a padded clip (None: the embedder does not pad).
        clip_shape: The shape of one clip's output.
        cache: The clips already embedded with these settings and files (None: no cache).
        read: How a clip is read and fitted to the target: the keyword arguments of
            :func:`ravdess_prep.build.inference.prepare_clip` that come from the settings (rate, channel,
            what to do with a clip longer than the target).
        resolved_from: The settings chosen at build time, as they were asked
            (``{"batch_size": "auto"}``); :attr:`embedder` holds what was chosen.
    """

    embedder: Embedder
    front_end: Embedder
    target: Target
    files: ModelFiles
    examples_per_clip: int | None
    clip_shape: tuple[int, ...]
    cache: ClipCache | None
    read: dict = dataclasses.field(default_factory=dict)
    resolved_from: dict = dataclasses.field(default_factory=dict)

    def prepare(self, offsets: ClipOffsets, *, fast: bool = True) -> PreparedClip:
        """One clip hashed and, unless cached, decoded, padded and through the front-end (see
        :func:`ravdess_prep.build.inference.prepare_clip`)."""
        return prepare_clip(offsets=offsets, target_length_samples=self.target.length_samples, cache=self.cache,
                            fast=fast, **{**self.read, "embedder": self.front_end})

    def embed(self, prepared: Iterable[PreparedClip], names: list[str], *, session: ModelSession | None = None,
              progress: bool = False) -> EmbedResult:
        """The model on batches of prepared clips, each clip post-processed and cached as soon
        as it is done.

        Args:
            prepared: The clips, prepared (:meth:`prepare`), in any order.
            names: Their names, in the order of the result.
            session: A loaded model to run (kept open); None: loaded when a clip needs it, and
                closed at the end.
            progress: Show a progress bar.
        """
        return embed_prepared(prepared, names, embedder=self.embedder, clip_shape=self.clip_shape,
                              open_session=functools.partial(ModelSession, self.embedder, self.files),
                              session=session, cache=self.cache, progress=progress)

    def rows(self, embeddings: np.ndarray) -> np.ndarray:
        """Bundle rows from clip outputs ``(clips, *clip shape)`` (see
        :func:`ravdess_prep.embedders.outputs.bundle_rows`)."""
        return bundle_rows(embeddings, kind=self.embedder.clip_kind(), pool=self.embedder.pool)

"""The embed stage's mechanics: a clip's model input, and the model on batches across clips.

A clip's examples come from :func:`clip_examples` (pure: samples in, examples out);
:func:`prepare_clip` hashes, decodes, pads, resamples and runs the embedder's front-end for one
clip (worker threads or processes run it). The model runs on inputs gathered across clips
(:class:`Batcher`: examples of successive clips fill full batches; :class:`ClipBatcher`: whole
clips), and :func:`embed_prepared` post-processes each finished clip and stores it in the
cache at once, so an interrupted build loses at most the clips in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..audio.io import load_at_rate, load_clip, working_rate_hz
from ..audio.measure import ClipOffsets
from ..audio.pad import pad_center
from ..audio.resample import decimate, exact_step, pad_and_resample, resample
from ..embedders import Embedder, ModelFiles
from ..exceptions import ModelOutputError, RavdessPrepError
from ..storage.cache import ClipCache


def clip_examples(
    samples: np.ndarray,
    *,
    embedder: Embedder,
    sample_rate_hz: int,
    target_length_samples: int,
    on_too_long: str = "error",
    name: str = "clip",
    fast: bool = True,
) -> np.ndarray:
    """The embedder's examples of one trimmed clip.

    The clip is centre-padded to the target at its own rate (or centre-cropped, with
    ``on_too_long="crop"``), then resampled to the embedder's rate; an embedder that does not
    pad (``embedder.pads`` False) sees the trimmed clip, cropped if too long.

    Args:
        samples: float array ``(num_samples,)`` at ``sample_rate_hz``: the trimmed clip.
        embedder: The embedder.
        sample_rate_hz: The rate of ``samples`` (the target length is counted at this rate).
        target_length_samples: Length after padding.
        on_too_long: ``"error"`` or ``"crop"`` for a clip longer than the target.
        name: The clip's name, for errors.
        fast: Resample and transform only the sound (see
            :func:`ravdess_prep.audio.resample.pad_and_resample`); the same result either way.

    Returns:
        The examples, ``(num_examples, ...)``.
    """
    if embedder.pads:
        signal, sound = pad_and_resample(samples, target_length_samples=target_length_samples, from_hz=sample_rate_hz,
                                         to_hz=embedder.sample_rate_hz, on_too_long=on_too_long, name=name, fast=fast)
    elif samples.size > target_length_samples:
        samples, _ = pad_center(samples, target_length_samples=target_length_samples, on_too_long=on_too_long,
                                name=name)
    rate = embedder.sample_rate_hz or sample_rate_hz
    try:
        if not embedder.pads:  # decimate is resampy bit for bit, about 3 times faster
            exact = fast and exact_step(sample_rate_hz, rate) is not None
            signal = (decimate(np.asarray(samples, np.float64), from_hz=sample_rate_hz, to_hz=rate) if exact
                      else resample(samples, from_hz=sample_rate_hz, to_hz=rate))
            sound = None
        return embedder.examples(signal, sample_rate_hz=rate, sound=sound)
    except RavdessPrepError as error:  # neither knows the clip's name
        raise type(error)(f"{name}: {error.args[0]}") from None  # unrendered: the reader's wording


@dataclasses.dataclass(frozen=True)
class PreparedClip:
    """What a worker returns for one clip: its audio hash, and its cached embedding or its
    examples.

    On the fast path, examples equal to the embedder's example of silence are not sent:
    ``silent`` marks where they were, and ``examples`` holds the others.
    """

    name: str
    audio_sha256: str
    examples: np.ndarray | None
    silent: np.ndarray | None = None
    cached: np.ndarray | None = None


def prepare_clip(
    *,
    offsets: ClipOffsets,
    target_length_samples: int,
    embedder: Embedder,
    sample_rate_hz: int | None = None,
    on_too_long: str = "error",
    channel: str = "first",
    cache: ClipCache | None = None,
    fast: bool = True,
) -> PreparedClip:
    """Hash a clip's file; if its embedding is not cached, decode it and make its examples.

    Args:
        offsets: The clip, as the measure pass found it.
        target_length_samples: The padded length.
        embedder: The embedder.
        sample_rate_hz: The rate clips are resampled to before trimming (None: their own).
        on_too_long: The too-long policy.
        channel: Which channel of a multichannel file (see :func:`ravdess_prep.audio.io.mono`).
        cache: Where finished clips are looked up (None: nowhere); a damaged entry is computed
            again (see :class:`ravdess_prep.storage.cache.ClipCache`).
        fast: Decode only the trimmed part when the clip is not resampled, resample and
            transform only the sound, and set aside examples of silence; same result.
    """
    name = offsets.name
    data = Path(offsets.path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    cached = None if cache is None else cache.get(digest)
    if cached is not None:
        return PreparedClip(name, digest, None, cached=cached)
    source_rate = offsets.source_sample_rate_hz
    if fast and working_rate_hz(source_rate, sample_rate_hz=sample_rate_hz) == source_rate:
        samples, _ = load_clip(io.BytesIO(data), name=offsets.path, start=offsets.start, stop=offsets.end,
                               channel=channel)
    else:
        samples, _, _ = load_at_rate(io.BytesIO(data), sample_rate_hz=sample_rate_hz, name=offsets.path,
                                     channel=channel)
        samples = samples[offsets.start : offsets.end]
    examples = clip_examples(samples, embedder=embedder, sample_rate_hz=offsets.sample_rate_hz,
                             target_length_samples=target_length_samples, on_too_long=on_too_long, name=name, fast=fast)
    silent_example = embedder.silent_example()
    if not fast or silent_example is None:
        return PreparedClip(name, digest, examples)
    silent = np.all(examples == silent_example, axis=tuple(range(1, examples.ndim)))
    return PreparedClip(name, digest, examples[~silent], silent)


class ModelSession:
    """A loaded model with the embedding of the example of silence, computed once.

    Args:
        embedder: The embedder.
        files: Its verified files.
    """

    def __init__(self, embedder: Embedder, files: ModelFiles):
        embedder.check_machine()
        self.model = embedder.load(files)
        self.silent_example = embedder.silent_example()
        self.calls = 0
        self._silent_row = None

    def run(self, batch):
        """Raw outputs of a batch (an array of examples, or a list of clip inputs)."""
        self.calls += 1
        return self.model.embed(batch)

    def silent_row(self) -> np.ndarray:
        """The raw output of the example of silence (run once)."""
        if self._silent_row is None:
            self._silent_row = self.run(self.silent_example[None])[0]
        return self._silent_row

    @property
    def knows_silent_row(self) -> bool:
        """Whether the output of the example of silence is known (computed once per session)."""
        return self._silent_row is not None

    def remember_silent_row(self, row: np.ndarray) -> None:
        """Take the raw output of the example of silence from a run it rode in."""
        self._silent_row = row

    def finish(self, raw: np.ndarray, silent: np.ndarray | None = None) -> np.ndarray:
        """A clip's post-processed outputs from the raw outputs of the examples that were run,
        with the silent example's row where ``silent`` is True."""
        if silent is not None and silent.any():
            full = np.empty((silent.size,) + raw.shape[1:], raw.dtype)
            full[~silent] = raw
            full[silent] = self.silent_row()
            raw = full
        return self.model.postprocess(raw)

    def close(self) -> None:
        self.model.close()


_SILENT = object()  # the key of the silent example in a Batcher's queue
#: How many batches' worth of clips a :class:`ClipBatcher` holds while it waits for a group to fill.
HELD_BATCHES = 16


class Batcher:
    """Gathers examples of successive clips into full model batches and hands back finished
    clips, post-processed, in the order they were added.

    The example of silence rides, once, in the batch of the first clip that needs it (its
    output does not depend on its batch-mates), not in a batch of its own.
    """

    def __init__(self, session: ModelSession, *, batch_examples: int):
        self.session, self.batch_examples = session, batch_examples
        self.pending: list[tuple[object, int, np.ndarray | None]] = []  # (key, examples to run, silent mask)
        self.examples: list[np.ndarray] = []
        self.done: list[np.ndarray] = []  # raw rows not yet handed back
        self.queued = 0
        self._silent_queued = False

    def add(self, key, examples: np.ndarray, silent: np.ndarray | None = None) -> Iterator[tuple[object, np.ndarray]]:
        if silent is not None and silent.any() and not self._silent_queued and not self.session.knows_silent_row:
            self._silent_queued = True
            self._queue(_SILENT, self.session.silent_example[None], None)
        self._queue(key, examples, silent)
        if self.queued >= self.batch_examples:
            self._run(self.queued - self.queued % self.batch_examples)
        return self._finished()

    def flush(self) -> Iterator[tuple[object, np.ndarray]]:
        if self.queued:
            self._run(self.queued)
        return self._finished()

    def _queue(self, key, examples: np.ndarray, silent: np.ndarray | None) -> None:
        self.pending.append((key, examples.shape[0], silent))
        self.examples.append(examples)
        self.queued += examples.shape[0]

    def _run(self, count: int) -> None:
        queued = np.concatenate(self.examples)
        self.done.append(self.session.run(queued[:count]))
        self.examples = [queued[count:]]
        self.queued -= count

    def _finished(self) -> Iterator[tuple[object, np.ndarray]]:
        finished = []
        rows = np.concatenate(self.done) if self.done else None
        taken = 0
        while self.pending and rows is not None and self.pending[0][1] <= rows.shape[0] - taken:
            key, count, silent = self.pending.pop(0)
            raw = rows[taken : taken + count]
            taken += count
            if key is _SILENT:
                self.session.remember_silent_row(raw[0])
            else:
                finished.append((key, self.session.finish(raw, silent)))
        self.done = [rows[taken:]] if rows is not None else []
        return iter(finished)


class ClipBatcher:
    """Gathers whole clips (model inputs of any length) into batches of ``batch_clips`` clips of
    one shape and hands back finished clips, post-processed, as their batch is run.

    Clips are grouped by the model's ``batch_key`` (the padded length it runs a clip at; a model
    without one: a single group), and a group runs once it fills a batch, so that a batch holds
    no padding beyond its key's and no filler input. The model keeps a clip's output
    independent of its batch-mates. At most :data:`HELD_BATCHES` batches' worth of clips wait:
    beyond that, the fullest group runs as it is (with a model that keys every length apart).
    """

    def __init__(self, session: ModelSession, *, batch_clips: int):
        self.session, self.batch_clips = session, batch_clips
        self.key = getattr(session.model, "batch_key", lambda examples: None)
        self.groups: dict[object, list[tuple[object, object]]] = {}
        self.held = 0

    def add(self, key, examples, silent: np.ndarray | None = None) -> Iterator[tuple[object, np.ndarray]]:
        shape = self.key(examples)
        group = self.groups.setdefault(shape, [])
        group.append((key, examples))
        self.held += 1
        if len(group) >= self.batch_clips:
            return iter(self._run(shape))
        if self.held >= self.batch_clips * HELD_BATCHES:
            return iter(self._run(max(self.groups, key=lambda found: len(self.groups[found]))))
        return iter(())

    def flush(self) -> Iterator[tuple[object, np.ndarray]]:
        return iter([done for shape in list(self.groups) for done in self._run(shape)])

    def _run(self, shape) -> list[tuple[object, np.ndarray]]:
        batch = self.groups.pop(shape)
        self.held -= len(batch)
        raw = self.session.run([examples for _, examples in batch])
        return [(key, self.session.finish(rows)) for (key, _), rows in zip(batch, raw)]


def batcher(session: ModelSession, embedder: Embedder) -> Batcher | ClipBatcher:
    """The batcher of an embedder's kind of batching (see :attr:`Embedder.batching`)."""
    if embedder.batching == "clips":
        return ClipBatcher(session, batch_clips=embedder.batch_examples)
    return Batcher(session, batch_examples=embedder.batch_examples)


@dataclasses.dataclass(frozen=True)
class EmbedResult:
    """The embed stage's output.

    Attributes:
        embeddings: float32 array ``(num_clips, *clip shape)`` (see
            :meth:`ravdess_prep.embedders.base.Embedder.clip_shape`).
        audio_sha256: SHA-256 of each clip's file, in clip order.
        computed: How many clips went through the model (the others came from the cache).
        model_calls: How many times the model ran.
        rejected: Damaged cache entries found (and computed again): ``(path, why)``.
    """

    embeddings: np.ndarray
    audio_sha256: tuple[str, ...]
    computed: int
    model_calls: int
    rejected: tuple[tuple[Path, str], ...] = ()


def model_outputs(prepared: Iterable[PreparedClip], *, embedder: Embedder, open_session: Callable[[], ModelSession],
                  session: ModelSession | None = None) -> Iterator[tuple[PreparedClip, np.ndarray, bool]]:
    """Every prepared clip's output, as soon as it is known: ``(clip, output, computed)``.

    A cached clip passes through at once; the others go to the model in batches across clips
    (see :func:`batcher`). The session is opened when the first clip needs it (with
    ``open_session``, and closed at the end) unless ``session`` is given (left open).
    """
    gatherer, waiting = None, {}
    try:
        for clip in prepared:
            if clip.cached is not None:
                yield clip, clip.cached, False
                continue
            gatherer = gatherer or batcher(session or open_session(), embedder)
            waiting[clip.name] = clip
            for name, output in gatherer.add(clip.name, clip.examples, clip.silent):
                yield waiting.pop(name), check_finite(output, clip=name, embedder=embedder), True
        for name, output in gatherer.flush() if gatherer is not None else ():
            yield waiting.pop(name), check_finite(output, clip=name, embedder=embedder), True
    finally:
        if gatherer is not None and session is None:
            gatherer.session.close()


def check_finite(output: np.ndarray, *, clip: str, embedder: Embedder) -> np.ndarray:
    """``output``, unless it holds a non-finite value.

    Raises:
        ModelOutputError: NaN or infinity in a clip's output; the message names the clip, the
            model, how many values and where the first one is.
    """
    finite = np.isfinite(output)
    if finite.all():
        return output
    first = tuple(int(index) for index in np.argwhere(~finite)[0])
    raise ModelOutputError(f"{clip}: the {embedder.name} model gave {int((~finite).sum())} non-finite values (NaN or "
                           f"infinity) of {output.size}, the first at index {first} ({output[first]}): its weights "
                           "or its input are damaged; nothing was written")


def embed_prepared(prepared: Iterable[PreparedClip], names: Sequence[str], *, embedder: Embedder,
                   clip_shape: tuple[int, ...], open_session: Callable[[], ModelSession],
                   session: ModelSession | None = None, cache: ClipCache | None = None,
                   progress: bool = False) -> EmbedResult:
    """Run the model on prepared clips, reusing and filling the cache.

    Args:
        prepared: The clips, prepared (:func:`prepare_clip`), in any order.
        names: Every clip's name, in the order of the result.
        embedder: The embedder.
        clip_shape: The shape of one clip's output.
        open_session: Called once, only when some clip is not cached: the :class:`ModelSession`
            (closed at the end).
        session: A session to run instead (left open).
        cache: Where finished clips are stored (None: nowhere).
        progress: Show a progress bar.

    Returns:
        An :class:`EmbedResult`, in the order of ``names``.
    """
    index = {name: position for position, name in enumerate(names)}
    # every clip's output goes straight into one float32 array: one copy of the embeddings
    # held, whatever the number of clips (a list of them, stacked, held three)
    results = np.zeros((len(names),) + tuple(clip_shape), np.float32) if not names else None
    hashes: list[str] = [""] * len(names)
    before = session.calls if session is not None else 0
    opened: list[ModelSession] = []  # the session opened here, if one was
    computed = 0
    with tqdm(total=len(names), desc="embed", unit="clip", disable=not progress) as bar:
        for clip, output, fresh in model_outputs(prepared, embedder=embedder, session=session,
                                                 open_session=lambda: opened.append(open_session()) or opened[0]):
            if results is None:  # the shape of the first output, as stacking them took it
                results = np.zeros((len(names),) + output.shape, np.float32)
            if output.shape != results.shape[1:]:
                raise ModelOutputError(f"{clip.name}: the {embedder.name} model gave an output of shape {output.shape}, "
                                       f"the clips before it {results.shape[1:]}: nothing was written")
            results[index[clip.name]], hashes[index[clip.name]] = output, clip.audio_sha256
            computed += fresh
            if fresh and cache is not None:
                cache.put(clip.audio_sha256, output)
            bar.update(1)
    ran = session or (opened[0] if opened else None)
    return EmbedResult(results, tuple(hashes), computed, ran.calls - before if ran is not None else 0,
                       tuple(cache.rejected) if cache is not None else ())

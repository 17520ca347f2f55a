"""The embed stage: padded clips to post-processed VGGish embeddings, cached per clip.

A clip's examples come from :func:`clip_examples` (pure: samples in, examples out). Worker
threads decode, pad and run the front-end; the model runs on examples gathered across clips
into full batches, and each finished clip is post-processed and stored in the
:class:`ClipCache` at once, so an interrupted build loses at most the clips in flight.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from .atomic import atomic_path
from .config import Config
from .measure import ClipOffsets
from .pad import pad_center


def clip_examples(
    samples: np.ndarray,
    *,
    sample_rate_hz: int,
    start: int,
    end: int,
    target_length_samples: int,
    hop_seconds: float,
    on_too_long: str = "error",
    name: str = "clip",
) -> np.ndarray:
    """Trim a clip to ``[start, end)``, center-pad it to the target, and make VGGish examples.

    Args:
        samples: float array of shape ``(num_samples,)`` at ``sample_rate_hz``.
        sample_rate_hz: The rate of ``samples`` (the target length is counted at this rate).
        start: First sample of the trimmed clip.
        end: One past its last sample.
        target_length_samples: Length after padding.
        hop_seconds: VGGish example hop.
        on_too_long: ``"error"`` or ``"crop"`` for a trimmed clip longer than the target.
        name: The clip's name, for errors.

    Returns:
        float32 array of shape ``(num_examples, 96, 64)``.
    """
    from vggish.frontend import waveform_to_examples

    padded, _ = pad_center(
        samples[start:end], target_length_samples=target_length_samples, on_too_long=on_too_long, name=name
    )
    return waveform_to_examples(padded, sample_rate_hz, hop_seconds=hop_seconds)


def clip_examples_fast(
    samples: np.ndarray,
    *,
    sample_rate_hz: int,
    start: int,
    end: int,
    target_length_samples: int,
    hop_seconds: float,
    on_too_long: str = "error",
    name: str = "clip",
) -> np.ndarray:
    """:func:`clip_examples`, bit for bit, without resampling the padding.

    The padding is exact zeros, and resampling zeros gives zeros. When the rate is an integer
    multiple of 16 kHz whose step resampy computes exactly (48 kHz: every output sample sits at
    an integer input position, so its filter weights do not depend on where the signal
    starts), only the sound plus the filter's reach on both sides, aligned to the rate's step,
    is resampled (with :func:`ravdess_prep.decimate.decimate`, resampy's arithmetic without
    its per-sample weight interpolation) and placed into zeros, and only the STFT frames that
    touch it are transformed (:func:`vggish.frontend.log_mel_examples`). Other rates, and
    cropped clips, take the full path.

    Returns:
        float32 array of shape ``(num_examples, 96, 64)``, equal to :func:`clip_examples`'s.
    """
    from vggish import params as vggish_params

    from .decimate import decimate, exact_step, reach_samples
    from .pad import center_amounts

    length = end - start
    left, right = center_amounts(length, target_length_samples=target_length_samples)
    to_hz = vggish_params.SAMPLE_RATE_HZ
    step = exact_step(sample_rate_hz, to_hz)
    if left < 0 or right < 0 or step is None:
        return clip_examples(samples, sample_rate_hz=sample_rate_hz, start=start, end=end,
                             target_length_samples=target_length_samples, hop_seconds=hop_seconds,
                             on_too_long=on_too_long, name=name)
    from vggish.frontend import log_mel_examples

    margin = reach_samples(sample_rate_hz, to_hz) + step
    first = max(0, (left - margin) // step * step)
    last = min(target_length_samples, left + length + margin)
    segment = np.zeros(last - first)
    segment[left - first : left - first + length] = samples[start:end]
    resampled = np.zeros(int(target_length_samples * to_hz / sample_rate_hz))
    part = decimate(segment, from_hz=sample_rate_hz, to_hz=to_hz)
    offset = first // step
    resampled[offset : offset + part.size] = part[: resampled.size - offset]
    return log_mel_examples(resampled, hop_seconds=hop_seconds, sound=(offset, offset + part.size))


class ClipCache:
    """Post-processed embeddings of single clips on disk, keyed by audio content.

    Entries live in ``<root>/<settings key>/<sha[:2]>/<sha>.npy``: the settings key identifies
    everything that decides an embedding (see :func:`settings_key`), the SHA-256 the audio file.
    Entries are written to a temporary file and renamed, so a killed build leaves none half
    written.
    """

    def __init__(self, root: str | os.PathLike, key: str):
        self.folder = Path(root) / key[:16]

    def path(self, audio_sha256: str) -> Path:
        return self.folder / audio_sha256[:2] / f"{audio_sha256}.npy"

    def has(self, audio_sha256: str) -> bool:
        return self.path(audio_sha256).is_file()

    def get(self, audio_sha256: str) -> np.ndarray:
        return np.load(self.path(audio_sha256), allow_pickle=False)

    def put(self, audio_sha256: str, embedding: np.ndarray) -> None:
        with atomic_path(self.path(audio_sha256)) as temporary, open(temporary, "wb") as stream:
            np.save(stream, embedding, allow_pickle=False)


def settings_key(config: Config, *, target_length_samples: int, checkpoint_sha256: str, pca_sha256: str) -> str:
    """SHA-256 naming a cache folder: the config's embedding fields, the target, the model files."""
    text = "\n".join([config.embedding_digest(), str(target_length_samples), checkpoint_sha256, pca_sha256])
    return hashlib.sha256(text.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class PreparedClip:
    """What a worker returns for one clip: its audio hash and, unless cached, its examples.

    With the fast path, examples that lie entirely in the padding (every value ln(0.01)) are
    not sent: ``silent`` marks where they were, and ``examples`` holds the others.
    """

    name: str
    audio_sha256: str
    examples: np.ndarray | None
    silent: np.ndarray | None = None


def silent_example() -> np.ndarray:
    """The example of digital silence: float32 ``(96, 64)``, every value ln(0.01)."""
    from vggish import params as vggish_params

    return np.full((vggish_params.NUM_FRAMES, vggish_params.NUM_BANDS), np.log(vggish_params.LOG_OFFSET), np.float32)


def prepare_clip(
    *, offsets: ClipOffsets, target_length_samples: int, config: Config, cache: ClipCache, fast: bool = True
) -> PreparedClip:
    """Hash a clip's file; if its embedding is not cached, decode it and make its examples
    (with :func:`clip_examples_fast` when ``fast``, else :func:`clip_examples`)."""
    from .audio import load_clip
    from .measure import load_for_config

    name = offsets.name
    data = Path(offsets.path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if cache.has(digest):
        return PreparedClip(name, digest, None)
    start, end = offsets.start, offsets.end
    if fast and config.working_rate_hz(offsets.source_sample_rate_hz) == offsets.source_sample_rate_hz:
        samples, _ = load_clip(io.BytesIO(data), name=offsets.path, start=start, stop=end)  # the trimmed part only
        start, end = 0, samples.size
    else:
        samples, _, _ = load_for_config(io.BytesIO(data), config, name=offsets.path)
    make = clip_examples_fast if fast else clip_examples
    examples = make(
        samples,
        sample_rate_hz=offsets.sample_rate_hz,
        start=start,
        end=end,
        target_length_samples=target_length_samples,
        hop_seconds=config.hop_seconds,
        on_too_long=config.on_too_long,
        name=name,
    )
    if not fast:
        return PreparedClip(name, digest, examples)
    silent = np.all(examples == silent_example(), axis=(1, 2))
    return PreparedClip(name, digest, examples[~silent], silent)


@dataclasses.dataclass(frozen=True)
class EmbedResult:
    """The embed stage's output.

    Attributes:
        embeddings: float32 array ``(num_clips, num_examples, 128)`` with values 0..255.
        audio_sha256: SHA-256 of each clip's file, in clip order.
        computed: How many clips went through the model (the others came from the cache).
        model_calls: How many times the model's ``embed`` ran.
    """

    embeddings: np.ndarray
    audio_sha256: tuple[str, ...]
    computed: int
    model_calls: int


def embed_clips(
    offsets: Sequence[ClipOffsets],
    *,
    target_length_samples: int,
    config: Config,
    cache: ClipCache,
    load_model: Callable[[], tuple[object, object]],
    jobs: int | None = None,
    progress: bool = False,
    fast: bool = True,
    ahead_clips: int = 128,
) -> EmbedResult:
    """Embed clips (given by their trim offsets), reusing and filling the cache.

    Args:
        offsets: The clips, as the measure pass returned them.
        target_length_samples: The padded length.
        config: The build configuration.
        cache: Where finished clips are stored and looked up.
        load_model: Called once, only when some clip is not cached; returns
            ``(model, postprocessor)`` with ``model.embed`` and ``postprocessor.postprocess``.
        jobs: Threads for decoding and the front-end (default: every core).
        progress: Show a progress bar.
        fast: Skip work whose result is known (resampling the padding, embedding the silent
            example more than once); the result is the same, bit for bit.
        ahead_clips: Clips prepared ahead of the model (bounds memory: about 0.5 MB per clip
            of 20 examples).

    Returns:
        An :class:`EmbedResult`.
    """
    from .parallel import map_calls, single_threaded_blas

    calls = [
        {"offsets": clip, "target_length_samples": target_length_samples, "config": config, "cache": cache,
         "fast": fast}
        for clip in offsets
    ]
    # The model runs in this thread on every core; the workers prepare clips ahead of it at the
    # lowest scheduling priority, so they take the cycles the model leaves idle (between runs,
    # and where its threads wait for each other) and yield a core as soon as the model wants it.
    # At normal priority a worker holding a core stalls the model's multi-threaded operations.
    # When the model waits for examples, the workers have the machine to themselves.
    prepared = map_calls(prepare_clip, calls, jobs=jobs, ahead=ahead_clips, low_priority=True)
    with single_threaded_blas():
        return _embed_prepared(prepared, offsets, config=config, cache=cache, load_model=load_model, progress=progress)


def _embed_prepared(prepared, offsets, *, config, cache, load_model, progress) -> EmbedResult:
    index = {clip.name: position for position, clip in enumerate(offsets)}
    results: list[np.ndarray | None] = [None] * len(offsets)
    hashes: list[str] = [""] * len(offsets)
    batcher = None
    computed = 0
    bar = _bar(len(offsets), progress)
    for clip in prepared:
        position = index[clip.name]
        hashes[position] = clip.audio_sha256
        if clip.examples is None:
            results[position] = cache.get(clip.audio_sha256)
            bar.update(1)
            continue
        if batcher is None:
            batcher = _Batcher(*load_model(), batch_size=config.batch_size)
        computed += 1
        for (name, digest), embedding in batcher.add((clip.name, clip.audio_sha256), clip.examples, clip.silent):
            cache.put(digest, embedding)
            results[index[name]] = embedding
            bar.update(1)
    for (name, digest), embedding in batcher.flush() if batcher else ():
        cache.put(digest, embedding)
        results[index[name]] = embedding
        bar.update(1)
    bar.close()
    stacked = np.stack(results).astype(np.float32) if results else np.zeros((0, 0, 128), np.float32)
    return EmbedResult(stacked, tuple(hashes), computed, batcher.model_calls if batcher else 0)


_SILENT = object()  # the key of the silent example in a _Batcher's queue


class _Batcher:
    """Gathers examples of successive clips into full model batches and hands back finished
    clips, post-processed, in the order they were added.

    Examples marked silent (all in the padding) are not run again: they all get the embedding
    of :func:`silent_example`, computed once. A clip's rows are put back in order before
    post-processing, so the result equals embedding every example.
    """

    def __init__(self, model, postprocessor, *, batch_size: int):
        self.model, self.postprocessor, self.batch_size = model, postprocessor, batch_size
        self.pending: list[tuple[object, int, np.ndarray | None]] = []  # (key, examples to run, silent mask)
        self.examples: list[np.ndarray] = []
        self.done: list[np.ndarray] = []  # embedded rows not yet handed back
        self.queued = 0
        self.model_calls = 0
        self._silent_queued = False
        self._silent_row = None

    def add(self, key, examples: np.ndarray, silent: np.ndarray | None = None) -> Iterator[tuple[object, np.ndarray]]:
        if silent is not None and silent.any() and not self._silent_queued:
            # the silent example rides in the batch of the first clip that needs it (its
            # embedding does not depend on its batch-mates), not in a batch of its own
            self._silent_queued = True
            self.pending.append((_SILENT, 1, None))
            self.examples.append(silent_example()[None])
            self.queued += 1
        self.pending.append((key, examples.shape[0], silent))
        self.examples.append(examples)
        self.queued += examples.shape[0]
        if self.queued >= self.batch_size:
            full = self.queued - self.queued % self.batch_size
            self._run(full)
        return self._finished()

    def flush(self) -> Iterator[tuple[object, np.ndarray]]:
        if self.queued:
            self._run(self.queued)
        return self._finished()

    def _run(self, count: int) -> None:
        queued = np.concatenate(self.examples)
        self.done.append(self.model.embed(queued[:count]))
        self.model_calls += 1
        self.examples = [queued[count:]]
        self.queued -= count

    def _finished(self) -> Iterator[tuple[object, np.ndarray]]:
        rows = np.concatenate(self.done) if self.done else np.zeros((0, 128), np.float32)
        finished = []
        while self.pending and self.pending[0][1] <= rows.shape[0]:
            key, count, silent = self.pending.pop(0)
            raw, rows = rows[:count], rows[count:]
            if key is _SILENT:
                self._silent_row = raw[0]
                continue
            if silent is not None and silent.any():
                raw = with_silent_rows(raw, silent, self._silent_row)
            finished.append((key, self.postprocessor.postprocess(raw)))
        self.done = [rows]
        return iter(finished)


def with_silent_rows(raw: np.ndarray, silent: np.ndarray, silent_row: np.ndarray) -> np.ndarray:
    """A clip's raw embeddings in example order: ``raw`` (the examples that were run) where
    ``silent`` is False, ``silent_row`` (the embedding of :func:`silent_example`) where True."""
    full = np.empty((silent.size, raw.shape[1]), np.float32)
    full[~silent] = raw
    full[silent] = silent_row
    return full


def _bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="embed", unit="clip", disable=not enabled)

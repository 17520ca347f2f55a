"""One embedder, ready for audio in memory and on disk, without building a dataset.

:func:`embedder` returns an :class:`Embedding` whose ``process_signal``, ``process_file``,
``process_files`` and ``process_folder`` give rows as numpy arrays (many files: a pandas frame
indexed by file, one ``embedding`` per row), the way audinterface's objects do:

- ``embedder(dataset=DATASET)``: a file's row is exactly the row the dataset's build would give
  it (its trim rule, rate, target length and policy, embedder settings and verified model
  files): for a clip of the dataset, its bundle row.
- ``embedder(NAME, **settings)``: the embedder's own defaults and the library's trim rule;
  every file is its own target (nothing padded beyond the clip itself), so a row depends on
  that file alone. Settings are named as fields (``layers``, ``trim_method``) or as their
  flags read as names (``whisper_model``, ``hf_window``); text is read as the command line
  reads it (``layers="all"``).

A signal is embedded as a file holding exactly its samples would be (a float64 WAV file,
written to a temporary folder and removed). The model is loaded once, on first use, and kept
until :meth:`Embedding.close`.
"""

from __future__ import annotations

import functools
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from .build import local, steps
from .build.inference import ModelSession
from .audio.io import HIGHEST_RATE_HZ, LOWEST_RATE_HZ, signal_samples
from .build.parallel import map_calls
from .config import Config
from .corpora.source import AUDIO_SUFFIXES
from .dataset.integrity import require_sound
from .dataset.manifest import Manifest
from .embedders import Embedder, ModelFiles, embedder_class
from .exceptions import AudioError, ParameterError, RavdessPrepError, keyword_wording, option
from .build.timeline import WindowSettings, file_windows
from .settings import PATH, TEXT, settings_of

if TYPE_CHECKING:
    import pandas

#: The column of a frame of rows.
COLUMN = "embedding"
_log = logging.getLogger("ravdess_prep")


class Embedding:
    """An embedder with its settings and verified model files (see the module docstring).

    Args:
        config: Every setting (a dataset's, with its target length fixed, or the defaults).
        files: The model's verified files.
        standalone: Each file is its own target (no dataset).
    """

    def __init__(self, config: Config, files: ModelFiles, *, standalone: bool):
        self.config, self.files, self.standalone = config, files, standalone
        self._session: ModelSession | None = None
        self._session_of: Embedder | None = None

    @classmethod
    def of_dataset(cls, dataset: str | os.PathLike, *, files=None, on_too_long: str | None = None) -> "Embedding":
        """The embedding of a dataset: its settings, target, policies and model files.

        Args:
            dataset: A folder written by ``build``.
            files: Where its model files are now, if they moved (an instance of the embedder's
                files type); each must have the SHA-256 the manifest recorded.
            on_too_long: Another policy for files longer than the dataset's target.

        Raises:
            ManifestError, DatasetError: The dataset is not what its manifest says.
            ModelFileError: A model file is missing or differs from the one it was built with.
        """
        manifest = Manifest.read(dataset)
        require_sound(manifest)
        config = steps.dataset_config(manifest, **({"on_too_long": on_too_long} if on_too_long else {}))
        return cls(config, recorded_files(manifest, files), standalone=False)

    def process_paths(self, paths: Sequence[str | os.PathLike], *, jobs: int | None = None) -> np.ndarray:
        """The rows of many files as one array, ``(files, *row shape)`` (see :meth:`process_files`).

        Raises:
            ParameterError: ``paths`` is one path, not a sequence of them.
        """
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise ParameterError(f"paths is one path ({paths!r}), not a list of them: give [path], or use "
                                 "process_file")
        return self._rows([(str(path), str(path)) for path in paths], jobs=jobs)

    @property
    def embedder(self) -> Embedder:
        return self.config.embedder

    def process_file(self, path: str | os.PathLike, *, window_s: float | None = None,
                     hop_s: float | None = None):
        """The row of one audio file; with ``window_s``, the rows of its windows (see
        :meth:`process_windows`).

        Raises:
            AudioError: The file is missing, unreadable or not audio; named.
        """
        if window_s is not None or hop_s is not None:
            return self.process_windows([path], window_s=window_s, hop_s=hop_s)
        return self._rows([(str(path), str(path))])[0]

    def process_files(self, paths: Sequence[str | os.PathLike], *, jobs: int | None = None,
                      window_s: float | None = None, hop_s: float | None = None) -> "pandas.DataFrame":
        """The rows of many files: a frame indexed by file, its ``embedding`` column a row each
        (with ``window_s``: by file, start and end, see :meth:`process_windows`).

        Every file is read and trimmed before any is embedded; if any fails, one error names
        every failing file and why, and nothing is returned.
        """
        import pandas as pd

        if window_s is not None or hop_s is not None:
            return self.process_windows(paths, window_s=window_s, hop_s=hop_s)
        rows = self.process_paths(paths, jobs=jobs)
        return pd.DataFrame({COLUMN: list(rows)}, index=pd.Index([str(path) for path in paths], name="file"))

    def process_windows(self, paths: Sequence[str | os.PathLike], *, window_s: float | None,
                        hop_s: float | None = None) -> "pandas.DataFrame":
        """The rows of every window of the files (read block by block, any length): a frame
        indexed by ``file``, ``start`` and ``end`` (``pandas.Timedelta``, audinterface's
        segmented index), with ``embedding`` (NaN where unvoiced) and ``voiced`` (whether the
        trim rule found a voice in the window; see :mod:`ravdess_prep.audio.windows`).

        Args:
            window_s: The window's length in seconds.
            hop_s: The step between windows' starts (None: ``window_s``, windows side by side).

        Raises:
            ParameterError: A window or hop that is not a positive number of seconds, one longer
                than a dataset's target, or shorter than the embedder's minimum.
        """
        import pandas as pd

        if window_s is None:
            raise ParameterError(f"{option('hop_s', hop_s)} without {option('window_s')}: give the window's length")
        settings = WindowSettings(self.config, self.files, window_s=window_s,
                                  hop_s=window_s if hop_s is None else hop_s)
        settings.check()
        names, starts, ends, voiced, rows = [], [], [], [], []
        for path in paths:
            for block in file_windows(path, settings, session_of=self.session_for):
                names.extend([str(path)] * len(block))
                starts.append(block.starts_s)
                ends.append(block.ends_s)
                voiced.append(block.voiced)
                full = np.full((len(block),) + block.rows.shape[1:], np.nan, np.float32)
                full[block.voiced] = block.rows
                rows.extend(full)
        index = pd.MultiIndex.from_arrays(
            [names, pd.to_timedelta(np.concatenate(starts) if starts else [], unit="s"),
             pd.to_timedelta(np.concatenate(ends) if ends else [], unit="s")], names=["file", "start", "end"])
        return pd.DataFrame({COLUMN: rows, "voiced": np.concatenate(voiced) if voiced else np.zeros(0, bool)},
                            index=index)

    def process_folder(self, folder: str | os.PathLike, *, jobs: int | None = None, window_s: float | None = None,
                       hop_s: float | None = None) -> "pandas.DataFrame":
        """:meth:`process_files` of every WAV and FLAC file under ``folder``, in sorted order.

        Raises:
            AudioError: No such folder, or no audio file in it.
        """
        root = Path(folder)
        if not root.is_dir():
            raise AudioError(f"{root}: no such folder")
        paths = sorted(path for path in root.rglob("*") if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file())
        if not paths:
            raise AudioError(f"{root}: no audio file ({', '.join(AUDIO_SUFFIXES)}) in it")
        return self.process_files(paths, jobs=jobs, window_s=window_s, hop_s=hop_s)

    def process_signal(self, signal, sampling_rate: int, *, window_s: float | None = None,
                       hop_s: float | None = None):
        """The row of samples in memory, as of a file holding exactly them (with ``window_s``:
        the rows of its windows, :meth:`process_windows`, its file named ``signal``).

        Args:
            signal: One channel, ``(samples,)``: floats in [-1, 1] as audio files hold them, or
                integer PCM samples (int16, int32, uint8 or int8), read as a PCM file of them
                is read (int16 divided by 32768, uint8 centred on 128, ...).
            sampling_rate: Its rate in Hz, an integer from 1000 to 384000.

        Raises:
            ParameterError: Several channels, no sample, values that are not real numbers, not
                finite or beyond [-1, 1], an integer type no PCM file holds, or a rate outside
                the range; the message names the argument and says what to do.
        """
        import soundfile

        samples = signal_samples(signal)
        if isinstance(sampling_rate, bool) or not isinstance(sampling_rate, (int, np.integer)) or sampling_rate < 1:
            raise ParameterError(f"sampling_rate has to be a positive integer number of Hz, not {sampling_rate!r}")
        if not LOWEST_RATE_HZ <= sampling_rate <= HIGHEST_RATE_HZ:
            raise ParameterError(f"sampling_rate has to be from {LOWEST_RATE_HZ} to {HIGHEST_RATE_HZ} Hz, not "
                                 f"{sampling_rate!r}")
        subtype = {np.dtype(np.int16): "PCM_16", np.dtype(np.int32): "PCM_32"}.get(samples.dtype, "DOUBLE")
        with tempfile.TemporaryDirectory(prefix="ravdess-prep-signal-") as folder:
            path = Path(folder) / "signal.wav"
            soundfile.write(path, samples, int(sampling_rate), subtype=subtype)
            if window_s is None and hop_s is None:
                return self._rows([("signal", str(path))])[0]
            frame = self.process_windows([path], window_s=window_s, hop_s=hop_s)
            return frame.rename(index={str(path): "signal"}, level="file")

    def close(self) -> None:
        """Free the model (it is loaded again when needed)."""
        if self._session is not None:
            self._session.model.close()
            self._session = None

    def __enter__(self) -> "Embedding":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- the pipeline's steps, on named files ------------------------------------------

    def _rows(self, named: list[tuple[str, str]], *, jobs: int | None = None) -> np.ndarray:
        """Bundle rows of ``(name, path)`` pairs, in order (every failing file named at once; a
        file given twice embedded once)."""
        unique = list(dict.fromkeys(named))
        if len(unique) < len(named):
            rows = self._rows(unique, jobs=jobs)
            position = {item: index for index, item in enumerate(unique)}
            return _stacked([rows[position[item]] for item in named])
        offsets, problems = [], []
        calls = [{"name": name, "path": path} for name, path in named]
        for clip in map_calls(functools.partial(_measured, self.config), calls, jobs=jobs):
            (problems if isinstance(clip, tuple) else offsets).append(clip)
        if len(problems) == 1:
            raise problems[0][1]
        if problems:
            raise AudioError(f"{len(problems)} of {len(named)} files cannot be embedded: "
                             + "; ".join(text for text, _ in problems))
        for clip in offsets:
            if clip.handled:
                hint = f" ({option('channel', 'mean')} takes every channel)" if clip.active_channels else ""
                _log.info("%s: %s%s", clip.name, clip.handled, hint)
        if not offsets:
            return np.zeros((0,), np.float32)
        # standalone, a clip of an embedder that pads is padded to its own length
        groups = [[clip] for clip in offsets] if self.standalone and self.embedder.pads else [offsets]
        rows = []
        for group in groups:
            recipe, embedded = steps.embed_measured(
                self.config, steps.measurement(self.config, group), self.files,
                embed=lambda recipe, measurement: local.embed(recipe, measurement, jobs=jobs,
                                                              session=self.session_for(recipe.embedder)))
            rows.extend(recipe.rows(embedded.embeddings))
        return _stacked(rows)

    def session_for(self, embedder: Embedder) -> ModelSession:
        """The loaded model of ``embedder`` (the recipe's: its batch size chosen), loaded again
        only when another choice is made."""
        if self._session is not None and self._session_of != embedder:
            self.close()
        if self._session is None:
            self._session, self._session_of = ModelSession(embedder, self.files), embedder
        return self._session


def _stacked(rows: list[np.ndarray]) -> np.ndarray:
    """Rows as one array: ``(files, *row shape)``, or, where standalone rows differ in shape
    (each file its own target), an object array of them."""
    if len({row.shape for row in rows}) == 1:
        return np.stack(rows)
    stacked = np.empty(len(rows), dtype=object)
    stacked[:] = rows
    return stacked


def _measured(config: Config, *, name: str, path: str):
    """The measure step of one clip; its error returned, not raised, as ``(text naming the
    file, the error)``."""
    try:
        return steps.measure_clip(config, name=name, path=path)
    except (RavdessPrepError, OSError) as error:
        message = error.args[0] if isinstance(error, RavdessPrepError) and error.args else str(error)
        return (message if message.startswith(name) or message.startswith(path) else f"{name}: {message}", error)


def recorded_files(manifest: Manifest, files=None) -> ModelFiles:
    """The model files a manifest records, each where it was (or where ``files``, an instance
    of the embedder's files type, says it is now), checked against its recorded SHA-256."""
    record = manifest.files_record()
    embedder = manifest.config.embedder
    given = {} if files is None else embedder.relocated(files, record["files"])
    options = [option(spec.name) for spec in settings_of(embedder.files_type) if spec.flags] \
        if embedder.files_type else []
    return ModelFiles.from_record(record, paths=given, moved=" or ".join(options) or "its path")


def embedder(name: str | None = None, *, dataset: str | os.PathLike | None = None, **settings) -> Embedding:
    """An :class:`Embedding`: of a dataset (each file embedded exactly as its clips were), or of
    the embedder ``name`` with ``settings`` (see the module docstring).

    Args:
        name: A registered embedder (``"vggish"``, ``"whisper"``, ...); not with ``dataset``.
        dataset: A folder written by ``build``.
        settings: With ``name``: the embedder's settings, its files' (``whisper_model=DIR``)
            and the build's trimming settings. With ``dataset``: only where its model files
            are now, if they moved.

    Raises:
        ParameterError: Neither or both of ``name`` and ``dataset``, or a setting the embedder
            does not have (the message lists those it has).
        ManifestError, DatasetError, ModelFileError: The dataset or the model files are not
            what they should be.
    """
    if (name is None) == (dataset is None):
        raise ParameterError("give an embedder's name or a dataset (dataset=...), one of them")
    if dataset is not None:
        cls = type(Manifest.read(dataset).config.embedder)
        values = _values(settings, [cls.files_type] if cls.files_type else [], what="a dataset's model files")
        moved = cls.files_type(**values[cls.files_type]) if values.get(cls.files_type) else None
        return Embedding.of_dataset(dataset, files=moved)
    cls = embedder_class(name)
    owners = [cls, Config] + ([cls.files_type] if cls.files_type else [])
    values = _values(settings, owners, what=f"the {name} embedder")
    config = Config(**values.get(Config, {}), embedder=cls(**values.get(cls, {})))
    files = cls.files_type(**values[cls.files_type]) if values.get(cls.files_type) else None
    try:
        verified = steps.model_files(config.embedder, files)
    except ParameterError as error:  # named as this function's keywords (whisper_model), not as fields
        aliases = {spec.name: spec.dest for spec in settings_of(cls.files_type)} if cls.files_type else {}
        raise type(error)(keyword_wording(error.args[0], aliases)) from None
    return Embedding(config, verified, standalone=True)


def _values(settings: Mapping, owners: Iterable[type], *, what: str) -> dict[type, dict]:
    """``settings`` sorted to their owners (by field name or flag name), each read as a
    value of a settings file would be (text as the command line reads it)."""
    table = {}
    for owner in owners:
        for spec in settings_of(owner):
            if owner is Config and spec.name in ("embedder", "corpus", *Config.SPLIT_FIELDS):
                continue  # no dataset: nothing to split
            for key in (spec.name, spec.dest):
                table.setdefault(key, (owner, spec))
    found: dict[type, dict] = {}
    for key, value in settings.items():
        if key not in table:
            raise ParameterError(f"{key!r} is not a setting of {what} (its settings: {', '.join(sorted(table))})")
        owner, spec = table[key]
        value = str(value) if isinstance(value, os.PathLike) else value
        if isinstance(value, str) and spec.kind not in (TEXT, PATH):
            try:
                value = spec.parse(value)
            except ValueError:
                raise ParameterError(f"{what}: {key} has to be {spec.kind.name}, not {value!r}") from None
        elif value is not None:
            value = spec.from_file(list(value) if isinstance(value, tuple) else value, where=f"{what}: {key}")
        found.setdefault(owner, {})[spec.name] = value
    return found


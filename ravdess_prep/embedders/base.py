"""What every embedder is: a front-end, a model that runs on batches, and the files that
identify the model.

An embedder is a frozen dataclass whose fields are its settings, each declared with
:func:`ravdess_prep.settings.setting` (its flag, kind and help: the command line is generated
from them). They are part of the build's :class:`~ravdess_prep.config.Config` and of every
cache key. The pipeline knows an embedder only through this interface:

- what a clip gives: :meth:`Embedder.clip_kind` (an :class:`~ravdess_prep.embedders.outputs.OutputKind`:
  a vector, a sequence of examples, a stack of layers, or a sequence per layer) and
  :meth:`Embedder.clip_shape`; ``pool`` (every embedder's setting) pools the examples axis;
  ``sample_rate_hz``, the rate its front-end reads (None: the clip's own rate);
- :meth:`Embedder.num_examples`, :meth:`Embedder.examples` (the front-end, pure numpy) and
  :meth:`Embedder.silent_example` (the example of digital silence, run once per build);
- :meth:`Embedder.model_files` (fetch or verify the model's files: :class:`ModelFiles`, each
  with its SHA-256) and :meth:`Embedder.load` (a :class:`Model` with ``embed``, ``postprocess``
  and ``close``), which runs on batches of :attr:`Embedder.batch_examples` examples (or, for
  :attr:`Embedder.batching` ``"clips"``, whole clips).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import ClassVar, Mapping, Protocol

import numpy as np

from ..exceptions import ModelFileError, ParameterError, option
from ..settings import setting
from ..storage.digest import file_digest, path_sha256
from .outputs import POOLS, OutputKind


@dataclasses.dataclass(frozen=True)
class ModelFile:
    """One model file (or folder) and its SHA-256 (see :func:`ravdess_prep.storage.digest.path_sha256`)."""

    path: Path
    sha256: str


@dataclasses.dataclass(frozen=True)
class ModelFiles:
    """The verified files of a model, by role (``"checkpoint"``, ``"pca_params"``, ``"model"``).

    Attributes:
        files: ``{role: ModelFile}``.
        official: Whether every file is the published one.
    """

    files: Mapping[str, ModelFile] = dataclasses.field(default_factory=dict)
    official: bool = True

    @classmethod
    def in_folder(cls, folder: Path, names, *, official: bool = False) -> "ModelFiles":
        """The files ``names`` of ``folder``, by name, each hashed now."""
        return cls({name: ModelFile((folder / name).resolve(), file_digest(folder / name)) for name in names},
                   official=official)

    def __getitem__(self, role: str) -> ModelFile:
        """The file of ``role``.

        Raises:
            ModelFileError: There is none (a record that lost an entry).
        """
        try:
            return self.files[role]
        except KeyError:
            raise ModelFileError(f"the model's files hold no {role} (they hold: {', '.join(self.files) or 'nothing'})"
                                 ) from None

    def digests(self) -> dict[str, str]:
        """``{role: SHA-256}``."""
        return {role: file.sha256 for role, file in sorted(self.files.items())}

    def check(self) -> None:
        """Hash every file again: each has to be the file that was verified.

        Raises:
            ModelFileError: A file is missing, unreadable, or has another SHA-256; the message
                names it, its role and both digests.
        """
        for role, file in sorted(self.files.items()):
            check_sha256(file.path, file.sha256, role)

    def record(self) -> dict:
        """JSON-ready: ``{"official": bool, "files": {role: {"path", "sha256"}}}``."""
        return {"official": self.official,
                "files": {role: {"path": str(file.path), "sha256": file.sha256} for role, file in sorted(self.files.items())}}

    @classmethod
    def from_record(cls, record: Mapping, *, paths: Mapping[str, str | os.PathLike] = {},
                    moved: str = "its path") -> "ModelFiles":
        """The files a manifest recorded, each found where it was (or at ``paths[role]``) and
        checked against its recorded SHA-256 (``moved``: what a message tells the user to give
        when a file is not where it was).

        Raises:
            ModelFileError: A file is missing or differs from the recorded one.
            ParameterError: ``paths`` names a role the record does not have.
        """
        recorded = record.get("files", {})
        unknown = sorted(set(paths) - set(recorded))
        if unknown:
            raise ParameterError(f"the dataset's model has no file {', '.join(unknown)} (it has: {', '.join(recorded)})")
        files = {}
        for role, entry in recorded.items():
            path = Path(paths.get(role) or entry["path"]).expanduser().absolute()
            check_sha256(path, entry["sha256"], role, hint="the dataset's ", moved=moved)
            files[role] = ModelFile(path, entry["sha256"])
        return cls(files, bool(record.get("official", False)))


def check_sha256(path: str | os.PathLike, sha256: str, role: str, *, hint: str = "", moved: str = "its path") -> None:
    """Raise :class:`ModelFileError` unless ``path`` holds a model file with ``sha256``."""
    try:
        found = path_sha256(path)
    except OSError as error:
        raise ModelFileError(f"{path}: {hint}{role} cannot be read ({error.strerror or error}); if it moved, give "
                             f"its new place: {moved}") from None
    if found != sha256:
        raise ModelFileError(f"{path}: {hint}{role} has SHA-256 {found}, expected {sha256}")


class Model(Protocol):
    """A loaded model: what :meth:`Embedder.load` returns."""

    def embed(self, batch):
        """Raw outputs of a batch: for an embedder that batches examples, an array of examples
        in, one row per example out; for one that batches clips, a list of clip inputs in, a
        list of raw clip outputs out."""

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        """A clip's output (see :meth:`Embedder.clip_shape`) from its raw output."""

    def close(self) -> None:
        """Free what the model holds."""


EMBEDDER_GROUP = "the embedder"


@dataclasses.dataclass(frozen=True)
class Embedder:
    """Base class of the embedders: the interface the pipeline uses (see the module docstring).

    Subclasses are frozen dataclasses whose fields are the embedder's settings, declared with
    :func:`~ravdess_prep.settings.setting` and validated in ``__post_init__``, and set the class
    attributes below.

    Attributes:
        pool: How a clip's examples (frames) become one vector: ``"none"`` (kept),
            ``"mean"`` or ``"mean-std"`` (see :func:`ravdess_prep.embedders.outputs.pool_examples`).
    """

    name: ClassVar[str]
    files_type: ClassVar[type | None] = None  # where the user says the model's files are
    sample_rate_hz: ClassVar[int | None] = None
    output_dtype: ClassVar[str] = "float32"  # the type of a clip's post-processed outputs (and cache entries)
    output: ClassVar[str] = ""  # what a bundle's values are, for the manifest
    license: ClassVar[str] = ""  # the license of the model's weights, for the data card
    citation: ClassVar[str] = ""  # how to cite the model
    #: ``"examples"``: the examples of successive clips fill model batches of
    #: :attr:`batch_examples`; ``"clips"``: whole clips (inputs of any length) are batched.
    batching: ClassVar[str] = "examples"
    #: True: the embedder pools the frames of the unpadded clip itself, before the cache (its
    #: clip output has no examples axis unless ``pool`` is ``"none"``); False: a pooled bundle
    #: pools the cached examples of the padded clip.
    pools_frames: ClassVar[bool] = False

    pool: str = setting("none", flags="--pool", choices=POOLS, group=EMBEDDER_GROUP,
                        help="none: every example (frame) kept; mean or mean-std: one vector per clip (per layer)")

    # --- what a clip gives ---------------------------------------------------------------

    def clip_kind(self) -> OutputKind:
        """The kind of one clip's output, as computed and cached (before a bundle pools it)."""
        raise NotImplementedError

    def row_kind(self) -> OutputKind:
        """The kind of a bundle row: the clip's output, pooled over its examples when asked."""
        kind = self.clip_kind()
        return kind.pooled() if self.pool != "none" and kind.has_examples else kind

    @property
    def pads(self) -> bool:
        """Whether clips are centre-padded to the target length before the front-end (so that
        every clip has as many examples)."""
        return self.clip_kind().has_examples

    @property
    def batch_examples(self) -> int:
        """Examples (or, for ``batching == "clips"``, clips) per model run."""
        return 1

    def clip_shape(self, *, examples: int | None, files: "ModelFiles") -> tuple[int, ...]:
        """The shape of one clip's output (see :meth:`clip_kind`).

        Args:
            examples: Examples of a padded clip (None for an embedder that does not pad).
            files: The model's verified files (a model's size can decide the shape).
        """
        raise NotImplementedError

    def check_pool(self) -> None:
        """Raise :class:`ParameterError` unless ``pool`` suits this embedder's output."""
        if self.pool not in POOLS:
            raise ParameterError(f"{option('pool')} has to be one of {', '.join(map(repr, POOLS))}, not {self.pool!r}")
        if self.pool != "none" and not self.pools_frames and not self.clip_kind().has_examples:
            raise ParameterError(f"the {self.name} embedder gives one vector per clip: there is nothing to pool "
                                 f"({option('pool', 'none')}, not {self.pool!r})")

    def resolved(self, files: "ModelFiles", *, longest_samples: int) -> "Embedder":
        """The embedder with every setting chosen at build time made a number, for these files
        and a longest clip of ``longest_samples`` samples at the model's rate (default: itself)."""
        return self

    def output_facts(self, files: "ModelFiles") -> dict:
        """What the manifest says of the output's axes besides their names (for a stack of
        layers, which layers), JSON-ready."""
        return {}

    # --- settings ------------------------------------------------------------------------

    def settings(self) -> dict:
        """The settings, JSON-ready."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}

    def cache_settings(self) -> dict:
        """The settings that decide a clip's cached output: all of them, but ``pool`` when the
        bundle pools cached examples."""
        values = self.settings()
        if not self.pools_frames:
            values.pop("pool")
        return values

    def to_dict(self) -> dict:
        """``{"name": ..., **settings}``: what a config records of its embedder."""
        return {"name": self.name, **self.settings()}

    def replace(self, **changes) -> "Embedder":
        """A copy with some settings changed (validated like a new one)."""
        return dataclasses.replace(self, **changes)

    # --- the front-end -------------------------------------------------------------------

    def num_examples(self, num_samples: int, *, sample_rate_hz: int) -> int:
        """Examples of a padded clip of ``num_samples`` samples at ``sample_rate_hz`` (the
        embedder's rate, or the clip's own when the embedder reads any)."""
        raise NotImplementedError

    def examples(self, signal: np.ndarray, *, sample_rate_hz: int, sound: tuple[int, int] | None = None) -> np.ndarray:
        """The front-end: examples of one clip, ``(num_examples, ...)`` (for an embedder that
        batches clips, the clip's model input).

        Args:
            signal: The padded (or, when :attr:`pads` is False, trimmed) clip, float
                ``(num_samples,)``, at :attr:`sample_rate_hz` (or its own rate when that is None).
            sample_rate_hz: The rate of ``signal``.
            sound: None, or ``(start, stop)``: every sample outside ``signal[start:stop]`` is
                exactly zero (the front-end may skip them; same result).
        """
        raise NotImplementedError

    def silent_example(self) -> np.ndarray | None:
        """The example of digital silence (run once per build), or None if examples of silence
        are not to be recognised."""
        return None

    def describe(self) -> dict:
        """Facts a manifest records besides the settings (feature set, library versions); they
        are part of every cache key, so a new version recomputes."""
        return {}

    def feature_names(self) -> tuple[str, ...] | None:
        """The name of each output column, when the embedder's columns have names."""
        return None

    # --- the model -----------------------------------------------------------------------

    def model_files(self, files=None, *, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> ModelFiles:
        """The model's files, fetched (``files`` None: the official ones) or found where
        ``files`` (an instance of :attr:`files_type`) says, verified."""
        if files is not None:
            raise ParameterError(f"the {self.name} embedder has no model files, not {files!r}")
        return ModelFiles()

    def relocated(self, files, roles) -> dict[str, Path]:
        """``{role: path}`` of a dataset's model files where ``files`` (an instance of
        :attr:`files_type`) says they are now; by default its fields named as the roles."""
        return {role: Path(path) for role, path in dataclasses.asdict(files).items()
                if role in roles and path is not None and not isinstance(path, bool)}

    def for_files(self, files: "ModelFiles") -> "Embedder":
        """The embedder as its front-end runs for the model ``files`` (an embedder whose
        front-end follows the model, Whisper's mel bins say, takes them from there; the
        settings are unchanged). By default itself."""
        return self

    def model_uses_every_core(self) -> bool:
        """Whether the model's runs occupy every core of this machine (a PyTorch model on the
        CPU), so that a build prepares clips in turns with the model rather than beside it
        (see :func:`ravdess_prep.build.local.embed`)."""
        return False

    def check_machine(self) -> None:
        """Raise :class:`ParameterError` if this machine cannot run the embedder as set (called
        before any work: at the start of a build, and before a model is loaded). By default
        every machine can."""

    def load(self, files: ModelFiles) -> Model:
        """The model, ready to embed (called once per process that embeds)."""
        raise NotImplementedError


def sequence_shape(embedder: Embedder, examples: int | None, dim: int) -> tuple[int, ...]:
    """``(examples, dim)`` for an embedder whose clips are sequences of examples."""
    if examples is None:
        raise ParameterError(f"the {embedder.name} embedder pads clips: their number of examples has to be known")
    return (int(examples), int(dim))


def check_positive(name: str, value) -> None:
    """Raise :class:`ParameterError` unless ``value`` is a positive integer (names the setting)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{option(name)} has to be a positive integer, not {value!r}")


def check_files_type(embedder: Embedder, files) -> None:
    """Raise :class:`ParameterError` unless ``files`` is None or says where ``embedder``'s files are."""
    if files is not None and (embedder.files_type is None or not isinstance(files, embedder.files_type)):
        expected = embedder.files_type.__name__ if embedder.files_type else "None"
        raise ParameterError(f"model files for the {embedder.name} embedder have to be a {expected}, "
                             f"not {type(files).__name__}")

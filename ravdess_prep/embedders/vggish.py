"""VGGish behind the embedder interface: the :mod:`vggish` package, its official files
fetched and verified, and its PCA post-processing.

The clip is padded at its own rate and resampled to 16 kHz by the pipeline; here the log-mel
examples are made (frames wholly in the padding are not transformed), run through the network
and post-processed (PCA, clipped, quantized to 0..255).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import ClassVar

import numpy as np

import vggish
from vggish import params as vggish_params

from ..exceptions import ModelFileError, ParameterError, option
from ..settings import NUMBER, PATH, POSITIVE, SWITCH, setting
from ..storage.cache import cache_root
from ..storage.digest import path_sha256
from ..storage.download import fetch
from .base import EMBEDDER_GROUP, ModelFile, ModelFiles, check_files_type, check_positive
from .patches import PatchEmbedder

#: Where the official files go when no cache folder is given: ``$VGGISH_MODEL_DIR``, else
#: ``<cache root>/vggish``.
MODEL_DIR_ENV = "VGGISH_MODEL_DIR"
FC2_ACTIVATIONS = ("relu", None)
MODEL_FILES_GROUP = "the embedder's files"


def model_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the official VGGish files are kept: ``cache_dir`` (a model folder) if given, else
    ``$VGGISH_MODEL_DIR``, else ``<cache root>/vggish`` (read at call time)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    configured = os.environ.get(MODEL_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return cache_root() / "vggish"


@dataclasses.dataclass(frozen=True)
class VGGishFiles:
    """Where the VGGish files are (None: the official ones, fetched on first use).

    Attributes:
        checkpoint: A checkpoint (V1 single file, or a V2 prefix).
        pca_params: PCA parameters (``.npz``).
        allow_custom_checkpoint: Accept a checkpoint that is not the official file once its
            variable layout is checked (``--custom-checkpoint``).
        allow_custom_pca_params: Accept PCA parameters that are not the official file once
            their arrays are checked (``--custom-pca-params``).
        base_url: Where the official files are fetched from, a mirror of
            ``https://storage.googleapis.com/audioset`` (None: that address).
    """

    checkpoint: str | os.PathLike | None = setting(
        None, flags="--checkpoint", kind=PATH, group=MODEL_FILES_GROUP,
        help="vggish: the checkpoint (default: the official one, fetched once; SHA-256 checked)")
    pca_params: str | os.PathLike | None = setting(
        None, flags="--pca-params", kind=PATH, group=MODEL_FILES_GROUP,
        help="vggish: the PCA parameters (default: the official ones, fetched once; SHA-256 checked)")
    allow_custom_checkpoint: bool = setting(
        False, flags="--custom-checkpoint", kind=SWITCH, group=MODEL_FILES_GROUP,
        help="vggish: accept a checkpoint that is not the official file (its layout is checked)")
    allow_custom_pca_params: bool = setting(
        False, flags="--custom-pca-params", kind=SWITCH, group=MODEL_FILES_GROUP,
        help="vggish: accept PCA parameters that are not the official file (their arrays are checked)")
    base_url: str | None = None

    def url(self, official_url: str) -> str:
        """Where an official file is fetched from."""
        if not self.base_url:
            return official_url
        return f"{self.base_url.rstrip('/')}/{official_url.rsplit('/', 1)[1]}"


@dataclasses.dataclass(frozen=True)
class VGGishEmbedder(PatchEmbedder):
    """VGGish (Hershey et al. 2017): 128 post-processed values per example of 0.96 s.

    Attributes:
        hop_seconds: Time between example starts (0.23 s in the original project; 0.96 s is
            VGGish's published default).
        fc2_activation: ``"relu"`` (the 2019 release, the original's) or None (the current one).
        batch_size: Examples per model run. Part of the settings because it is part of what the
            numbers are: float32 results of one example differ in the last bits between batch
            shapes.
    """

    hop_seconds: float = setting(0.23, flags="--hop", kind=NUMBER, group=EMBEDDER_GROUP,
                                 help="example hop in seconds (vggish 0.23, the original's; yamnet 0.48)")
    fc2_activation: str | None = setting("relu", flags="--fc2-activation", choices=FC2_ACTIVATIONS, none_word="none",
                                         group=EMBEDDER_GROUP,
                                         help="vggish: relu is the 2019 release, the original's (default); none the "
                                         "current one")
    batch_size: int = setting(128, flags="--batch-size", kind=POSITIVE, group=EMBEDDER_GROUP,
                              help="examples (or clips) per model run (default: the embedder's; vggish, yamnet 128, whisper 1)")

    name: ClassVar[str] = "vggish"
    example_size: ClassVar[int] = vggish_params.EMBEDDING_SIZE
    examples_are: ClassVar[str] = "VGGish examples"
    files_type: ClassVar[type] = VGGishFiles
    sample_rate_hz: ClassVar[int] = vggish_params.SAMPLE_RATE_HZ
    output_dtype: ClassVar[str] = "uint8"
    output: ClassVar[str] = "post-processed VGGish values 0..255 (PCA, clipped to [-2, 2], quantized to 8 bits)"
    license: ClassVar[str] = "Apache-2.0 (the published VGGish checkpoint and PCA parameters, tensorflow/models)"
    citation: ClassVar[str] = ("Hershey S et al. (2017) CNN Architectures for Large-Scale Audio Classification. "
                               "ICASSP 2017. https://arxiv.org/abs/1609.09430")

    def __post_init__(self):
        if self.fc2_activation not in FC2_ACTIVATIONS:
            raise ParameterError(f"{option('fc2_activation')} has to be 'relu' or None, not {self.fc2_activation!r}")
        check_positive("batch_size", self.batch_size)
        if isinstance(self.hop_seconds, bool) or not isinstance(self.hop_seconds, (int, float)) or not self.hop_seconds > 0:
            raise ParameterError(f"{option('hop_seconds')} has to be a positive number, not {self.hop_seconds!r}")
        if round(self.hop_seconds / vggish_params.STFT_HOP_LENGTH_SECONDS) < 1:
            raise ParameterError(f"{option('hop_seconds', self.hop_seconds)} is shorter than one spectrogram frame "
                                 f"({vggish_params.STFT_HOP_LENGTH_SECONDS} s): examples would not advance")

    def count(self, num_samples: int) -> int:
        return vggish.num_examples(num_samples, hop_seconds=self.hop_seconds)

    def front_end(self, signal: np.ndarray, *, sound: tuple[int, int] | None) -> np.ndarray:
        return vggish.log_mel_examples(signal, hop_seconds=self.hop_seconds, sound=sound)

    def silent_example(self) -> np.ndarray:
        return vggish.silent_example()

    def model_files(self, files: VGGishFiles | None = None, *, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> ModelFiles:
        """The checkpoint and PCA parameters: the official ones, fetched into :func:`model_dir`
        on first use and verified by size and SHA-256, or local files verified the same way. A
        local file that is not the official one is refused unless it is allowed as custom (then
        its layout is checked).

        Raises:
            ModelFileError: A file is missing, truncated, incompatible, or not official without
                being allowed; the message names it.
            DownloadError, ChecksumError: Fetching an official file failed.
        """
        check_files_type(self, files)
        files = files or VGGishFiles()
        folder = model_dir(cache_dir)
        checkpoint = _verified(
            files.checkpoint, url=files.url(vggish_params.CHECKPOINT_URL), fetched=folder / "vggish_model.ckpt",
            size_bytes=vggish_params.CHECKPOINT_SIZE_BYTES, sha256=vggish_params.CHECKPOINT_SHA256,
            allow_custom=files.allow_custom_checkpoint, what="checkpoint", check_layout=_checkpoint_meaning,
            custom_hint=option("allow_custom_checkpoint", True), progress=progress,
        )
        pca = _verified(
            files.pca_params, url=files.url(vggish_params.PCA_PARAMS_URL), fetched=folder / "vggish_pca_params.npz",
            size_bytes=vggish_params.PCA_PARAMS_SIZE_BYTES, sha256=vggish_params.PCA_PARAMS_SHA256,
            allow_custom=files.allow_custom_pca_params, what="PCA parameters", check_layout=vggish.Postprocessor,
            custom_hint=option("allow_custom_pca_params", True), progress=progress,
        )
        official = (checkpoint.sha256 == vggish_params.CHECKPOINT_SHA256
                    and pca.sha256 == vggish_params.PCA_PARAMS_SHA256)
        return ModelFiles({"checkpoint": checkpoint, "pca_params": pca}, official)

    def load(self, files: ModelFiles) -> "VGGishModel":
        return VGGishModel(files, fc2_activation=self.fc2_activation, batch_size=self.batch_size)


class VGGishModel:
    """A restored VGGish session and the PCA post-processor (see :class:`Model`)."""

    def __init__(self, files: ModelFiles, *, fc2_activation: str | None, batch_size: int):
        try:
            self.postprocessor = vggish.Postprocessor(files["pca_params"].path)
            self.network = vggish.VGGish(files["checkpoint"].path, fc2_activation=fc2_activation, batch_size=batch_size)
        except vggish.ModelFileError as error:
            raise ModelFileError(f"{error} (the file verified as SHA-256 {files['checkpoint'].sha256} "
                                 f"for the checkpoint, {files['pca_params'].sha256} for the PCA parameters)") from None

    def embed(self, examples: np.ndarray) -> np.ndarray:
        return self.network.embed(examples)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return self.postprocessor.postprocess(raw)

    def close(self) -> None:
        self.network.close()


def _checkpoint_meaning(path) -> None:
    """A local checkpoint's layout and values (every variable readable and finite)."""
    vggish.check_checkpoint_layout(path)
    vggish.check_checkpoint_values(path)


def _verified(path, *, url, fetched: Path, size_bytes: int, sha256: str, allow_custom: bool, what: str,
              check_layout, custom_hint: str, progress: bool) -> ModelFile:
    """One VGGish file: the official one fetched, or a local one verified."""
    if path is None:
        return ModelFile(fetch(url, fetched, size_bytes=size_bytes, sha256=sha256, progress=progress).resolve(), sha256)
    path = Path(path)
    is_v2_prefix = not path.exists() and Path(f"{path}.index").exists()
    if not path.exists() and not is_v2_prefix:
        raise ModelFileError(f"{path}: no such {what} file")
    digest = None
    if not is_v2_prefix and path.is_file():
        actual_size = path.stat().st_size
        if actual_size == size_bytes:
            digest = path_sha256(path)
            if digest == sha256:
                return ModelFile(path.resolve(), digest)
        official = f"not the official VGGish {what} ({actual_size} bytes, official: {size_bytes} bytes, SHA-256 {sha256})"
    else:
        official = f"not the official VGGish {what} (a multi-file checkpoint)"
    try:
        check_layout(path)
    except vggish.ModelFileError as error:
        sha256_found = digest or path_sha256(path)
        raise ModelFileError(f"{error}\n(the file is {official}; its SHA-256 is {sha256_found})") from None
    if not allow_custom:
        raise ModelFileError(
            f"{path}: {official}. Its layout is compatible; to use it anyway pass {custom_hint}, "
            "or remove the path to fetch the official file"
        )
    return ModelFile(path.resolve() if path.exists() else path.absolute(), digest or path_sha256(path))

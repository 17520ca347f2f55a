"""YAMNet behind the embedder interface: the :mod:`yamnet_model` package and its model folder.

The clip is padded at its own rate and resampled to 16 kHz by the pipeline; here it becomes
YAMNet's log-mel patches (frames wholly in the padding are not transformed), which run through
the network built in code. A bundle row is a clip's 1024-d embeddings, one per patch.

The model folder is a SavedModel: the official download (TF Hub / Kaggle Models
``google/yamnet/1``), or the same module wrapped in another Keras model; its weights are read
by one rule from either (:func:`yamnet_model.weights_prefix`). Without a folder the official archive
is fetched once into the cache with the library's resumable fetch, extracted, and its SHA-256
and the extracted folder's recorded; a cached folder whose files changed since is refused.
The official archive's digest is not pinned: its publisher gives none that could be checked
here, so the manifest records the SHA-256 of the weights actually used.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tarfile
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

import yamnet_model
from yamnet_model import params as yamnet_params

from ..exceptions import ModelFileError, ParameterError, option
from ..settings import NUMBER, PATH, POSITIVE, setting
from ..storage.atomic import atomic_path
from ..storage.cache import cache_root
from ..storage.digest import file_digest, path_sha256
from ..storage.download import fetch
from .base import EMBEDDER_GROUP, ModelFile, ModelFiles, check_files_type, check_positive
from .patches import PatchEmbedder

#: Where the fetched model goes when no cache folder is given: ``$YAMNET_MODEL_DIR``, else
#: ``<cache root>/yamnet``.
MODEL_DIR_ENV = "YAMNET_MODEL_DIR"
#: The record written beside a fetched and extracted model.
FETCH_RECORD = "fetched.json"


@dataclasses.dataclass(frozen=True)
class YAMNetFiles:
    """Where the YAMNet model is.

    Attributes:
        model_dir: A YAMNet SavedModel folder (None: the official one, fetched once).
        url: Where the official compressed SavedModel is fetched from (None: TF Hub's address).
    """

    model_dir: str | os.PathLike | None = setting(
        None, flags="--yamnet-model", kind=PATH, group="the embedder's files",
        help="yamnet: a SavedModel folder (default: the official model, fetched once)")
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class YAMNetEmbedder(PatchEmbedder):
    """YAMNet (AudioSet, MobileNet v1 on log-mel patches): 1024 values per patch of 0.96 s.

    Attributes:
        hop_seconds: Time between patch starts (0.48 s: YAMNet's own).
        batch_size: Patches per run of the network; part of the settings because float32
            results can differ in the last bits between batch shapes.
    """

    hop_seconds: float = setting(yamnet_params.PATCH_HOP_SECONDS, flags="--hop", kind=NUMBER, group=EMBEDDER_GROUP,
                                 help="example hop in seconds (vggish 0.23, the original's; yamnet 0.48)")
    batch_size: int = setting(128, flags="--batch-size", kind=POSITIVE, group=EMBEDDER_GROUP,
                              help="examples (or clips) per model run (default: the embedder's; vggish, yamnet 128, whisper 1)")

    name: ClassVar[str] = "yamnet"
    example_size: ClassVar[int] = yamnet_params.EMBEDDING_SIZE
    examples_are: ClassVar[str] = "YAMNet patches"
    files_type: ClassVar[type] = YAMNetFiles
    sample_rate_hz: ClassVar[int] = yamnet_params.SAMPLE_RATE_HZ
    output: ClassVar[str] = "YAMNet embeddings (float32; layer 14 averaged over time and frequency)"
    license: ClassVar[str] = "Apache-2.0 (YAMNet, TF Hub / Kaggle Models google/yamnet/1, tensorflow/models)"
    citation: ClassVar[str] = ("Plakal M, Ellis D (2020) YAMNet. https://github.com/tensorflow/models/tree/master/"
                               "research/audioset/yamnet; Gemmeke JF et al. (2017) Audio Set: an ontology and "
                               "human-labeled dataset for audio events. ICASSP 2017")

    def __post_init__(self):
        try:
            yamnet_model.frontend.hop_frames(self.hop_seconds)
        except yamnet_model.InputError as error:
            raise ParameterError(str(error).replace("hop_seconds", option("hop_seconds"), 1)) from None
        check_positive("batch_size", self.batch_size)

    def count(self, num_samples: int) -> int:
        return yamnet_model.num_patches(num_samples, hop_seconds=self.hop_seconds)

    def front_end(self, signal: np.ndarray, *, sound: tuple[int, int] | None) -> np.ndarray:
        return yamnet_model.waveform_to_patches(signal, hop_seconds=self.hop_seconds, sound=sound)

    def silent_example(self) -> np.ndarray:
        return yamnet_model.silent_patch()

    def model_files(self, files: YAMNetFiles | None = None, *, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True) -> ModelFiles:
        """The model folder: the given one, checked, or the official one, fetched once.

        Raises:
            ModelFileError: Not a YAMNet SavedModel (what is wrong is listed), or a fetched
                model whose files changed since.
            DownloadError: Fetching the official model failed.
        """
        check_files_type(self, files)
        files = files or YAMNetFiles()
        if files.model_dir is not None:
            folder = Path(files.model_dir)
            if folder.exists() and not folder.is_dir():
                raise ModelFileError(f"{folder}: a file, not a YAMNet SavedModel folder (give the folder that holds "
                                     "saved_model.pb)")
            if not folder.is_dir():
                raise ModelFileError(f"{folder}: no such YAMNet model folder")
            check_model_dir(folder)
            return ModelFiles({"model_dir": ModelFile(folder.resolve(), path_sha256(folder))}, official=False)
        folder, sha256 = fetched_model(model_dir(cache_dir), url=files.url or yamnet_params.OFFICIAL_URL,
                                       progress=progress)
        return ModelFiles({"model_dir": ModelFile(folder, sha256)}, official=True)

    def load(self, files: ModelFiles) -> "YAMNetModel":
        return YAMNetModel(files["model_dir"].path, batch_size=self.batch_size)


class YAMNetModel:
    """The network with its weights (see :class:`ravdess_prep.embedders.base.Model`)."""

    def __init__(self, folder: Path, *, batch_size: int):
        try:
            self.network = yamnet_model.YAMNet(folder, batch_size=batch_size)
        except yamnet_model.ModelFileError as error:
            raise ModelFileError(str(error)) from None

    def embed(self, examples: np.ndarray) -> np.ndarray:
        return self.network.embed(examples)

    def postprocess(self, raw: np.ndarray) -> np.ndarray:
        return raw

    def close(self) -> None:
        self.network.close()


def model_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the fetched model is kept: ``cache_dir`` if given, else ``$YAMNET_MODEL_DIR``, else
    ``<cache root>/yamnet`` (read at call time)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    configured = os.environ.get(MODEL_DIR_ENV)
    return Path(configured).expanduser() if configured else cache_root() / "yamnet"


def check_model_dir(folder: Path) -> None:
    """Raise :class:`ModelFileError` unless ``folder`` holds the YAMNet network and its class map."""
    try:
        yamnet_model.weights_prefix(folder)
        yamnet_model.class_names(folder)
    except yamnet_model.ModelFileError as error:
        raise ModelFileError(str(error)) from None


def fetched_model(folder: Path, *, url: str, progress: bool = True) -> tuple[Path, str]:
    """The official model, fetched into ``folder`` once: ``(model folder, its SHA-256)``.

    The compressed SavedModel is fetched (resumable, to a temporary name), extracted into a
    temporary folder that is renamed into place, and recorded (the archive's and the model
    folder's SHA-256); the archive is then deleted. Later calls check the folder against the
    record and make no request.

    Raises:
        ModelFileError: The archive is not a YAMNet SavedModel, or the cached folder's files
            changed since they were fetched (the message says what to delete).
        DownloadError: The transfer failed.
    """
    model = folder / "yamnet_1"
    record_path = folder / FETCH_RECORD
    if record_path.is_file() and model.is_dir():
        record = json.loads(record_path.read_text())
        found = path_sha256(model)
        if found != record.get("model_sha256"):
            raise ModelFileError(f"{model}: the fetched YAMNet model changed since it was fetched (SHA-256 {found}, "
                                 f"recorded {record.get('model_sha256')}); delete {folder} to fetch it again")
        return model.resolve(), found
    archive = fetch(url, folder / "yamnet_1.tar.gz", progress=progress)
    staging = folder / f".yamnet_1.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _extract(archive, staging)
        check_model_dir(staging)
        sha256 = path_sha256(staging)
        if model.exists():
            shutil.rmtree(model)  # a folder without a record: an interrupted earlier fetch
        os.replace(staging, model)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    with atomic_path(record_path) as temporary:
        temporary.write_text(json.dumps({"url": url, "archive_sha256": file_digest(archive), "model_sha256": sha256},
                                        indent=2, sort_keys=True) + "\n")
    archive.unlink()
    return model.resolve(), sha256


def _extract(archive: Path, destination: Path) -> None:
    """Extract a ``.tar.gz`` whose members are plain files and folders inside ``destination``."""
    try:
        with tarfile.open(archive, "r:*") as bundle:
            members = bundle.getmembers()
            outside = [member.name for member in members if not (member.isfile() or member.isdir())
                       or not (destination / member.name).resolve().is_relative_to(destination.resolve())]
            if not outside:
                bundle.extractall(destination, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise ModelFileError(f"{archive}: not a readable compressed SavedModel ({error})") from None
    if outside:
        raise ModelFileError(f"{archive}: member {outside[0]!r} is not a plain file inside the archive")

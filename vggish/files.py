"""The model files: the official checkpoint and PCA parameters, fetched and verified.

Files are fetched on first use from the official URLs into the model folder: the ``cache_dir``
argument, else ``$VGGISH_MODEL_DIR``, else ``<ravdess-prep cache>/vggish``. Each is verified by
size and SHA-256 and written atomically (see :func:`ravdess_prep.download.fetch`). A local path
is verified the same way; one with another hash is refused unless explicitly accepted as a
custom file, whose layout is then checked.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import params


def model_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where the official model files are kept (read from the environment at call time)."""
    from ravdess_prep.cache import cache_root

    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    configured = os.environ.get(params.MODEL_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    return cache_root() / "vggish"


def checkpoint_file(
    path: str | os.PathLike | None = None,
    *,
    allow_custom: bool = False,
    cache_dir: str | os.PathLike | None = None,
    url: str = params.CHECKPOINT_URL,
    progress: bool = True,
) -> Path:
    """A verified VGGish checkpoint (see :func:`verified_checkpoint`)."""
    return verified_checkpoint(path, allow_custom=allow_custom, cache_dir=cache_dir, url=url, progress=progress)[0]


def verified_checkpoint(
    path: str | os.PathLike | None = None,
    *,
    allow_custom: bool = False,
    cache_dir: str | os.PathLike | None = None,
    url: str = params.CHECKPOINT_URL,
    progress: bool = True,
) -> tuple[Path, str]:
    """A verified VGGish checkpoint and its SHA-256 (computed once, while verifying).

    Args:
        path: A local checkpoint (V1 single file, or a V2 prefix); None fetches the official one.
        allow_custom: Accept a checkpoint that is not the official file once its variable
            layout is checked.
        cache_dir: Model folder for the official file (see :func:`model_dir`).
        url: Where the official file is fetched from (a mirror may be given).
        progress: Show a progress bar while fetching.

    Returns:
        ``(checkpoint path, SHA-256)``; for a multi-file checkpoint, the SHA-256 of
        :func:`model_file_sha256`.

    Raises:
        ModelFileError: Missing, truncated, not official (without ``allow_custom``), or with
            missing or mis-shaped variables (each one named).
        DownloadError, ChecksumError: Fetching the official file failed.
    """
    from ravdess_prep.download import fetch

    if path is None:
        fetched = fetch(
            url, model_dir(cache_dir) / "vggish_model.ckpt", size_bytes=params.CHECKPOINT_SIZE_BYTES,
            sha256=params.CHECKPOINT_SHA256, progress=progress,
        )
        return fetched, params.CHECKPOINT_SHA256
    return _verified_local(
        Path(path), size_bytes=params.CHECKPOINT_SIZE_BYTES, sha256=params.CHECKPOINT_SHA256,
        allow_custom=allow_custom, what="checkpoint", check_layout=check_checkpoint_layout,
        custom_hint="allow_custom_checkpoint=True (--custom-checkpoint)",
    )


def pca_params_file(
    path: str | os.PathLike | None = None,
    *,
    allow_custom: bool = False,
    cache_dir: str | os.PathLike | None = None,
    url: str = params.PCA_PARAMS_URL,
    progress: bool = True,
) -> Path:
    """Verified PCA parameters (see :func:`verified_pca_params`)."""
    return verified_pca_params(path, allow_custom=allow_custom, cache_dir=cache_dir, url=url, progress=progress)[0]


def verified_pca_params(
    path: str | os.PathLike | None = None,
    *,
    allow_custom: bool = False,
    cache_dir: str | os.PathLike | None = None,
    url: str = params.PCA_PARAMS_URL,
    progress: bool = True,
) -> tuple[Path, str]:
    """Verified PCA parameters and their SHA-256 (see :func:`verified_checkpoint` for the
    arguments and errors)."""
    from ravdess_prep.download import fetch

    from .postprocess import Postprocessor

    if path is None:
        fetched = fetch(
            url, model_dir(cache_dir) / "vggish_pca_params.npz", size_bytes=params.PCA_PARAMS_SIZE_BYTES,
            sha256=params.PCA_PARAMS_SHA256, progress=progress,
        )
        return fetched, params.PCA_PARAMS_SHA256
    return _verified_local(
        Path(path), size_bytes=params.PCA_PARAMS_SIZE_BYTES, sha256=params.PCA_PARAMS_SHA256,
        allow_custom=allow_custom, what="PCA parameters", check_layout=Postprocessor,
        custom_hint="allow_custom_pca_params=True (--custom-pca-params)",
    )


def _verified_local(path: Path, *, size_bytes, sha256, allow_custom, what, check_layout,
                    custom_hint) -> tuple[Path, str]:
    from ravdess_prep.download import file_digest
    from ravdess_prep.exceptions import ModelFileError

    is_v2_prefix = not path.exists() and Path(f"{path}.index").exists()
    if not path.exists() and not is_v2_prefix:
        raise ModelFileError(f"{path}: no such {what} file")
    digest = None
    if not is_v2_prefix and path.is_file():
        actual_size = path.stat().st_size
        if actual_size == size_bytes:
            digest = file_digest(path, "sha256")
            if digest == sha256:
                return path, digest
        official = f"not the official VGGish {what} ({actual_size} bytes, official: {size_bytes} bytes, SHA-256 {sha256})"
    else:
        official = f"not the official VGGish {what} (a multi-file checkpoint)"
    try:
        check_layout(path)
    except ModelFileError as error:
        raise ModelFileError(f"{error}\n(the file is {official})") from None
    if not allow_custom:
        raise ModelFileError(
            f"{path}: {official}. Its layout is compatible; to use it anyway pass {custom_hint}, "
            "or remove the path to fetch the official file"
        )
    return path, digest if digest is not None else model_file_sha256(path)


def model_file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a model file; for a multi-file (V2) checkpoint prefix, of its files' digests."""
    from ravdess_prep.download import file_digest

    path = Path(path)
    if path.is_file():
        return file_digest(path, "sha256")
    parts = sorted(path.parent.glob(f"{path.name}.*"))
    lines = "".join(f"{part.name} {file_digest(part, 'sha256')}\n" for part in parts)
    import hashlib

    return hashlib.sha256(lines.encode()).hexdigest()


def check_checkpoint_layout(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Check that a checkpoint holds every VGGish variable with its official shape.

    Returns:
        ``{variable name: shape}`` as stored in the checkpoint.

    Raises:
        ModelFileError: The checkpoint cannot be read (missing, truncated, another format), or
            variables are missing or mis-shaped; every one of them is listed.
    """
    import tensorflow as tf

    from ravdess_prep.exceptions import ModelFileError

    try:
        reader = tf.train.load_checkpoint(str(path))
    except (tf.errors.OpError, ValueError) as error:
        reason = getattr(error, "message", str(error)).strip().splitlines()[0]
        raise ModelFileError(
            f"{path}: not a readable TensorFlow checkpoint (missing, truncated or another format): {reason}"
        ) from None
    stored = {name: tuple(shape) for name, shape in reader.get_variable_to_shape_map().items()}
    problems = []
    for name, shape in params.VARIABLE_SHAPES.items():
        if name not in stored:
            problems.append(f"missing {name} {list(shape)}")
        elif stored[name] != shape:
            problems.append(f"{name} has shape {list(stored[name])}, expected {list(shape)}")
    if problems:
        raise ModelFileError(
            f"{path}: incompatible with VGGish ({len(problems)} variables):\n  " + "\n  ".join(problems)
        )
    return stored

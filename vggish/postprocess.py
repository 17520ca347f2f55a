"""Post-processing of raw embeddings: PCA, clipping, 8-bit quantization."""

from __future__ import annotations

import os

import numpy as np

from . import params
from .errors import InputError, ModelFileError


class Postprocessor:
    """Applies the official PCA whitening and quantization to raw VGGish embeddings.

    Args:
        pca_params_path: An ``.npz`` with ``pca_eigen_vectors`` ``[128, 128]`` and ``pca_means``
            ``[128]`` (or ``[128, 1]``).

    Raises:
        ModelFileError: The file is unreadable, lacks a key, a key has the wrong shape, or holds
            NaN or infinite values; the message names the file and the key.
    """

    def __init__(self, pca_params_path: str | os.PathLike):
        self.pca_params_path = str(pca_params_path)
        try:
            with np.load(self.pca_params_path) as stored:
                arrays = {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as error:
            raise ModelFileError(f"{pca_params_path}: cannot read the PCA parameters ({error})") from None
        size = params.EMBEDDING_SIZE
        expected = {params.PCA_EIGEN_VECTORS_NAME: (size, size), params.PCA_MEANS_NAME: (size,)}
        for name, shape in expected.items():
            if name not in arrays:
                raise ModelFileError(f"{pca_params_path}: no array named {name!r} (found {sorted(arrays)})")
            value = arrays[name]
            if name == params.PCA_MEANS_NAME and value.shape == (size, 1):
                value = value.reshape(size)
            if value.shape != shape:
                raise ModelFileError(f"{pca_params_path}: {name} has shape {value.shape}, expected {shape}")
            value = value.astype(np.float64)
            if not np.isfinite(value).all():
                raise ModelFileError(
                    f"{pca_params_path}: {name} holds {int((~np.isfinite(value)).sum())} NaN or infinite values"
                )
            arrays[name] = value
        self._eigen_vectors = arrays[params.PCA_EIGEN_VECTORS_NAME]
        self._means = arrays[params.PCA_MEANS_NAME].reshape(size, 1)

    def postprocess(self, embeddings: np.ndarray) -> np.ndarray:
        """``uint8(clip(E (e - mu), -2, 2) + 2) * 255 / 4)``, row by row.

        Args:
            embeddings: float array of shape ``(n, 128)``.

        Returns:
            uint8 array of shape ``(n, 128)``.

        Raises:
            InputError: ``embeddings`` has another shape.
        """
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[1] != params.EMBEDDING_SIZE:
            raise InputError(f"embeddings have to have shape (n, {params.EMBEDDING_SIZE}), not {embeddings.shape}")
        projected = (self._eigen_vectors @ (embeddings.T - self._means)).T
        clipped = np.clip(projected, params.QUANTIZE_MIN_VAL, params.QUANTIZE_MAX_VAL)
        scale = 255.0 / (params.QUANTIZE_MAX_VAL - params.QUANTIZE_MIN_VAL)
        return ((clipped - params.QUANTIZE_MIN_VAL) * scale).astype(np.uint8)

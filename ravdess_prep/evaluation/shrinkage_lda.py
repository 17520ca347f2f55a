"""Shrinkage linear discriminant analysis: a closed-form linear classifier for embeddings.

With a few hundred clips and thousands of features (a stack of encoder layers concatenated), the
within-class covariance cannot be estimated as it is; shrunk towards a multiple of the identity
it can (Ledoit and Wolf's idea, as in Friedman's regularised discriminant analysis):

    S(a) = (1 - a) * S + a * (trace(S) / dim) * I

on standardised features. The classifier is then linear: class ``c`` scores ``x @ w_c + b_c``
with ``w_c = S(a)^-1 m_c`` and ``b_c = -m_c @ w_c / 2 + log prior_c`` (``m_c`` the class mean).
The priors are uniform, so that no class wins for being frequent (the field's UA weighs every
class alike).

``S = R^T R`` for the within-class residuals ``R`` (``clips x dim``) is eigendecomposed once,
through the smaller of ``R^T R`` and ``R R^T`` (a stack of layers has more features than
clips), and every shrinkage costs one more product, not another decomposition.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np

from ..exceptions import ParameterError, option


@dataclasses.dataclass(frozen=True)
class LinearClassifier:
    """``scores = ((x - mean) / scale) @ weights + bias``.

    Attributes:
        mean: float64 ``(dim,)``, the training features' mean.
        scale: float64 ``(dim,)``, their standard deviation (1 where it is 0).
        weights: float64 ``(dim, classes)``.
        bias: float64 ``(classes,)``.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    def scores(self, features: np.ndarray) -> np.ndarray:
        """float64 ``(clips, classes)``: each clip's score of each class."""
        return ((np.asarray(features, np.float64) - self.mean) / self.scale) @ self.weights + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        """int32 ``(clips,)``: the class of highest score."""
        return np.argmax(self.scores(features), axis=1).astype(np.int32)


def fit_shrinkage_lda(features: np.ndarray, labels: np.ndarray, *, num_classes: int,
                      shrinkages: Sequence[float]) -> list[LinearClassifier]:
    """Shrinkage LDA with uniform priors, once per shrinkage.

    Args:
        features: float ``(clips, dim)``.
        labels: int ``(clips,)`` in ``0 .. num_classes - 1``.
        num_classes: The classes (a class without a clip never wins).
        shrinkages: Each in ``(0, 1]``: the weight of the identity target.

    Returns:
        One :class:`LinearClassifier` per shrinkage, in order.

    Raises:
        ParameterError: A shrinkage outside ``(0, 1]``, fewer than two clips, a label out of
            range, a non-finite feature, or no within-class scatter (one clip of each class).
    """
    for shrinkage in shrinkages:
        if isinstance(shrinkage, bool) or not isinstance(shrinkage, (int, float)) or not 0 < shrinkage <= 1:
            raise ParameterError(f"{option('shrinkage')} has to be in (0, 1], not {shrinkage!r}")
    features, labels = np.asarray(features, np.float64), np.asarray(labels, int)
    if features.ndim != 2 or features.shape[0] != labels.shape[0] or features.shape[0] < 2:
        raise ParameterError(f"LDA needs (clips, dim) features of two clips or more and a label each, not "
                             f"{features.shape} and {labels.shape}")
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ParameterError(f"labels have to be in 0..{num_classes - 1}, not {labels.min()}..{labels.max()}")
    if not np.isfinite(features).all():
        raise ParameterError("LDA features hold NaN or infinite values")
    mean, scale = features.mean(axis=0), features.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    standard = (features - mean) / scale
    present = np.bincount(labels, minlength=num_classes) > 0
    means = np.zeros((num_classes, standard.shape[1]))
    for label in np.flatnonzero(present):
        means[label] = standard[labels == label].mean(axis=0)
    residuals = (standard - means[labels]) / np.sqrt(len(standard))  # S = residuals.T @ residuals
    if not np.any(residuals):
        counts = np.bincount(labels, minlength=num_classes)
        raise ParameterError(f"LDA: no within-class scatter (the largest class has {counts.max()} "
                             f"clip{'s' if counts.max() != 1 else ''}, all alike): give two different clips of a "
                             "class at least")
    if residuals.shape[1] <= residuals.shape[0]:  # few features: S itself is the small matrix
        eigenvalues, vectors = np.linalg.eigh(residuals.T @ residuals)
        kept = eigenvalues > eigenvalues.max() * 1e-10
        eigenvalues, basis = eigenvalues[kept], vectors[:, kept].T
    else:  # few clips: S's range through the clips' Gram matrix
        eigenvalues, vectors = np.linalg.eigh(residuals @ residuals.T)
        kept = eigenvalues > eigenvalues.max() * 1e-10
        eigenvalues = eigenvalues[kept]
        basis = (vectors[:, kept] / np.sqrt(eigenvalues)).T @ residuals  # orthonormal rows spanning S's range
    target = eigenvalues.sum() / standard.shape[1]  # trace(S) / dim
    projected = means @ basis.T
    outside = means - projected @ basis  # the part of each mean outside S's range
    log_prior = np.where(present, np.log(1.0 / max(1, present.sum())), -np.inf)
    fitted = []
    for shrinkage in shrinkages:
        inverse = 1.0 / ((1.0 - shrinkage) * eigenvalues + shrinkage * target)
        weights = ((projected * inverse) @ basis + outside / (shrinkage * target)).T
        bias = -0.5 * np.einsum("cd,dc->c", means, weights) + log_prior
        fitted.append(LinearClassifier(mean, scale, weights, np.where(present, bias, -1e30)))
    return fitted

"""Shrinkage LDA: the closed form against the textbook formula on explicit matrices, and the
Keras model it becomes."""

from __future__ import annotations

import numpy as np
import pytest

from ravdess_prep.exceptions import ParameterError
from ravdess_prep.evaluation.heads.lda import lda_model
from ravdess_prep.evaluation.shrinkage_lda import fit_shrinkage_lda


def _textbook(features, labels, num_classes, shrinkage):
    """Weights and bias by the formula, with the dim x dim covariance built and solved."""
    mean, scale = features.mean(axis=0), features.std(axis=0)
    standard = (features - mean) / scale
    means = np.stack([standard[labels == label].mean(axis=0) for label in range(num_classes)])
    residuals = standard - means[labels]
    covariance = residuals.T @ residuals / len(standard)
    dim = covariance.shape[0]
    shrunk = (1 - shrinkage) * covariance + shrinkage * np.trace(covariance) / dim * np.eye(dim)
    weights = np.linalg.solve(shrunk, means.T)
    bias = -0.5 * np.sum(means.T * weights, axis=0) + np.log(1 / num_classes)
    return mean, scale, weights, bias


@pytest.mark.parametrize("clips, dim", [(60, 12), (30, 80)])  # more clips than features, and fewer
@pytest.mark.parametrize("shrinkage", [0.05, 0.5, 1.0])
def test_weights_and_bias_are_the_textbook_ones(clips, dim, shrinkage):
    rng = np.random.default_rng(clips + dim)
    labels = np.arange(clips) % 3
    features = rng.normal(size=(clips, dim)) * rng.uniform(0.5, 20, dim) + labels[:, None] * rng.normal(size=dim)
    fitted, = fit_shrinkage_lda(features, labels, num_classes=3, shrinkages=[shrinkage])
    mean, scale, weights, bias = _textbook(features, labels, 3, shrinkage)
    np.testing.assert_allclose(fitted.mean, mean, rtol=1e-12)
    np.testing.assert_allclose(fitted.scale, scale, rtol=1e-12)
    np.testing.assert_allclose(fitted.weights, weights, rtol=1e-6, atol=1e-8 * np.abs(weights).max())
    np.testing.assert_allclose(fitted.bias, bias, rtol=1e-6, atol=1e-8 * np.abs(bias).max())


def test_several_shrinkages_equal_separate_fits_and_uniform_priors_ignore_class_sizes():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], [40, 10, 10])
    features = rng.normal(size=(60, 20)) + labels[:, None]
    together = fit_shrinkage_lda(features, labels, num_classes=3, shrinkages=[0.2, 0.7])
    for shrinkage, fitted in zip([0.2, 0.7], together):
        alone, = fit_shrinkage_lda(features, labels, num_classes=3, shrinkages=[shrinkage])
        np.testing.assert_allclose(fitted.weights, alone.weights, rtol=1e-10)
    # uniform priors: the point midway between the means of class 0 (40 clips) and class 1 (10)
    # is scored equally by both (priors from the class sizes would favour class 0 by log 4)
    middle = (features[labels == 0].mean(axis=0) + features[labels == 1].mean(axis=0)) / 2
    for fitted in together:
        scores = fitted.scores(middle[None])[0]
        assert scores[0] == pytest.approx(scores[1], abs=1e-9 * np.abs(scores).max())
    fitted = together[0]
    _, _, weights, bias = _textbook(features, labels, 3, 0.2)
    probe = np.stack([middle, features[0]])
    expected = ((probe - fitted.mean) / fitted.scale) @ weights + bias
    np.testing.assert_allclose(fitted.scores(probe), expected, rtol=1e-6)


def test_a_class_without_clips_never_wins():
    rng = np.random.default_rng(1)
    labels = np.arange(40) % 2
    fitted, = fit_shrinkage_lda(rng.normal(size=(40, 5)) + labels[:, None], labels, num_classes=4, shrinkages=[0.5])
    assert set(fitted.predict(rng.normal(size=(200, 5)) * 5).tolist()) <= {0, 1}


@pytest.mark.parametrize("shrinkage, features, message", [
    (0.0, None, "shrinkage"), (1.5, None, "shrinkage"), (True, None, "shrinkage"),
    (0.5, np.full((4, 3), np.nan), "NaN"), (0.5, np.zeros((1, 3)), "two clips"),
])
def test_bad_settings_and_inputs_are_named(shrinkage, features, message):
    features = np.zeros((4, 3)) if features is None else features
    with pytest.raises(ParameterError, match=message):
        fit_shrinkage_lda(features, np.zeros(len(features), int), num_classes=2, shrinkages=[shrinkage])


def test_the_keras_model_gives_the_classifiers_scores():
    rng = np.random.default_rng(7)
    labels = np.arange(50) % 5
    features = rng.normal(size=(50, 30)) * 100 + 400 + labels[:, None]
    fitted, = fit_shrinkage_lda(features, labels, num_classes=5, shrinkages=[0.3])
    model = lda_model(fitted, (30,))
    logits = model.predict(features.astype(np.float32), verbose=0)
    np.testing.assert_allclose(logits, fitted.scores(features), rtol=1e-3, atol=1e-3 * np.abs(logits).max())
    np.testing.assert_array_equal(logits.argmax(axis=1), fitted.predict(features))

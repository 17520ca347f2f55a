"""PCA post-processing with the official parameters, against the spec's formula."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vggish import InputError, ModelFileError
from vggish.postprocess import Postprocessor

OFFICIAL_PCA_SHA256 = "4d878af3e306defbfb37095365aa7e5a6cecb86bad13e859e626151c4e6a8b9d"  # ../shared/vggish/README.md


@pytest.fixture(scope="module")
def pca_path(vggish_shared_dir):
    return vggish_shared_dir / "vggish_pca_params.npz"


def test_shared_pca_file_is_the_official_one(pca_path):
    assert hashlib.sha256(pca_path.read_bytes()).hexdigest() == OFFICIAL_PCA_SHA256


def test_postprocess_equals_the_spec_formula(pca_path):
    stored = np.load(pca_path)
    eigen_vectors, means = stored["pca_eigen_vectors"], stored["pca_means"]
    rng = np.random.default_rng(0)
    # raw embeddings around the means, spread so that the projection crosses both clip limits
    raw = (means + rng.normal(scale=0.5, size=(500, 128))).astype(np.float32)
    expected = np.empty((500, 128), dtype=np.uint8)
    for row in range(500):
        projected = eigen_vectors @ (raw[row].astype(np.float64) - means)
        clipped = np.minimum(np.maximum(projected, -2.0), 2.0)
        expected[row] = np.floor((clipped + 2.0) * 255.0 / 4.0).astype(np.uint8)
    ours = Postprocessor(pca_path).postprocess(raw)
    assert ours.dtype == np.uint8 and ours.shape == (500, 128)
    np.testing.assert_array_equal(ours, expected)
    assert ours.min() == 0 and ours.max() == 255  # both clip limits were exercised


def test_means_stored_as_a_column_are_accepted(pca_path, tmp_path):
    stored = np.load(pca_path)
    column = tmp_path / "column.npz"
    np.savez(column, pca_eigen_vectors=stored["pca_eigen_vectors"], pca_means=stored["pca_means"].reshape(128, 1))
    raw = np.random.default_rng(1).normal(size=(4, 128))
    np.testing.assert_array_equal(Postprocessor(column).postprocess(raw), Postprocessor(pca_path).postprocess(raw))


@pytest.mark.parametrize("arrays, message", [
    ({"pca_means": np.zeros(128)}, "no array named 'pca_eigen_vectors'"),
    ({"pca_eigen_vectors": np.eye(128)}, "no array named 'pca_means'"),
    ({"pca_eigen_vectors": np.eye(64), "pca_means": np.zeros(128)}, r"pca_eigen_vectors has shape \(64, 64\)"),
    ({"pca_eigen_vectors": np.eye(128), "pca_means": np.zeros(127)}, r"pca_means has shape \(127,\)"),
    (None, "cannot read the PCA parameters"),
])
def test_bad_pca_files_name_the_file_and_key(tmp_path, arrays, message):
    path = tmp_path / "pca.npz"
    if arrays is None:
        path.write_text("not an npz")
    else:
        np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=message) as caught:
        Postprocessor(path)
    assert str(path) in str(caught.value)


def test_postprocess_rejects_bad_shapes(pca_path):
    with pytest.raises(InputError, match=r"\(n, 128\)"):
        Postprocessor(pca_path).postprocess(np.zeros((3, 127)))

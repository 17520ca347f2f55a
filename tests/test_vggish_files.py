"""Model files: fetched from a local server, verified, cached; local paths verified."""

from __future__ import annotations

import hashlib

import pytest

from http_server import FileServer
from ravdess_prep.exceptions import ChecksumError, ModelFileError
from vggish import files, params


@pytest.fixture
def pca_bytes(vggish_shared_dir):
    return (vggish_shared_dir / "vggish_pca_params.npz").read_bytes()


def test_official_pca_fetch_resumes_then_hits_the_cache(pca_bytes, tmp_path):
    # an earlier run was interrupted after 30000 bytes
    (tmp_path / "vggish_pca_params.npz.part").write_bytes(pca_bytes[:30000])
    with FileServer({"/audioset/vggish_pca_params.npz": pca_bytes}) as server:
        url = server.url + "/audioset/vggish_pca_params.npz"
        path = files.pca_params_file(cache_dir=tmp_path, url=url, progress=False)
        assert path == tmp_path / "vggish_pca_params.npz"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == params.PCA_PARAMS_SHA256
        assert server.requests == [("/audioset/vggish_pca_params.npz", "bytes=30000-")]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["vggish_pca_params.npz"]
        server.requests.clear()
        assert files.pca_params_file(cache_dir=tmp_path, url=url, progress=False) == path
        assert server.requests == []  # verified cache hit: no request


def test_official_fetch_refuses_another_file(pca_bytes, tmp_path):
    forged = bytearray(pca_bytes)
    forged[-100] ^= 0xFF  # same size, other content
    with FileServer({"/audioset/vggish_pca_params.npz": bytes(forged)}) as server:
        with pytest.raises(ChecksumError, match="SHA256 is .*expected " + params.PCA_PARAMS_SHA256):
            files.pca_params_file(cache_dir=tmp_path, url=server.url + "/audioset/vggish_pca_params.npz",
                                  progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing cached, no partial file


def test_official_checkpoint_fetch_refuses_a_wrong_size(random_checkpoint, tmp_path):
    with FileServer({"/audioset/vggish_model.ckpt": b"x" * 1000}) as server:
        with pytest.raises(ChecksumError, match="size is 1000 bytes, expected 291108469 bytes"):
            files.checkpoint_file(cache_dir=tmp_path, url=server.url + "/audioset/vggish_model.ckpt",
                                  progress=False)
    assert list(tmp_path.iterdir()) == []


def test_local_pca_file_is_verified(pca_bytes, tmp_path):
    official = tmp_path / "pca.npz"
    official.write_bytes(pca_bytes)
    assert files.pca_params_file(official) == official
    import numpy as np

    custom = tmp_path / "custom.npz"
    np.savez(custom, pca_eigen_vectors=np.eye(128), pca_means=np.zeros(128))
    with pytest.raises(ModelFileError, match="not the official VGGish PCA parameters"):
        files.pca_params_file(custom)
    assert files.pca_params_file(custom, allow_custom=True) == custom


def test_model_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv(params.MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("RAVDESS_PREP_CACHE", str(tmp_path / "cache"))
    assert files.model_dir() == tmp_path / "cache" / "vggish"
    monkeypatch.setenv(params.MODEL_DIR_ENV, str(tmp_path / "models"))
    assert files.model_dir() == tmp_path / "models"
    assert files.model_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_model_files_hash_each_file_once(random_checkpoint, vggish_shared_dir, monkeypatch):
    import ravdess_prep.download
    from ravdess_prep import pipeline
    from vggish.model import VGGish

    hashed = []
    real_digest = ravdess_prep.download.file_digest
    monkeypatch.setattr(ravdess_prep.download, "file_digest",
                        lambda path, algorithm, **kw: hashed.append(str(path)) or real_digest(path, algorithm, **kw))
    pca = vggish_shared_dir / "vggish_pca_params.npz"
    files = pipeline.model_files(random_checkpoint, pca, allow_custom_checkpoint=True, progress=False)
    assert sorted(hashed) == sorted([str(random_checkpoint), str(pca)])
    with open(random_checkpoint, "rb") as stream:
        assert files.checkpoint_sha256 == hashlib.file_digest(stream, "sha256").hexdigest()
    assert files.pca_sha256 == params.PCA_PARAMS_SHA256
    hashed.clear()
    with VGGish(files.checkpoint, verify=False):  # the pipeline's model: already verified
        pass
    assert hashed == []

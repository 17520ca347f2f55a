"""The VGGish adapter's model files: fetched from a local server, verified, cached; local
paths verified; each file hashed once."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from http_server import FileServer
from ravdess_prep.embedders import VGGishEmbedder, VGGishFiles
from ravdess_prep.embedders import vggish as adapter
from ravdess_prep.exceptions import ChecksumError, ModelFileError
from vggish import params


@pytest.fixture
def pca_bytes(vggish_shared_dir):
    return (vggish_shared_dir / "vggish_pca_params.npz").read_bytes()


def _fetch_pca(server, folder, checkpoint):
    """The official PCA file from ``server`` (the checkpoint is a local custom one)."""
    files = VGGishFiles(checkpoint=checkpoint, allow_custom_checkpoint=True, base_url=server.url + "/audioset")
    return VGGishEmbedder().model_files(files, cache_dir=folder, progress=False)


def test_official_pca_fetch_resumes_then_hits_the_cache(pca_bytes, random_checkpoint, tmp_path):
    # an earlier run was interrupted after 30000 bytes
    (tmp_path / "vggish_pca_params.npz.part").write_bytes(pca_bytes[:30000])
    with FileServer({"/audioset/vggish_pca_params.npz": pca_bytes}) as server:
        found = _fetch_pca(server, tmp_path, random_checkpoint)
        path = found["pca_params"].path
        assert path == tmp_path / "vggish_pca_params.npz"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == found["pca_params"].sha256 == params.PCA_PARAMS_SHA256
        assert server.requests == [("/audioset/vggish_pca_params.npz", "bytes=30000-")]
        assert sorted(p.name for p in tmp_path.iterdir()) == ["vggish_pca_params.npz"]
        server.requests.clear()
        assert _fetch_pca(server, tmp_path, random_checkpoint)["pca_params"].path == path
        assert server.requests == []  # verified cache hit: no request
    assert found.official is False  # the checkpoint is not the official one


def test_official_fetch_refuses_another_file(pca_bytes, random_checkpoint, tmp_path):
    forged = bytearray(pca_bytes)
    forged[-100] ^= 0xFF  # same size, other content
    with FileServer({"/audioset/vggish_pca_params.npz": bytes(forged)}) as server:
        with pytest.raises(ChecksumError, match="SHA256 is .*expected " + params.PCA_PARAMS_SHA256):
            _fetch_pca(server, tmp_path, random_checkpoint)
    assert list(tmp_path.iterdir()) == []  # nothing cached, no partial file


def test_official_checkpoint_fetch_refuses_a_wrong_size(vggish_shared_dir, tmp_path):
    with FileServer({"/audioset/vggish_model.ckpt": b"x" * 1000}) as server:
        files = VGGishFiles(pca_params=vggish_shared_dir / "vggish_pca_params.npz", base_url=server.url + "/audioset")
        with pytest.raises(ChecksumError, match="size is 1000 bytes, expected 291108469 bytes"):
            VGGishEmbedder().model_files(files, cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_local_pca_file_is_verified(pca_bytes, random_checkpoint, tmp_path):
    official = tmp_path / "pca.npz"
    official.write_bytes(pca_bytes)
    embedder = VGGishEmbedder()

    def files(pca, **kwargs):
        return VGGishFiles(checkpoint=random_checkpoint, pca_params=pca, allow_custom_checkpoint=True, **kwargs)

    assert embedder.model_files(files(official))["pca_params"].path == official
    custom = tmp_path / "custom.npz"
    np.savez(custom, pca_eigen_vectors=np.eye(128), pca_means=np.zeros(128))
    with pytest.raises(ModelFileError, match="not the official VGGish PCA parameters"):
        embedder.model_files(files(custom))
    assert embedder.model_files(files(custom, allow_custom_pca_params=True))["pca_params"].path == custom


def test_random_checkpoint_is_refused_unless_custom_is_accepted(random_checkpoint, vggish_shared_dir):
    files = VGGishFiles(checkpoint=random_checkpoint, pca_params=vggish_shared_dir / "vggish_pca_params.npz")
    with pytest.raises(ModelFileError, match="not the official VGGish checkpoint") as caught:
        VGGishEmbedder().model_files(files)
    assert str(random_checkpoint) in str(caught.value) and "allow_custom_checkpoint=True" in str(caught.value)
    accepted = VGGishEmbedder().model_files(VGGishFiles(**{**files.__dict__, "allow_custom_checkpoint": True}))
    assert accepted["checkpoint"].path == random_checkpoint.resolve() and not accepted.official


def test_model_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv(adapter.MODEL_DIR_ENV, raising=False)
    monkeypatch.setenv("RAVDESS_PREP_CACHE", str(tmp_path / "cache"))
    assert adapter.model_dir() == tmp_path / "cache" / "vggish"
    monkeypatch.setenv(adapter.MODEL_DIR_ENV, str(tmp_path / "models"))
    assert adapter.model_dir() == tmp_path / "models"
    assert adapter.model_dir(tmp_path / "explicit") == tmp_path / "explicit"


def test_model_files_hash_each_file_once(random_checkpoint, vggish_shared_dir, monkeypatch):
    import ravdess_prep.storage.digest

    hashed = []
    real_digest = ravdess_prep.storage.digest.file_digest
    monkeypatch.setattr(ravdess_prep.storage.digest, "file_digest",
                        lambda path, *args, **kw: hashed.append(str(path)) or real_digest(path, *args, **kw))
    pca = vggish_shared_dir / "vggish_pca_params.npz"
    found = VGGishEmbedder().model_files(VGGishFiles(random_checkpoint, pca, allow_custom_checkpoint=True),
                                         progress=False)
    assert sorted(hashed) == sorted([str(random_checkpoint), str(pca)])
    with open(random_checkpoint, "rb") as stream:
        assert found["checkpoint"].sha256 == hashlib.file_digest(stream, "sha256").hexdigest()
    assert found["pca_params"].sha256 == params.PCA_PARAMS_SHA256
    hashed.clear()
    VGGishEmbedder().load(found).close()  # the pipeline's model: already verified, not hashed again
    assert hashed == []

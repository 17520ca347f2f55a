"""The Python blocks of the README and of the documentation's how-to pages run as written, in
order, in one scratch folder (the tutorial has its own test, ``test_docs.py``).

The scratch folder holds ``data/ravdess`` (the run's small tree: 18 real clips) and
``clip.wav``. The only thing changed is where the official VGGish files come from: they cannot
be downloaded here, so the adapter's lookup of the official files returns the random-weights
checkpoint and the shared official PCA file. The pages' cache starts with the clips of the run's
small build (the same clips, settings and files), so their builds take their clips from it: what
the model computes is checked elsewhere (``test_pipeline.py``, ``test_golden_outputs.py``); here,
that the pages run as written and give what they say.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from ravdess_prep.params import CLIP_CACHE_FOLDER

ROOT = Path(__file__).resolve().parents[1]
#: The pages whose examples run, in this order (later ones use what earlier ones built).
PAGES = ["README.md", "docs/getting-started.md", "docs/embedders/index.md", "docs/elsewhere.md", "docs/beam.md",
         "docs/data.md", "docs/embedders/vggish.md"]


def _python_blocks():
    return [(page, index, block) for page in PAGES
            for index, block in enumerate(re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(), flags=re.S),
                                          start=1)]


def test_every_page_listed_has_python_blocks():
    assert {page for page, _, _ in _python_blocks()} == set(PAGES)


def test_readme_python_blocks_run(ravdess_dir, small_tree, small_build, random_checkpoint, vggish_shared_dir, tmp_path,
                                  monkeypatch):
    shutil.copytree(small_tree, tmp_path / "data" / "ravdess")
    shutil.copytree(small_build.cache / CLIP_CACHE_FOLDER, tmp_path / "cache" / CLIP_CACHE_FOLDER)
    sample = ravdess_dir / "Audio_Speech_Actors_01-24" / "Actor_08" / "03-01-01-01-01-02-08.flac"
    samples, rate = soundfile.read(str(sample), dtype="int16")
    soundfile.write(str(tmp_path / "clip.wav"), samples, rate, subtype="PCM_16")

    from ravdess_prep.embedders import VGGishEmbedder, VGGishFiles

    real = VGGishEmbedder.model_files
    local = VGGishFiles(random_checkpoint, vggish_shared_dir / "vggish_pca_params.npz", allow_custom_checkpoint=True)
    # the official files are replaced where they are looked up
    monkeypatch.setattr(VGGishEmbedder, "model_files",
                        lambda self, files=None, **kwargs: real(self, files or local, **kwargs))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAVDESS_PREP_CACHE", str(tmp_path / "cache"))

    namespace: dict = {}
    for page, index, block in _python_blocks():
        try:
            exec(compile(block, f"{page} python block {index}", "exec"), namespace)
        except Exception as error:  # name the block that failed
            pytest.fail(f"{page} python block {index} failed: {error!r}\n{block}")
    assert namespace["lengths"].target.length_samples > 0
    assert namespace["embedded"].embeddings.shape[0] == 18
    assert namespace["codes"].dtype == np.uint8
    # taking the data elsewhere: a preset's fold, exported, its card, rebuilt from its manifest
    assert namespace["fold1"].manifest["splits"]["test"]["speakers"] == [1]
    assert namespace["fold1"].manifest["splits"]["dev"]["speakers"] == [8]
    assert namespace["again"].computed == 0 and namespace["hf"]["test"].num_rows == 6
    assert namespace["card"].startswith("---\n") and "cc-by-nc-sa-4.0" in namespace["card"]
    fold_files = sorted((tmp_path / "data" / "fold1").rglob("*.npy"))
    assert [path.read_bytes() for path in fold_files] == [
        (tmp_path / "data" / "fold1-again" / path.relative_to(tmp_path / "data" / "fold1")).read_bytes()
        for path in fold_files]
    import pandas as pd

    table = pd.read_parquet(tmp_path / "data" / "fold1.parquet")
    assert len(table) == 18 and set(table["split"]) == {"train", "dev", "test"}
    # clip.wav is a clip of the dataset: embed_files gives exactly its bundle row
    names = np.load(tmp_path / "data" / "bundles-small" / "dev" / "dev_filenames.npy").tolist()
    dev = np.load(tmp_path / "data" / "bundles-small" / "dev" / "dev_embeddings.npy")
    assert namespace["embeddings"].shape == (1,) + dev.shape[1:]
    np.testing.assert_array_equal(namespace["embeddings"][0], dev[names.index("speech/Actor_08/03-01-01-01-01-02-08.wav")])
    np.testing.assert_array_equal(namespace["row"], namespace["embeddings"][0])  # the embedding object's

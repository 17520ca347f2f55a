"""The documentation site: it builds with ``mkdocs build --strict``, every block of the tutorial
runs as written, and two pages render in headless Chromium.

The tutorial runs in a scratch folder holding ``data/ravdess`` (the clips of actors 01, 08 and
11, four speech and two song clips each), exactly as its first paragraph says. Its ``bash``
blocks are ``ravdess-prep`` commands, run through the command line's entry point.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import copy_clips, require_opensmile
from ravdess_prep import cli
from ravdess_prep.dataset.bundles import read_bundles

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "tutorial.md"
NOTEBOOK = ROOT / "docs" / "notebook.ipynb"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def fenced_blocks(path: Path) -> list[tuple[str, str]]:
    """``(language, code)`` of every fenced block of a Markdown page, in order."""
    return re.findall(r"^```(\w+)\n(.*?)^```", path.read_text(), flags=re.S | re.M)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    pytest.importorskip("mkdocs", reason="the docs tools are the extra 'docs': pip install -e '.[docs]'")
    pytest.importorskip("mkdocstrings", reason="the docs tools are the extra 'docs': pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def test_the_site_builds_strictly_with_every_page_and_api_object(site):
    for page in ("index.html", "tutorial/index.html", "notebook/index.html", "embedding/index.html",
                 "embedders/whisper/index.html", "embedders/hf/index.html",
                 "failures/index.html", "changelog/index.html", "accuracy/index.html"):
        assert (site / page).is_file(), page
    notebook = (site / "notebook" / "index.html").read_text()  # the cells, their outputs, the plot
    assert "Three actors, end to end" in notebook and "process_file" in notebook and "data:image/png" in notebook
    api = (site / "api" / "pipeline" / "index.html").read_text()
    for name in ("build", "embed_files", "rebuild", "source", "measure", "write"):
        assert f'id="ravdess_prep.pipeline.{name}"' in api, name
    for page, name in (("config", "ravdess_prep.config.Config"), ("whisper", "whisper_encoder.WhisperEncoder"),
                       ("embedders", "ravdess_prep.embedders.HFEmbedder"), ("vggish", "vggish.VGGish"),
                       ("yamnet", "yamnet_model.YAMNet"), ("export", "ravdess_prep.dataset.export.write_parquet"),
                       ("classifier", "ravdess_prep.evaluation.classifier.train"),
                       ("classifier", "ravdess_prep.evaluation.heads.base.Head"),
                       ("classifier", "ravdess_prep.predict.predict_files"), ("corpora", "ravdess_prep.corpora.base.Corpus"),
                       ("crossval", "ravdess_prep.evaluation.crossval.cross_validate"), ("crossval", "ravdess_prep.corpora.protocols.Protocol"),
                       ("crossval", "ravdess_prep.evaluation.shrinkage_lda.fit_shrinkage_lda")):
        assert f'id="{name}"' in (site / "api" / page / "index.html").read_text(), name


def test_the_architecture_page_names_every_package_and_module():
    """docs/architecture.md matches the tree: every package of the library, and every module
    (but the command line's, one per command), is named there."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    library = ROOT / "ravdess_prep"
    missing = []
    for path in sorted(library.rglob("*.py")):
        relative = path.relative_to(library)
        if relative.parts[0] == "cli" or path.stem in ("__init__", "__main__"):
            continue
        if f"`{path.stem}`" not in page:
            missing.append(relative.as_posix())
    packages = sorted(f"`{path.parent.relative_to(library).as_posix()}/`" for path in library.glob("*/__init__.py"))
    missing += [package for package in packages if package not in page]
    assert missing == []
    assert len(packages) >= 8


def test_every_tutorial_block_runs(ravdess_dir, tmp_path, monkeypatch, capsys):
    require_opensmile()  # the tutorial uses the eGeMAPS embedder (not imported here: see conftest)
    copy_clips(ravdess_dir, tmp_path / "data" / "ravdess", (1, 8, 11), speech=4, song=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAVDESS_PREP_CACHE", str(tmp_path / "cache"))
    blocks = fenced_blocks(TUTORIAL)
    assert [language for language, _ in blocks].count("python") >= 5
    namespace: dict = {}
    for index, (language, code) in enumerate(blocks, start=1):
        if language == "python":
            try:
                exec(compile(code, f"tutorial block {index}", "exec"), namespace)
            except Exception as error:  # name the block that failed
                pytest.fail(f"tutorial block {index} failed: {error!r}\n{code}")
        else:
            assert language == "bash", index
            for line in code.splitlines():
                words = shlex.split(line, comments=True)
                assert words[0] == "ravdess-prep", line
                assert cli.main(words[1:]) == 0, (line, capsys.readouterr().err)
    result = namespace["result"]
    assert result.computed == 18 and result.cached == 0
    bundles = read_bundles(tmp_path / "data" / "tutorial")
    assert {split: len(bundle) for split, bundle in bundles.items()} == {"train": 6, "dev": 6, "test": 6}
    assert bundles["train"].embeddings.shape == (6, 88)
    # the new recording is a clip of actor 01: its embedding is its bundle row
    name = next(name for name in bundles["train"].names if Path(namespace["new_clip"]).stem in name)
    row = list(bundles["train"].names).index(name)
    np.testing.assert_array_equal(namespace["embedding"][0], bundles["train"].embeddings[row])
    assert namespace["probabilities"].shape == (1, 8)
    assert (tmp_path / "models" / "tutorial" / "metrics.json").is_file()
    assert (tmp_path / "models" / "tutorial-norm" / "model.keras").is_file()
    assert len(namespace["table"]) == 18 and len(namespace["table"]["embedding"].iloc[0]) == 88


def test_every_notebook_cell_runs_and_its_outputs_are_of_such_a_run(ravdess_dir, tmp_path, monkeypatch):
    """The notebook's code cells, in order, in a folder holding data/ravdess (as the notebook
    says); the library leaves the plotting backend a notebook chose alone."""
    require_opensmile()  # the notebook uses the eGeMAPS embedder (not imported here: see conftest)
    import matplotlib

    copy_clips(ravdess_dir, tmp_path / "data" / "ravdess", (1, 8, 11), speech=4, song=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAVDESS_PREP_CACHE", str(tmp_path / "cache"))
    backend = matplotlib.get_backend()
    matplotlib.use("svg")  # a backend of the user's: building and training must not switch it
    try:
        cells = json.loads(NOTEBOOK.read_text())["cells"]
        namespace: dict = {}
        for index, cell in enumerate(cells):
            if cell["cell_type"] == "code":
                code = "".join(cell["source"]).replace("plt.show()", "figure.savefig('scores.svg')")
                try:
                    exec(compile(code, f"notebook cell {index}", "exec"), namespace)
                except Exception as error:  # name the cell that failed
                    pytest.fail(f"notebook cell {index} failed: {error!r}\n{code}")
        assert matplotlib.get_backend() == "svg"
    finally:
        matplotlib.use(backend)
    result = namespace["result"]
    assert result.computed == 18 and (tmp_path / "scores.svg").is_file()
    bundles = read_bundles(tmp_path / "data" / "notebook")
    test = bundles["test"]
    name = next(name for name in test.names if Path(namespace["new_clip"]).stem in name)
    np.testing.assert_array_equal(namespace["row"], test.embeddings[list(test.names).index(name)])
    assert len(namespace["frame"]) == 4 and set(namespace["scores"]) == {"train", "dev", "test"}
    # the outputs stored with the notebook are those of a run of these cells on such a folder
    printed = "".join("".join(output.get("text", "")) for cell in cells for output in cell.get("outputs", ()))
    assert "18 clips embedded; {'train': 6, 'dev': 6, 'test': 6}" in printed
    assert f"{Path(namespace['new_clip']).name} (88,)" in printed
    assert any("image/png" in output.get("data", {}) for cell in cells for output in cell.get("outputs", ()))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _chromium(url: str, profile: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run",
         f"--user-data-dir={profile}", "--window-size=1280,1000", *options, url],
        capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)")
def test_two_pages_render_in_headless_chromium(site, tmp_path):
    import matplotlib.image

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    pages = {"landing": ("/", "<title>ravdess-prep</title>", 'id="ravdess-prep"'),
             "pipeline-api": ("/api/pipeline/", "<title>ravdess_prep.pipeline - ravdess-prep</title>",
                              'id="ravdess_prep.pipeline.build"')}
    try:
        for name, (path, title, heading) in pages.items():
            dom = _chromium(base + path, tmp_path / f"profile-{name}", "--dump-dom")
            assert dom.returncode == 0, dom.stderr[-2000:]
            assert title in dom.stdout and heading in dom.stdout, name
            assert 'class="md-header' in dom.stdout, name  # the theme rendered
            shot = tmp_path / f"{name}.png"
            taken = _chromium(base + path, tmp_path / f"profile-{name}-shot", f"--screenshot={shot}")
            assert taken.returncode == 0 and shot.is_file(), taken.stderr[-2000:]
            pixels = matplotlib.image.imread(shot)
            assert pixels.shape[:2] == (1000, 1280) and pixels[..., :3].std() > 0.05, name  # not a blank page
    finally:
        server.shutdown()
        server.server_close()

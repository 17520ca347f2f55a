"""Every cross-validated figure of the accuracy page, the README and the changelog is a record's:
the page's tables are rendered from ``docs/records`` (``scripts/accuracy_records.py``), the
README and the changelog quote the same records, and each record is what its command says
(``python -m pytest -m slow tests/test_accuracy.py`` runs the commands again)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _records_module():
    spec = importlib.util.spec_from_file_location("accuracy_records", ROOT / "scripts" / "accuracy_records.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


records = _records_module()


def test_every_record_is_a_command_of_the_list_and_says_what_it_ran():
    assert sorted(path.stem for path in records.RECORDS.glob("*.json")) == sorted(records.RUNS)
    for name, options in records.RUNS.items():
        record = records.read_record(name)
        assert record["protocol"] == options[options.index("--protocol") + 1], name
        assert (record["regime"]["name"] == "as published") == ("--as-published" in options), name
        head = options[options.index("--head") + 1] if "--head" in options else "auto"
        assert record["config"]["head"] == head, name
        assert record["config"]["speaker_norm"] == ("--speaker-norm" in options), name
        enrol = int(options[options.index("--enrol-clips") + 1]) if "--enrol-clips" in options else None
        assert record["config"]["enrol_clips"] == enrol, name
        for flag, key in (("--ensemble", "ensemble"), ("--layer", "layer")):
            if flag in options:
                assert record["config"][key] == int(options[options.index(flag) + 1]), name
        assert record["refit"] == ("--no-refit" not in options and "--as-published" not in options), name


def test_the_accuracy_page_holds_the_tables_of_the_records():
    page = (ROOT / "docs" / "accuracy.md").read_text()
    assert set(records.TABLES) <= {line.split("<!-- records: ")[1].split(" -->")[0]
                                   for line in page.splitlines() if line.startswith("<!-- records: ")}
    assert records.with_tables(page) == page, "run: python scripts/accuracy_records.py tables --write docs/accuracy.md"


def _quoted(name: str) -> str:
    record = records.read_record(name)
    return f"{records.percent(record['ua']['mean'])}% (interval {records.interval(record)}%)"


@pytest.mark.parametrize("document", ["README.md", "docs/changelog.md", "docs/accuracy.md"])
def test_the_readme_and_the_changelog_quote_the_records(document):
    text = " ".join((ROOT / document).read_text().split())
    for name in ("emobox-auto", "emobox-published", "emobox-enrol16", "emobox-all"):
        assert _quoted(name) in text, (document, name, _quoted(name))


def test_the_comparison_with_emobox_is_sized_by_the_interval():
    """"above" EmoBox's Whisper large-v3 (75.3) only where the interval lies above it, and
    Pepino et al.'s 84.3 compared the same way."""
    text = " ".join((ROOT / "README.md").read_text().split())
    for name in ("emobox-auto", "emobox-published"):
        low, high = records.read_record(name)["ua"]["ci95"]
        word = "above" if low > 0.753 else "on par with"
        assert f"{_quoted(name)}, {word} EmoBox's" in text, (name, word)
    page = " ".join((ROOT / "docs" / "accuracy.md").read_text().split())
    low, _ = records.read_record("pepino-published-all")["ua"]["ci95"]
    word = "above" if low > 0.843 else "on par with"
    assert f"UA {_quoted('pepino-published-all')}, {word} their wav2vec 2.0 base's 84.3" in page

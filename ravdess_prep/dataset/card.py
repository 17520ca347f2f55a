"""The data card of a bundle folder: ``README.md`` in the Hugging Face dataset-card convention
(a YAML header, then prose), and two figures, ``lengths.png`` and ``counts.png``.

The card says what the data is and may be used for: the corpus with its license and citation,
the embedder with its weights' license and citation, every setting, the split and its
speakers, counts per split x label x facet, the target length, trim statistics, and the
command that rebuilds the folder. Everything in it comes from the manifest and the metadata
table, so two builds of the same data write the same card, byte for byte.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ..params import FEATURE_NAMES, SPLITS

if TYPE_CHECKING:  # pandas is imported where it is used, not at import time
    import pandas

CARD = "README.md"
LENGTHS_FIGURE = "lengths.png"
COUNTS_FIGURE = "counts.png"
#: The license identifiers of the Hugging Face card convention.
LICENSE_IDS = {"CC BY-NC-SA 4.0": "cc-by-nc-sa-4.0", "Apache-2.0": "apache-2.0", "CC0 1.0": "cc0-1.0",
               "ODbL 1.0 (contents: DbCL 1.0)": "odbl"}


def card_counts(metadata: "pandas.DataFrame", *, columns: tuple[str, ...]) -> dict:
    """``{split: {value of columns[0]: {value of columns[1]: ... count}}}`` of the kept clips."""
    kept = metadata[metadata["split"].isin(SPLITS)]
    counts: dict = {}
    for split in SPLITS:
        part = kept[kept["split"] == split]
        counts[split] = _nested(part, list(columns))
    return counts


def _nested(part, columns):
    if not columns:
        return int(len(part))
    return {str(value): _nested(part[part[columns[0]] == value], columns[1:])
            for value in sorted(part[columns[0]].unique(), key=str)}


def trim_statistics(metadata: "pandas.DataFrame", *, sample_rate_hz: int) -> dict:
    """Trimmed lengths in seconds (min, median, mean, max) and the share of samples removed."""
    kept = metadata[metadata["split"].isin(SPLITS)]
    seconds = kept["trimmed_length_samples"].to_numpy(float) / sample_rate_hz
    removed = 1.0 - kept["trimmed_length_samples"].sum() / max(1, kept["num_samples_at_rate"].sum())
    return {"clips": int(len(kept)), "min_s": round(float(seconds.min()), 4),
            "median_s": round(float(np.median(seconds)), 4), "mean_s": round(float(seconds.mean()), 4),
            "max_s": round(float(seconds.max()), 4), "silence_removed": round(float(removed), 4)}


def rebuild_command(manifest: dict) -> str:
    """The command that rebuilds a folder from its manifest and its sources."""
    roots = manifest.get("source", {}).get("roots") or ["<the source>"]
    sources = " ".join(f"--source {root}" for root in roots)
    return f"ravdess-prep build --from-manifest <this folder>/manifest.json {sources} --out <a new folder>"


def render_card(manifest: dict, metadata: "pandas.DataFrame", *, count_columns: tuple[str, ...]) -> str:
    """The text of ``README.md`` for a bundle folder."""
    corpus, embedder, config = manifest["corpus"], manifest["embedder"], manifest["config"]
    counts = card_counts(metadata, columns=count_columns)
    trim = trim_statistics(metadata, sample_rate_hz=manifest["sample_rate_hz"])
    splits = manifest["splits"]
    total = sum(split["clips"] for split in splits.values())
    header = {
        "license": LICENSE_IDS.get(corpus["license"].get("name"), "other"),
        "pretty_name": f"{corpus['title']}: {embedder['name']} embeddings",
        "language": [corpus.get("language", "en")],
        "task_categories": ["audio-classification"],
        "tags": ["speech-emotion-recognition", "embeddings", corpus["name"], embedder["name"]],
        "size_categories": [_size_category(total)],
        "dataset_info": {
            "features": [{"name": "embedding", "shape": manifest["embeddings"]},
                         {"name": corpus["label_column"], "class_label": corpus["label_names"]}],
            "splits": [{"name": "validation" if name == "dev" else name, "num_examples": split["clips"]}
                       for name, split in splits.items()],
        },
        "ravdess_prep": {
            "corpus": corpus["name"], "embedder": embedder["name"], "split_preset": config.get("split_preset"),
            "fold": config.get("fold"), "speakers": {name: split["speakers"] for name, split in splits.items()},
            "counts_by": list(count_columns), "counts": counts,
            "target_length_samples": manifest["target_length_samples"], "sample_rate_hz": manifest["sample_rate_hz"],
            "trim": trim,
        },
    }
    lines = ["---"] + [f"{key}: {json.dumps(value, sort_keys=True)}" for key, value in header.items()] + ["---", ""]
    settings = "\n".join(f"| `{key}` | `{json.dumps(value)}` |" for key, value in sorted(config.items()))
    split_rows = "\n".join(
        f"| {name} | {split['clips']} | {', '.join(f'{speaker:02d}' for speaker in split['speakers']) or '-'} | "
        f"{split['label_counts']} |" for name, split in splits.items())
    files = embedder.get("files", {})
    file_rows = "\n".join(f"| {role} | `{entry['sha256']}` |" for role, entry in sorted(files.items())) or "| (none) | |"
    lines += [
        f"# {corpus['title']}: {embedder['name']} embeddings",
        "",
        f"Train/dev/test bundles of {total} clips of {corpus['title']}, embedded with {embedder['name']}: "
        f"{manifest['embeddings']}. Written by ravdess-prep.",
        "",
        "## License and citation",
        "",
        f"- The recordings: {corpus['license'].get('name', 'see the corpus')} ({corpus['license'].get('url', '')}). "
        "Embeddings derived from them carry the same terms.",
        f"  Cite: {corpus['citation']}",
        f"- The embedder: {embedder.get('license', 'see its publisher')}. Cite: {embedder.get('citation', '-')}",
        "",
        "## Labels",
        "",
        "`<split>_labels.npy` holds the corpus's own label ids; the canonical names are one vocabulary "
        "across corpora (for crossing them).",
        "",
        "| label | the corpus's name | canonical name |",
        "|---|---|---|",
        *(f"| {label} | {name} | {canonical} |" for label, (name, canonical) in
          enumerate(zip(corpus["label_names"], corpus.get("canonical_names") or ["-"] * len(corpus["label_names"])))),
        "",
        "## Files",
        "",
        "- `<split>/<split>_filenames.npy`, `<split>/<split>_embeddings.npy`, `<split>/<split>_labels.npy` "
        "(train, dev, test)",
        "- `manifest.json`: every setting, counts, source and model digests, versions",
        "- `metadata.csv`: one row per clip (its metadata, split, trim offsets, audio SHA-256)",
        f"- `{LENGTHS_FIGURE}`: trimmed lengths and the target; `{COUNTS_FIGURE}`: clips per split and label",
        "",
        "## The split",
        "",
        f"Preset `{config.get('split_preset')}`" + (f", fold {config['fold']}" if config.get("fold") else "")
        + ": no speaker is in two splits.",
        "",
        *_protocol_lines(corpus.get("protocol")),
        "| split | clips | speakers | label counts |",
        "|---|---|---|---|",
        split_rows,
        "",
        f"Counts by {' x '.join(count_columns)} are in the header (`ravdess_prep.counts`).",
        "",
        "## Lengths",
        "",
        f"Every clip is trimmed ({config['trim_method']} rule) and centre-padded to "
        f"{manifest['target_length_samples']} samples ({manifest['target_length_seconds']:.3f} s at "
        f"{manifest['sample_rate_hz']} Hz), reached by {manifest['longest_clip'] or 'no clip (fixed)'}. Trimmed "
        f"lengths: {trim['min_s']} to {trim['max_s']} s (median {trim['median_s']} s); trimming removed "
        f"{trim['silence_removed']:.1%} of the samples. Clips handled by a policy: "
        f"{len(manifest['handled_by_policy'])}.",
        "",
        "## Settings",
        "",
        "| setting | value |",
        "|---|---|",
        settings,
        "",
        "Model files (SHA-256):",
        "",
        "| file | SHA-256 |",
        "|---|---|",
        file_rows,
        "",
        "## Rebuilding it",
        "",
        "```bash",
        rebuild_command(manifest),
        "```",
        "",
        "The sources' and model files' digests are checked against the manifest; the bundles come out byte-identical.",
        "",
    ]
    return "\n".join(lines)


def _protocol_lines(protocol: dict | None) -> list[str]:
    """The card's paragraph on the evaluation protocol a split preset is (none for others)."""
    if protocol is None:
        return []
    renamed = ", ".join(f"{name} as {target}" for name, target in sorted(protocol["label_map"].items()))
    return [f"The preset is the `{protocol['name']}` evaluation protocol: {protocol['title']}. Its classes: "
            f"{', '.join(protocol['classes'])}" + (f" ({renamed}; the bundles keep the corpus's labels, and `train` "
                                                   "and `crossval` map them)" if renamed else "") + ".",
            f"Cite: {protocol['citation']}", *([protocol["differences"]] if protocol["differences"] else []), ""]


def _size_category(count: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if count < bound:
            return name
    return "100K<n<1M"


def lengths_figure(metadata: "pandas.DataFrame", *, sample_rate_hz: int, target_length_samples: int) -> bytes:
    """``lengths.png``: a histogram of the trimmed lengths, the target marked."""
    kept = metadata[metadata["split"].isin(SPLITS)]
    figure = _figure()
    axis = figure.subplots()
    axis.hist(kept["trimmed_length_samples"].to_numpy(float) / sample_rate_hz, bins=40, color="tab:blue")
    axis.axvline(target_length_samples / sample_rate_hz, color="tab:red", linestyle="--",
                 label=f"target {target_length_samples / sample_rate_hz:.3f} s")
    axis.set_xlabel("trimmed length (s)")
    axis.set_ylabel("clips")
    axis.legend()
    return _png(figure)


def counts_figure(metadata: "pandas.DataFrame", *, label_column: str, label_names: list[str]) -> bytes:
    """``counts.png``: clips per split and label."""
    figure = _figure()
    axis = figure.subplots()
    width = 0.8 / len(SPLITS)
    positions = np.arange(len(label_names))
    for index, split in enumerate(SPLITS):
        part = metadata[metadata["split"] == split]
        counts = np.bincount(part[label_column].to_numpy(int), minlength=len(label_names))
        axis.bar(positions + index * width, counts, width, label=split)
    axis.set_xticks(positions + width * (len(SPLITS) - 1) / 2, label_names, rotation=30, ha="right")
    axis.set_ylabel("clips")
    axis.legend()
    return _png(figure)


def _figure():
    """A figure of its own, outside pyplot: the backend a notebook has chosen is left alone."""
    from matplotlib.figure import Figure

    return Figure(figsize=(6.4, 4.0), dpi=100)


def _png(figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})  # no version: the same bytes every build
    return buffer.getvalue()


def card_files(manifest: dict, metadata: "pandas.DataFrame", *, count_columns: tuple[str, ...], label_column: str,
               label_names: Sequence[str], feature_names: Sequence[str] | None = None) -> dict[str, str | bytes]:
    """The files beside the bundles: the data card, its two figures, and the feature names."""
    return {
        CARD: render_card(manifest, metadata, count_columns=count_columns),
        LENGTHS_FIGURE: lengths_figure(metadata, sample_rate_hz=manifest["sample_rate_hz"],
                                       target_length_samples=manifest["target_length_samples"]),
        COUNTS_FIGURE: counts_figure(metadata, label_column=label_column, label_names=list(label_names)),
        **({FEATURE_NAMES: "".join(f"{name}\n" for name in feature_names)} if feature_names else {}),
    }


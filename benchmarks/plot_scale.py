"""The figures of the docs' benchmarks page from what ``benchmarks/scale.py`` wrote.

    python benchmarks/scale.py --json builds.json builds --whisper-model DIR
    python benchmarks/scale.py --json long.json long --dataset DIR --model-dir DIR
    python benchmarks/plot_scale.py --builds builds.json --long long.json --out docs/img

``scale_builds.png``: the time per clip and the peak memory of builds of 1k, 4k and 16k clips,
a line per embedder. ``scale_long.png``: the real-time factor and the peak memory of
``predict --window 2 --hop 1`` on files of 10, 30 and 90 minutes, the floors drawn. The
machine (processor, cores, AMX) is in each title.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _machine(record: dict) -> str:
    machine = record.get("machine", {})
    return f"{machine.get('cores', '?')} cores, {'AMX' if machine.get('amx_bf16') else 'no AMX'}"


def plot_builds(record: dict, out: Path) -> None:
    figure, (time_axes, memory_axes) = plt.subplots(1, 2, figsize=(10, 3.6))
    for embedder in sorted({entry["embedder"] for entry in record["builds"]}):
        runs = sorted((entry for entry in record["builds"] if entry["embedder"] == embedder), key=lambda e: e["clips"])
        clips = [entry["clips"] for entry in runs]
        time_axes.plot(clips, [entry["ms_per_clip"] for entry in runs], marker="o", label=embedder)
        memory_axes.plot(clips, [entry["peak_rss_mb"] for entry in runs], marker="o", label=embedder)
    for axes in (time_axes, memory_axes):
        axes.set_xscale("log")
        axes.set_xlabel("clips in the build")
        axes.legend(frameon=False)
    time_axes.set_ylabel("ms per clip (wall)")
    time_axes.set_ylim(bottom=0)
    memory_axes.set_ylabel("peak memory (MB)")
    memory_axes.set_ylim(bottom=0)
    figure.suptitle(f"Builds as they grow ({_machine(record)})", fontsize=10)
    figure.tight_layout()
    figure.savefig(out / "scale_builds.png", dpi=100)


def plot_long(record: dict, out: Path) -> None:
    runs = sorted(record["long"], key=lambda entry: entry["minutes"])
    minutes = [entry["minutes"] for entry in runs]
    figure, (rtf_axes, memory_axes) = plt.subplots(1, 2, figsize=(10, 3.6))
    rtf_axes.plot(minutes, [entry["real_time_factor"] for entry in runs], marker="o")
    rtf_axes.axhline(0.1, color="grey", linestyle="--", linewidth=1, label="floor 0.1")
    rtf_axes.set_ylabel("real-time factor")
    rtf_axes.set_ylim(0, 0.12)
    memory_axes.plot(minutes, [entry["peak_rss_mb"] for entry in runs], marker="o")
    memory_axes.axhline(1536, color="grey", linestyle="--", linewidth=1, label="floor 1.5 GB")
    memory_axes.set_ylabel("peak memory (MB)")
    memory_axes.set_ylim(0, 1700)
    for axes in (rtf_axes, memory_axes):
        axes.set_xlabel("minutes of audio in one file")
        axes.legend(frameon=False, loc="lower right")
    figure.suptitle(f"predict --window 2 --hop 1, Whisper base, fp32 ({_machine(record)})", fontsize=10)
    figure.tight_layout()
    figure.savefig(out / "scale_long.png", dpi=100)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=Path)
    parser.add_argument("--long", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args(argv)
    if args.builds:
        plot_builds(json.loads(args.builds.read_text()), args.out)
    if args.long:
        plot_long(json.loads(args.long.read_text()), args.out)


if __name__ == "__main__":
    main()

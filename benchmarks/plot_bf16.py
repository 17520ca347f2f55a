"""The figure of the docs' benchmarks page from what ``benchmarks/bf16.py`` printed.

    python benchmarks/bf16.py --whisper-model DIR > bf16.log
    python benchmarks/plot_bf16.py bf16.log docs/img/encoders.png [--machine "2 cores, AMX"]

Three panels, one bar per model and precision: the encoder's fraction of that precision's
matrix-product peak in the build and alone (hatched; the issue's floor of 0.5 drawn), the wall seconds split into inside and
outside the encoder, and the peak resident memory. The processor's bfloat16 flags and the
device, as the log's first line gives them, are in the title.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_FIELD = re.compile(r"(\w+)=([^\s()]+)")


def parse(log: str) -> tuple[dict, dict]:
    """``(machine fields, {(model, precision): fields})`` of a ``bf16.py`` log."""
    machine, builds = {}, {}
    for line in log.splitlines():
        fields = dict(_FIELD.findall(line))
        if line.startswith("threads="):
            machine = fields
        words = line.split()
        if not words or "precision" not in fields:
            continue
        if words[0] == "roofline":
            builds.setdefault((words[1], fields["precision"]), {}).update(fields)
        elif words[0] == "alone":
            builds.setdefault((words[1], fields["precision"]), {})["alone_fraction"] = fields["fraction_of_peak"]
        elif words[0] in ("whisper", "hf") and "build_wall_s" in fields:
            builds.setdefault((words[0], fields["precision"]), {}).update(fields)
    return machine, builds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--machine", default="", help="words for the title (the processor, the cores)")
    args = parser.parse_args(argv)
    machine, builds = parse(args.log.read_text())
    if not builds:
        parser.error(f"{args.log}: no build lines of benchmarks/bf16.py")
    keys = sorted(builds, key=lambda key: (key[0] != "whisper", key[1] != "fp32"))
    labels = [f"{'Whisper-base' if model == 'whisper' else 'WavLM-base'}\n{precision}" for model, precision in keys]
    colours = ["#4c72b0" if precision == "fp32" else "#dd8452" for _, precision in keys]
    figure, axes = plt.subplots(1, 3, figsize=(12, 4))
    fractions = [float(builds[key]["fraction_of_peak"]) for key in keys]
    places = list(range(len(keys)))
    axes[0].bar([place - 0.2 for place in places], fractions, width=0.4, color=colours, label="in the build")
    if all("alone_fraction" in builds[key] for key in keys):
        axes[0].bar([place + 0.2 for place in places], [float(builds[key]["alone_fraction"]) for key in keys],
                    width=0.4, color=colours, hatch="//", edgecolor="white", label="alone, the same batches")
    axes[0].set_xticks(places, labels)
    axes[0].axhline(0.5, color="black", linestyle="--", linewidth=1, label="floor 0.5")
    axes[0].set_ylim(0, 1)
    axes[0].set_title("encoder: fraction of the precision's\nmatrix-product peak")
    axes[0].legend(loc="upper right")
    inside = [float(builds[key]["encoder_s"]) for key in keys]
    outside = [float(builds[key]["outside_encoder_s"]) for key in keys]
    axes[1].bar(labels, inside, color=colours)
    axes[1].bar(labels, outside, bottom=inside, color="#bbbbbb", label="outside the encoder (decode, resample,\n"
                "front-end, pooling, writing); below it: inside")
    axes[1].set_ylim(0, 1.45 * max(a + b for a, b in zip(inside, outside)))
    axes[1].set_title("build wall time (s)")
    axes[1].legend(loc="upper left", fontsize=8)
    axes[2].bar(labels, [float(builds[key]["peak_rss_mb"]) for key in keys], color=colours)
    axes[2].set_title("peak resident memory (MB)")
    for panel in axes:
        panel.tick_params(axis="x", labelsize=8)
    device = "a CUDA GPU" if machine.get("cuda") == "True" else "CPU"
    figure.suptitle(f"{args.machine + ', ' if args.machine else ''}{device}, {machine.get('threads', '?')} threads, "
                    f"torch {machine.get('torch', '?')}, bfloat16 flags: {machine.get('bf16_features', '?')}",
                    fontsize=10)
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

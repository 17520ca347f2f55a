"""A file's emotion timeline as a picture: each class's probability over time (a line per
class at each window's centre), the chosen emotion as coloured bands along the top, and the
windows without a voice shaded grey."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..evaluation.metrics import figure_of, write_png
from .emotion import Timeline

#: Colours of the classes, in order (matplotlib's tab10).
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")


def plot_name(path: str | os.PathLike) -> str:
    """The picture's file name for an audio file: its path with separators and odd characters
    made ``_``, ending ``.png`` (unique for the files of one job)."""
    text = str(Path(path)).lstrip("/").replace(os.sep, "__")
    return re.sub(r"[^A-Za-z0-9._-]", "_", text) + ".png"


def plot_timeline(found: Timeline, path: str | os.PathLike) -> Path:
    """Draw ``found`` into a PNG at ``path`` (written atomically)."""
    centres = (found.starts_s + found.ends_s) / 2
    minutes = found.ends_s.max() > 180 if found.ends_s.size else False
    scale, unit = (60.0, "min") if minutes else (1.0, "s")
    figure = figure_of(figsize=(12, 4))
    axes = figure.add_subplot(1, 1, 1)
    for column, name in enumerate(found.class_names):
        values = np.where(found.voiced, found.probabilities[:, column], np.nan)
        axes.plot(centres / scale, values, color=COLOURS[column % len(COLOURS)], linewidth=1.2, label=name)
    labels = found.labels
    hop = np.median(np.diff(found.starts_s)) if found.starts_s.size > 1 else (found.ends_s[0] - found.starts_s[0])
    for centre, label, voiced in zip(centres, labels, found.voiced):
        left, width = (centre - hop / 2) / scale, hop / scale
        if not voiced:
            axes.axvspan(left, left + width, color="#dddddd", alpha=0.6, linewidth=0, antialiased=False)
            continue
        colour = COLOURS[found.class_names.index(label) % len(COLOURS)]
        axes.axvspan(left, left + width, ymin=0.93, ymax=1.0, color=colour, linewidth=0, antialiased=False)
    axes.set_ylim(0, 1.08)
    axes.set_xlim(0, (found.ends_s.max() if found.ends_s.size else 1) / scale)
    axes.set_xlabel(f"time ({unit})")
    axes.set_ylabel("probability")
    axes.set_title(f"{Path(found.file).name}: emotion per window (band: the chosen emotion; grey: no voice)",
                   fontsize=10)
    axes.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    return write_png(figure, path)

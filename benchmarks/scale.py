"""How the library's cost grows with the work: builds of many clips, and predict on long files.

    python benchmarks/scale.py builds [--sizes 1000 4000 16000] [--embedders egemaps whisper]
                                      [--whisper-model DIR] [--json FILE]
    python benchmarks/scale.py long --dataset DIR --model-dir DIR [--minutes 10 30 90] [--json FILE]
    python benchmarks/scale.py truth --dataset DIR --model-dir DIR [--window S --hop S] [--json FILE]

``builds``: corpora of N clips made from RAVDESS's clips under new names (copy k of a clip is
the clip with its first sample moved by k + 1 steps of 16 bits, so that every file is new audio
to the per-clip cache, and its speaker is the actor's number plus 24 k), described by a labels
table (``--corpus table``), each built from an empty cache in a fresh process. Prints the time
per clip, the seconds of each stage, the peak memory of the process tree, and the growth
figures: the time per clip at the largest size over that at the smallest (floor: at most
1.25), and the peak memory's growth per 1000 clips between them (floor: at most 50 MB, the
model's own memory cancelling out).

``long``: one WAV file of 10, 30 and 90 minutes of RAVDESS speech clips joined end to end;
``ravdess-prep predict FILE --window 2 --hop 1 --out T.csv`` on each, in a child process:
the real-time factor (wall time, model loading included, over the audio's length; floor: at
most 0.1) and the peak memory of the process tree (floors: at most 1.5 GB, and the 90-minute
file's within 10 % of the 10-minute file's).

``truth``: the dataset's test speakers' clips joined into one file, half a second of silence
between them; each clip's label from the timeline is the majority of the labels of the voiced
windows whose centre lies in the clip. Prints how many clips that gets right against how many
predicting the clips one by one gets right, and their ratio (floor: at least 0.9).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _memory import PeakTreeRSS  # noqa: E402
from _common import in_child, shared_dir  # noqa: E402

RAVDESS_ACTORS = 24
EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")


def _ravdess_clips(source: Path) -> list[Path]:
    return sorted(source.rglob("*.flac")) or sorted(source.rglob("*.wav"))


def make_corpus(folder: Path, count: int, source: Path) -> Path:
    """``count`` clips of new audio under ``folder`` and their labels table; returns the table."""
    import soundfile

    by_actor: dict[str, list[Path]] = {}
    seen = set()
    for clip in _ravdess_clips(source):
        audio = hashlib.sha256(soundfile.read(str(clip), dtype="int16")[0].tobytes()).hexdigest()
        if audio not in seen:  # RAVDESS holds one recording under two names: it is taken once
            seen.add(audio)
            by_actor.setdefault(clip.stem.split("-")[6], []).append(clip)
    # round robin over the actors, so that any first N clips hold every actor
    clips = [clip for _, clip in sorted((rank, clip) for group in by_actor.values() for rank, clip in enumerate(group))]
    rows = []
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        copy, original = divmod(number, len(clips))
        samples, rate = soundfile.read(str(clips[original]), dtype="int16", always_2d=True)
        samples = samples[:, 0].copy()
        samples[0] = np.int16(np.clip(int(samples[0]) + copy + 1, -32768, 32767))
        fields = clips[original].stem.split("-")
        name = f"c{copy}/{clips[original].stem}.flac"
        (folder / name).parent.mkdir(exist_ok=True)
        soundfile.write(str(folder / name), samples, rate, subtype="PCM_16")
        rows.append({"file": name, "speaker": int(fields[6]) + RAVDESS_ACTORS * copy,
                     "emotion": EMOTIONS[int(fields[2]) - 1]})
    table = folder.parent / f"{folder.name}.csv"
    with open(table, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["file", "speaker", "emotion"])
        writer.writeheader()
        writer.writerows(rows)
    return table


def _build(embedder_name: str, folder: str, table: str, out: str, cache: str, whisper_model: str | None) -> dict:
    from ravdess_prep import pipeline
    from ravdess_prep.embedders import embedder_class

    embedder = embedder_class(embedder_name)()
    files = pipeline.WhisperFiles(whisper_model) if embedder_name == "whisper" else None
    config = pipeline.Config(embedder=embedder, corpus="table", labels=table)
    started = time.perf_counter()
    result = pipeline.build(config, out=out, source=folder, files=files,
                            run=pipeline.Run(cache_dir=cache, progress=False))
    return {"wall_s": time.perf_counter() - started, "seconds": dict(result.seconds)}


def builds(args) -> dict:
    record = {"machine": _machine(), "builds": []}
    with tempfile.TemporaryDirectory(prefix="scale-") as scratch:
        scratch = Path(scratch)
        largest = max(args.sizes)
        folder = scratch / "corpus"
        print(f"making {largest} clips ...", flush=True)
        make_corpus(folder, largest, Path(args.source))
        for embedder in args.embedders:
            for size in sorted(args.sizes):
                table = _subset_table(folder, size)
                with PeakTreeRSS() as peak:
                    found = in_child(_build, embedder, str(folder), str(table), str(scratch / f"out-{embedder}-{size}"),
                                     str(scratch / f"cache-{embedder}-{size}"), args.whisper_model)
                entry = {"embedder": embedder, "clips": size, "wall_s": round(found["wall_s"], 1),
                         "ms_per_clip": round(1000 * found["wall_s"] / size, 2),
                         "peak_rss_mb": round(peak.megabytes), "seconds": found["seconds"],
                         "dominant": max(found["seconds"], key=found["seconds"].get)}
                record["builds"].append(entry)
                print(json.dumps(entry), flush=True)
    for embedder in args.embedders:
        runs = sorted((entry for entry in record["builds"] if entry["embedder"] == embedder), key=lambda e: e["clips"])
        small, large = runs[0], runs[-1]
        ratio = large["ms_per_clip"] / small["ms_per_clip"]
        growth = (large["peak_rss_mb"] - small["peak_rss_mb"]) / ((large["clips"] - small["clips"]) / 1000)
        record[f"{embedder}_time_per_clip_ratio"] = round(ratio, 3)
        record[f"{embedder}_memory_mb_per_1k_clips"] = round(growth, 1)
        print(f"{embedder}: time_per_clip_ratio_{large['clips']}_to_{small['clips']}={ratio:.3f} (floor <= 1.25) "
              f"memory_growth_mb_per_1k_clips={growth:.1f} (floor <= 50)")
    return record


def _subset_table(folder: Path, size: int) -> Path:
    table = folder.parent / f"{folder.name}.csv"
    with open(table) as stream:
        lines = stream.read().splitlines()
    subset = folder.parent / f"labels-{size}.csv"
    subset.write_text("\n".join(lines[: size + 1]) + "\n")
    return subset


def joined_file(path: Path, clips: list[Path], *, minutes: float | None = None, gap_s: float = 0.0) -> list:
    """Clips joined into one 16-bit WAV file, written clip by clip; ``minutes``: stop there
    (clips repeated if needed). Returns each clip's ``(start_s, end_s)``."""
    import soundfile

    spans, position = [], 0
    first = soundfile.info(str(clips[0]))
    rate = int(first.samplerate)
    limit = None if minutes is None else int(minutes * 60 * rate)
    gap = np.zeros(int(gap_s * rate), np.int16)
    with soundfile.SoundFile(str(path), "w", samplerate=rate, channels=1, subtype="PCM_16") as out:
        index = 0
        while True:
            clip = clips[index % len(clips)]
            samples, clip_rate = soundfile.read(str(clip), dtype="int16", always_2d=True)
            if clip_rate != rate:
                raise SystemExit(f"{clip}: {clip_rate} Hz, not {rate}")
            samples = samples[:, 0]
            if limit is not None and position + samples.size >= limit:
                out.write(samples[: limit - position])
                spans.append((position / rate, limit / rate))
                return spans
            out.write(samples)
            spans.append((position / rate, (position + samples.size) / rate))
            position += samples.size
            if gap.size:
                out.write(gap)
                position += gap.size
            index += 1
            if limit is None and index == len(clips):
                return spans


def long_files(args) -> dict:
    record = {"machine": _machine(), "long": []}
    speech = sorted(Path(args.source).glob("*Speech*/**/*.flac")) or _ravdess_clips(Path(args.source))
    with tempfile.TemporaryDirectory(prefix="long-") as scratch:
        for minutes in args.minutes:
            audio = Path(scratch) / f"{minutes}min.wav"
            joined_file(audio, speech, minutes=minutes)
            table = Path(scratch) / f"{minutes}min.csv"
            command = [sys.executable, "-m", "ravdess_prep.cli", "predict", str(audio), "--dataset", args.dataset,
                       "--model-dir", args.model_dir, "--window", str(args.window), "--hop", str(args.hop),
                       "--out", str(table), "--no-progress"]
            with PeakTreeRSS() as peak:
                started = time.perf_counter()
                subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall = time.perf_counter() - started
            with open(table) as stream:
                windows = sum(1 for _ in stream) - 1
            entry = {"minutes": minutes, "windows": windows, "wall_s": round(wall, 1),
                     "real_time_factor": round(wall / (60 * minutes), 4), "peak_rss_mb": round(peak.megabytes)}
            record["long"].append(entry)
            print(json.dumps(entry), flush=True)
            audio.unlink()
    runs = record["long"]
    low, high = runs[0], runs[-1]
    record["memory_ratio"] = round(high["peak_rss_mb"] / low["peak_rss_mb"], 3)
    print(f"peak_rss_mb_{high['minutes']}min={high['peak_rss_mb']} (floor <= 1536) "
          f"memory_ratio_{high['minutes']}_to_{low['minutes']}min={record['memory_ratio']:.3f} (floor <= 1.10) "
          f"real_time_factor_{high['minutes']}min={high['real_time_factor']:.4f} (floor <= 0.1)")
    return record


def truth(args) -> dict:
    from ravdess_prep.dataset.manifest import Manifest
    from ravdess_prep.predict import EmotionModel
    from ravdess_prep.recordings.emotion import timeline
    from ravdess_prep.build.timeline import dataset_window_s

    manifest = Manifest.read(args.dataset)
    test = set(manifest.config.test_speakers)
    clips = [path for path in _ravdess_clips(Path(args.source)) if int(path.stem.split("-")[6]) in test]
    labels = np.asarray([int(path.stem.split("-")[2]) - 1 for path in clips])
    window = args.window or dataset_window_s(args.dataset)
    hop = args.hop or window / 4
    with tempfile.TemporaryDirectory(prefix="truth-") as scratch, \
            EmotionModel(dataset=args.dataset, model_dir=args.model_dir) as model:
        audio = Path(scratch) / "joined.wav"
        spans = joined_file(audio, clips, gap_s=0.5)
        names = model.class_names(len(EMOTIONS))
        one_by_one = model.probabilities(model.inputs(model.embedding.process_paths(clips, jobs=1))).argmax(axis=1)
        found = timeline(audio, model, window_s=window, hop_s=hop)
    centres = (found.starts_s + found.ends_s) / 2
    chosen = np.where(found.voiced, np.nan_to_num(found.probabilities, nan=-1).argmax(axis=1), -1)
    from_timeline = []
    for start, end in spans:
        inside = chosen[(centres >= start) & (centres < end) & (chosen >= 0)]
        from_timeline.append(np.bincount(inside).argmax() if inside.size else -1)
    # class names are the canonical order of the model; RAVDESS's codes follow the same order
    assert tuple(names[:len(EMOTIONS)]) == EMOTIONS, names
    right_timeline = int((np.asarray(from_timeline) == labels).sum())
    right_clips = int((one_by_one == labels).sum())
    record = {"machine": _machine(), "clips": len(clips), "window_s": window, "hop_s": hop,
              "right_by_timeline": right_timeline, "right_one_by_one": right_clips,
              "ratio": round(right_timeline / right_clips, 4),
              "clips_without_voiced_window": int(sum(label < 0 for label in from_timeline))}
    print(json.dumps(record))
    print(f"timeline_to_clips_ratio={record['ratio']:.3f} (floor >= 0.9)")
    return record


def _machine() -> dict:
    flags = ""
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("flags"):
                    flags = line
                    break
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                     "")
    except OSError:
        model = ""
    return {"cpu": model, "cores": os.cpu_count(), "amx_bf16": "amx_bf16" in flags}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(shared_dir() / "ravdess"))
    parser.add_argument("--json", help="also write the figures to this JSON file")
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("builds")
    build.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000])
    build.add_argument("--embedders", nargs="+", default=["egemaps", "whisper"])
    build.add_argument("--whisper-model", help="a Whisper base folder (Transformers layout)")
    for name in ("long", "truth"):
        sub = commands.add_parser(name)
        sub.add_argument("--dataset", required=True)
        sub.add_argument("--model-dir", required=True)
        sub.add_argument("--window", type=float, default=2.0 if name == "long" else None)
        sub.add_argument("--hop", type=float, default=1.0 if name == "long" else None)
        if name == "long":
            sub.add_argument("--minutes", type=float, nargs="+", default=[10, 30, 90])
    args = parser.parse_args()
    record = {"builds": builds, "long": long_files, "truth": truth}[args.command](args)
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()

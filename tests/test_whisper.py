"""The whisper_encoder package against Transformers' own Whisper: the log-mel front-end against
``WhisperFeatureExtractor``, the encoder against ``WhisperEncoder(..., output_hidden_states=True)``,
with real OpenAI weights (base and tiny.en, made by ``../shared/whisper/make_whisper.py``) and
with a small random model made here; the ``clip`` input against the same computation, with the
positional table cut, written here with Transformers' own layers."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import whisper_encoder  # noqa: E402
from conftest import tone  # noqa: E402
from whisper_models import random_whisper, real_whisper, reference_states  # noqa: E402

SPEECH = "Audio_Speech_Actors_01-24/Actor_01/03-01-05-02-02-01-01.flac"
SONG = "Audio_Song_Actors_01-24/Actor_02/03-02-03-02-01-02-02.flac"


@pytest.fixture(scope="module")
def signals(ravdess_dir):
    """Speech, song, silence and a 1 kHz sine at 16 kHz."""
    import resampy

    found = {}
    for name, relative in (("speech", SPEECH), ("song", SONG)):
        samples, rate = soundfile.read(str(ravdess_dir / relative))
        found[name] = resampy.resample(samples, rate, 16000, filter="kaiser_best")
    found["silence"] = np.zeros(16000)
    found["sine"] = tone(1.0, frequency_hz=1000.0, sample_rate_hz=16000)
    return found


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return random_whisper(tmp_path_factory.mktemp("whisper-random") / "model", seed=0)


def _close(found: np.ndarray, expected: np.ndarray) -> float:
    """The largest difference, relative above 1."""
    return float((np.abs(found - expected) / np.maximum(1.0, np.abs(expected))).max())


def _assert_as_close_as_transformers(found: list | np.ndarray, folder, mel: np.ndarray, *, cut: bool, what=()):
    """Every hidden state about as far from Transformers' float64 computation as Transformers'
    own float32 one is: float32 rounding, whatever the order of the sums, and nothing else (the
    relative RMS error at most twice Transformers', the largest difference at most four times)."""
    exact = reference_states(folder, mel, cut=cut, double=True)
    single = reference_states(folder, mel, cut=cut)
    assert len(found) == len(exact)
    for layer, (state, truth, rounded) in enumerate(zip(found, exact, single)):
        ours, theirs = _rms(state, truth), _rms(rounded, truth)
        assert ours <= max(2 * theirs, 1e-6), (what, layer, ours, theirs)
        assert _close(state, truth) <= max(4 * _close(rounded, truth), 1e-5), (what, layer)


def _rms(found: np.ndarray, expected: np.ndarray) -> float:
    """The relative RMS difference."""
    return float(np.linalg.norm(found - expected) / np.linalg.norm(expected))


@pytest.mark.parametrize("name", ["speech", "song", "silence", "sine"])
def test_log_mel_is_the_feature_extractors(signals, name, tiny):
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(tiny)
    signal = signals[name]
    padded = extractor(signal, sampling_rate=16000, return_tensors="np").input_features[0]
    alone = extractor(signal, sampling_rate=16000, return_tensors="np", padding="longest").input_features[0]
    assert np.abs(whisper_encoder.log_mel(signal, input="30s") - padded).max() <= 1e-5
    assert np.abs(whisper_encoder.log_mel(signal) - alone).max() <= 1e-5
    assert whisper_encoder.log_mel(signal).shape == (80, signal.size // 160) and padded.shape == (80, 3000)


#: Run in a process of its own with two OpenMP threads (the suite's processes have one): a
#: thread runs the front-end on 20 s of noise (a 30 s input) and stays alive; the threads that carry its name
#: (its own, and any OpenMP team it opened) are counted; the front-end runs again on the caller.
_PROBE = """
import threading
from pathlib import Path
import numpy as np, torch, whisper_encoder
signal = np.random.default_rng(0).standard_normal(16000 * 20).astype(np.float32) * 0.1
whisper_encoder.mel_filters(80)  # made once; its first call loads SciPy's BLAS, which starts threads of its own
ran, release, found = threading.Event(), threading.Event(), {}
def probe():
    Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_text("mel-probe")
    found["mel"] = whisper_encoder.log_mel(signal, input="30s")
    ran.set()
    release.wait(60)
worker = threading.Thread(target=probe)
worker.start()
ran.wait(60)
named = sum((task / "comm").read_text().strip() == "mel-probe" for task in Path("/proc/self/task").iterdir())
release.set()
worker.join()
threads = torch.get_num_threads()
same = np.array_equal(whisper_encoder.log_mel(signal, input="30s"), found["mel"])
print(threads, named, same, torch.get_num_threads())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads are counted in /proc")
def test_the_front_end_keeps_to_its_own_thread():
    """A thread that ran the front-end keeps no OpenMP team (threads preparing clips beside the
    model would each keep one); the bits are those of the caller's thread, whose number of
    threads is left as it was."""
    env = {key: value for key, value in os.environ.items() if key != "MKL_NUM_THREADS"}  # MKL follows OpenMP
    env["OMP_NUM_THREADS"] = "2"
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    threads, named, same, after = done.stdout.split()
    assert threads == "2" and after == "2"
    assert named == "1"  # the thread itself: no OpenMP threads of its own
    assert same == "True"


def test_frame_counts_and_bad_input():
    assert whisper_encoder.num_frames(16000) == 100 and whisper_encoder.encoder_frames(100) == 50 and whisper_encoder.encoder_frames(101) == 51
    for samples, message in ((np.zeros(100), "too short"), (np.zeros(16000 * 31), "longer than Whisper's 30 s"),
                             (np.zeros((2, 16000)), "one-dimensional")):
        with pytest.raises(whisper_encoder.InputError, match=message):
            whisper_encoder.log_mel(samples)


@pytest.mark.parametrize("size", ["random", "tiny.en", "base"])
def test_every_hidden_state_of_a_30s_input_is_transformers(size, signals, tiny, tmp_path_factory):
    folder = tiny if size == "random" else real_whisper(size)
    config = whisper_encoder.read_config(folder)
    mel = whisper_encoder.log_mel(signals["speech"], num_mel_bins=config.num_mel_bins, input="30s")
    with whisper_encoder.WhisperEncoder(folder) as encoder:
        found = encoder.hidden_states([mel], input="30s")[0]
    assert found.shape == (config.layers + 1, 1500, config.d_model)
    _assert_as_close_as_transformers(found, folder, mel, cut=False)


@pytest.mark.parametrize("size", ["random", "base"])
def test_a_clip_input_is_the_same_computation_with_the_positional_table_cut(size, signals, tiny):
    folder = tiny if size == "random" else real_whisper(size)
    for name in ("speech", "sine"):
        mel = whisper_encoder.log_mel(signals[name])
        with whisper_encoder.WhisperEncoder(folder) as encoder:
            found = encoder.hidden_states([mel])[0]
        assert found.shape[1] == whisper_encoder.encoder_frames(mel.shape[1])
        _assert_as_close_as_transformers(found, folder, mel, cut=True, what=name)


def test_a_clips_result_does_not_depend_on_its_batch_mates(signals, tiny):
    mels = [whisper_encoder.log_mel(signals[name]) for name in ("speech", "song", "sine")]
    with whisper_encoder.WhisperEncoder(tiny, batch_size=3) as encoder:
        together = encoder.hidden_states(mels)
        alone = [encoder.hidden_states([mel])[0] for mel in mels]
        reordered = encoder.hidden_states(mels[::-1])[::-1]
    for mates, single, again in zip(together, alone, reordered):
        np.testing.assert_array_equal(mates, single)
        np.testing.assert_array_equal(mates, again)
    with whisper_encoder.WhisperEncoder(tiny, batch_size=1) as encoder:
        unbatched = encoder.hidden_states(mels)
    for batched, plain in zip(together, unbatched):  # another batch shape: the same numbers, to rounding
        assert _close(batched, plain) <= 1e-4


def test_sharded_and_half_precision_weights_read_as_the_single_file(tiny, tmp_path):
    model = transformers.WhisperModel.from_pretrained(tiny)
    model.save_pretrained(tmp_path / "sharded", max_shard_size="200KB")
    model.half().save_pretrained(tmp_path / "half")
    assert len(whisper_encoder.weight_files(tmp_path / "sharded")) > 1
    single = whisper_encoder.read_encoder_weights(tiny)
    sharded = whisper_encoder.read_encoder_weights(tmp_path / "sharded")
    half = whisper_encoder.read_encoder_weights(tmp_path / "half")
    assert sorted(sharded) == sorted(single) == sorted(half)
    for name, value in single.items():
        np.testing.assert_array_equal(sharded[name], value)
        np.testing.assert_array_equal(half[name], value.astype(np.float16).astype(np.float32))


def test_damaged_folders_are_named(tiny, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny, broken)
    weights = broken / "model.safetensors"
    whole = weights.read_bytes()
    weights.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(whisper_encoder.ModelFileError, match=r"model\.safetensors: not a safetensors file, or a damaged one"):
        whisper_encoder.read_encoder_weights(broken)
    weights.write_bytes(b"not a safetensors file")
    with pytest.raises(whisper_encoder.ModelFileError, match="not a safetensors file"):
        whisper_encoder.read_encoder_weights(broken)
    # a header whose offsets are shifted by 4 bytes: each tensor would take its neighbour's bytes
    length = struct.unpack("<Q", whole[:8])[0]
    header = json.loads(whole[8 : 8 + length])
    for name, entry in header.items():
        if name != "__metadata__":
            entry["data_offsets"] = [entry["data_offsets"][0] + 4, entry["data_offsets"][1] + 4]
    text = json.dumps(header).encode()
    weights.write_bytes(struct.pack("<Q", len(text)) + text + whole[8 + length :] + b"\0" * 4)
    with pytest.raises(whisper_encoder.ModelFileError, match=r"model\.safetensors: not a safetensors file, or a damaged one"):
        whisper_encoder.read_encoder_weights(broken)
    # a value that overflows every layer after it: the weights are finite, the output is not
    from safetensors.torch import load_file, save_file

    tensors = load_file(tiny / "model.safetensors")
    tensors["encoder.layers.0.fc2.weight"][0, 0] = 1.6e29
    save_file(tensors, weights, metadata={"format": "pt"})
    with whisper_encoder.WhisperEncoder(broken) as encoder:
        states = encoder.hidden_states([np.zeros((80, 100), np.float32)])[0]
    assert not np.isfinite(states).all()  # what the embedder refuses (test_embedders_whisper.py)
    (broken / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(whisper_encoder.ModelFileError, match="config.json: model_type is 'bert'"):
        whisper_encoder.read_config(broken)
    shutil.copytree(tiny, tmp_path / "other", ignore=shutil.ignore_patterns("model.safetensors"))
    config = json.loads((tmp_path / "other" / "config.json").read_text())
    config["d_model"] *= 2
    (tmp_path / "other" / "config.json").write_text(json.dumps(config))
    header = json.dumps({"encoder.conv1.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (tmp_path / "other" / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 4)
    with pytest.raises(whisper_encoder.ModelFileError, match="do not match its config: conv1.weight has shape"):
        whisper_encoder.read_encoder_weights(tmp_path / "other")

"""``ravdess_prep.embedder``: audio in memory and on disk embedded without building a dataset.
Given a dataset, a clip's row is its bundle row exactly, for every built-in embedder (VGGish
with random weights and the official PCA, YAMNet's published weights, eGeMAPS, small random
Whisper and HuBERT models); standalone, the embedder's defaults; bad signals and files are
named."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import soundfile

import ravdess_prep
from conftest import SONG, SPEECH, require_opensmile
from ravdess_prep import pipeline
from ravdess_prep.dataset.bundles import read_bundles
from ravdess_prep.embedders import (EGeMAPSEmbedder, HFEmbedder, HFFiles, VGGishEmbedder, WhisperEmbedder, WhisperFiles, YAMNetEmbedder, YAMNetFiles)
from ravdess_prep.exceptions import AudioError, ParameterError

TORCH = importlib.util.find_spec("torch") is not None and importlib.util.find_spec("transformers") is not None
EMBEDDERS = ["vggish", "yamnet", "egemaps", "whisper", "hf"]


def _path(tree, name):
    channel, actor, stem = name.split("/")
    return tree / (SPEECH if channel == "speech" else SONG) / actor / stem.replace(".wav", ".flac")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    if not TORCH:
        return {}
    from test_embedders_hf import random_model
    from whisper_models import random_whisper

    root = tmp_path_factory.mktemp("interface-models")
    return {"whisper": random_whisper(root / "whisper", seed=3), "hf": random_model(root / "hubert", "hubert", seed=3)}


def _embedder_and_files(name, models, vggish_files, yamnet_dir):
    if name in ("whisper", "hf") and not TORCH:
        pytest.skip("PyTorch and Transformers are not installed")
    if name == "egemaps" and importlib.util.find_spec("opensmile") is None:
        pytest.skip("openSMILE is not installed")
    return {"vggish": (VGGishEmbedder(), vggish_files), "yamnet": (YAMNetEmbedder(), YAMNetFiles(yamnet_dir)),
            "egemaps": (EGeMAPSEmbedder(), None), "whisper": (WhisperEmbedder(), WhisperFiles(models.get("whisper"))),
            "hf": (HFEmbedder(), HFFiles(models.get("hf")))}[name]


@pytest.mark.parametrize("name", EMBEDDERS)
def test_a_datasets_clip_gets_its_bundle_row_exactly(name, encoder_tree, small_tree, small_build, models, vggish_files,
                                                      yamnet_dir, tmp_path):
    if name == "vggish":  # the run's small build: VGGish's defaults
        tree, out = small_tree, small_build.out
    else:
        embedder, files = _embedder_and_files(name, models, vggish_files, yamnet_dir)
        tree, out = encoder_tree, pipeline.build(pipeline.Config(embedder=embedder, dev_speakers=(8,), test_speakers=(11,)),
                                                 out=tmp_path / "data", source=encoder_tree, files=files,
                                                 run=pipeline.Run(cache_dir=tmp_path / "cache", progress=False)).out
    bundles = read_bundles(out)
    with ravdess_prep.embedder(dataset=out) as embedding:
        for split in ("test", "train"):
            bundle = bundles[split]
            np.testing.assert_array_equal(embedding.process_file(_path(tree, bundle.names[0])), bundle.embeddings[0])
        frame = embedding.process_files([_path(tree, name) for name in bundles["dev"].names])
        assert list(frame.index) == [str(_path(tree, name)) for name in bundles["dev"].names]
        np.testing.assert_array_equal(np.stack(frame["embedding"]), bundles["dev"].embeddings)
        samples, rate = soundfile.read(_path(tree, bundles["test"].names[0]))
        np.testing.assert_array_equal(embedding.process_signal(samples, rate), bundles["test"].embeddings[0])


@pytest.mark.skipif(not TORCH, reason="PyTorch and Transformers are not installed")
def test_standalone_whisper_takes_settings_as_the_command_line_does(encoder_tree, models, tmp_path):
    """Whisper does not pad: a file alone gets the row it has in a dataset of the defaults."""
    built = pipeline.build(pipeline.Config(embedder=WhisperEmbedder(layers=(0, 2)), dev_speakers=(8,),
                                           test_speakers=(11,)),
                           out=tmp_path / "data", source=encoder_tree, files=WhisperFiles(models["whisper"]),
                           run=pipeline.Run(cache_dir=tmp_path / "cache", progress=False))
    test = read_bundles(built.out)["test"]
    alone = ravdess_prep.embedder("whisper", whisper_model=models["whisper"], layers="0,2")
    assert alone.embedder == WhisperEmbedder(layers=(0, 2))
    np.testing.assert_array_equal(alone.process_file(_path(encoder_tree, test.names[1])), test.embeddings[1])
    folder = alone.process_folder(encoder_tree / SPEECH / "Actor_11")
    assert folder.shape == (2, 1) and all(row.shape == (2, 64) for row in folder["embedding"])
    assert ravdess_prep.embedder("whisper", whisper_model=models["whisper"], layers="all").embedder.layers is None
    with pytest.raises(ParameterError, match="'whisper_modle' is not a setting of the whisper embedder .*whisper_model"):
        ravdess_prep.embedder("whisper", whisper_modle=models["whisper"])
    with pytest.raises(ParameterError, match="give an embedder's name or a dataset"):
        ravdess_prep.embedder("whisper", dataset=built.out)


def test_standalone_vggish_pads_nothing_beyond_the_clip(encoder_tree, vggish_files):
    alone = ravdess_prep.embedder("vggish", checkpoint=vggish_files.checkpoint, pca_params=vggish_files.pca_params,
                                  allow_custom_checkpoint=True)
    paths = sorted((encoder_tree / SPEECH / "Actor_08").glob("*.flac"))
    frame = alone.process_files(paths)
    for path, row in zip(paths, frame["embedding"]):
        trimmed, _ = pipeline.trim(path)
        examples = VGGishEmbedder().num_examples(int(trimmed.size / 3))  # 48 kHz clips, 16 kHz examples
        assert row.shape == (examples, 128) and row.dtype == np.float32 and np.array_equal(row, np.round(row))


def test_integer_samples_are_read_as_a_pcm_file_of_them(encoder_tree, tmp_path):
    """int16 and uint8 samples give the row of a PCM file holding exactly them (soundfile writes
    the files from the same integers)."""
    require_opensmile()
    embedding = ravdess_prep.embedder("egemaps")
    clip = sorted((encoder_tree / SPEECH / "Actor_08").glob("*.flac"))[0]
    pcm16, rate = soundfile.read(clip, dtype="int16")
    soundfile.write(tmp_path / "pcm16.wav", pcm16, rate, subtype="PCM_16")
    np.testing.assert_array_equal(embedding.process_signal(pcm16, rate), embedding.process_file(tmp_path / "pcm16.wav"))
    unsigned = (pcm16 // 256 + 128).astype(np.uint8)
    soundfile.write(tmp_path / "pcm8.wav", (unsigned.astype(np.int16) - 128) * 256, rate, subtype="PCM_U8")
    assert soundfile.info(tmp_path / "pcm8.wav").subtype == "PCM_U8"
    np.testing.assert_array_equal(embedding.process_signal(unsigned, rate), embedding.process_file(tmp_path / "pcm8.wav"))
    with pytest.raises(ParameterError, match=r"beyond \[-1, 1\] where audio files hold them"):
        embedding.process_signal(pcm16.astype(np.float64), rate)  # the integers taken for amplitudes: refused


def test_bad_signals_and_files_are_named(encoder_tree, tmp_path):
    require_opensmile()
    embedding = ravdess_prep.embedder("egemaps")
    for signal, rate, message in ((np.zeros((16000, 2)), 16000, r"signal has shape \(16000, 2\): give one channel"),
                                  (np.zeros(0), 16000, "signal is empty"),
                                  (np.array([0.1, np.nan, 0.2]), 16000, "signal holds values that are not finite"),
                                  (np.array(["a", "b"]), 16000, "signal holds <U1 values, not numbers"),
                                  (np.zeros(16000, complex), 16000, r"signal holds complex values: give real samples"),
                                  (np.zeros(16000, bool), 16000, "signal holds bool values, not numbers"),
                                  (np.zeros(16000, np.int64), 16000, "signal holds int64 values, which no PCM file"),
                                  (np.full(16000, 1.5), 16000, r"signal holds values up to 1.5, beyond \[-1, 1\]"),
                                  (np.zeros(16000), 5, "sampling_rate has to be from 1000 to 384000 Hz, not 5"),
                                  (np.zeros(16000), 2 ** 40, "sampling_rate has to be from 1000 to 384000 Hz"),
                                  (np.zeros(16000), 0, "sampling_rate has to be a positive integer number of Hz, not 0"),
                                  (np.zeros(16000), 16000.5, "sampling_rate has to be a positive integer"),
                                  (np.zeros(16000), True, "sampling_rate has to be a positive integer")):
        with pytest.raises(ParameterError, match=message):
            embedding.process_signal(signal, rate)
    slow = tmp_path / "slow.wav"  # openSMILE crashed the process on such a rate
    soundfile.write(slow, np.zeros(80), 8)
    with pytest.raises(AudioError, match=f"{slow}: 8 Hz is outside the sampling rates this library reads"):
        embedding.process_file(slow)
    with pytest.raises(ParameterError, match=r"paths is one path \('a\.wav'\), not a list of them"):
        embedding.process_files("a.wav")  # its characters were taken for paths
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio")
    good = sorted((encoder_tree / SPEECH / "Actor_08").glob("*.flac"))[0]
    with pytest.raises(AudioError, match=f"{tmp_path / 'missing.flac'}: no such file"):
        embedding.process_file(tmp_path / "missing.flac")
    with pytest.raises(AudioError, match=rf"^2 of 3 files cannot be embedded: {tmp_path / 'missing.flac'}: no such "
                                         rf"file; {not_audio}: not a readable audio file"):
        embedding.process_files([tmp_path / "missing.flac", good, not_audio])
    with pytest.raises(AudioError, match="no such folder"):
        embedding.process_folder(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioError, match="no audio file"):
        embedding.process_folder(tmp_path / "empty")

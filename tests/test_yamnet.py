"""The yamnet package against the published network inside the shared SavedModel: front-end,
network, patch-count rule, both SavedModel layouts, and what the real weights say."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import soundfile

import yamnet_model
from yamnet_model import params

SPEECH = "Audio_Speech_Actors_01-24/Actor_01/03-01-01-01-01-01-01.flac"
SONG = "Audio_Song_Actors_01-24/Actor_02/03-02-02-01-02-02-02.flac"


@pytest.fixture(scope="module")
def reference(yamnet_dir):
    """The published network: ``waveform -> (scores, embeddings, log_mel)`` as numpy arrays."""
    import tensorflow as tf

    root = tf.saved_model.load(str(yamnet_dir))
    module = getattr(root, "layer-1").layer._func

    def run(waveform):
        return tuple(value.numpy() for value in module(tf.constant(np.asarray(waveform, np.float32))))

    run.module = module
    return run


@pytest.fixture(scope="module")
def model(yamnet_dir):
    with yamnet_model.YAMNet(yamnet_dir, batch_size=32) as network:
        yield network


def _clip(ravdess_dir, name):
    import resampy

    samples, rate = soundfile.read(str(ravdess_dir / name), dtype="int16")
    return resampy.resample(samples / 32768.0, rate, 16000, filter="kaiser_best")


def _waveforms(ravdess_dir):
    t = np.arange(32000) / 16000
    return {
        "speech": _clip(ravdess_dir, SPEECH),
        "song": _clip(ravdess_dir, SONG),
        "silence": np.zeros(48000),
        "sine 1 kHz": 0.5 * np.sin(2 * np.pi * 1000 * t),
        "half a second": _clip(ravdess_dir, SPEECH)[20000:28000],
        "empty": np.zeros(0),
    }


def test_log_mel_equals_the_published_front_end(ravdess_dir, reference):
    for name, waveform in _waveforms(ravdess_dir).items():
        log_mel = yamnet_model.waveform_to_log_mel(waveform)
        expected = reference(waveform)[2]
        assert log_mel.shape == expected.shape, name
        assert np.abs(log_mel - expected).max() < 1e-4, name


@pytest.mark.parametrize("num_samples", [0, 1, 399, 8000, 15599, 15600, 15601, 23280, 23281, 32000, 48017, 160000])
def test_patch_count_rule_equals_the_published_one(reference, num_samples):
    waveform = np.random.default_rng(num_samples).uniform(-0.1, 0.1, num_samples)
    expected = reference(waveform)[1].shape[0]
    assert yamnet_model.num_patches(num_samples) == expected
    assert yamnet_model.waveform_to_patches(waveform).shape == (expected, 96, 64)
    assert expected == 1 + -(-max(0, num_samples - 15600) // 7680)  # the rule, written out


def test_embeddings_and_scores_equal_the_published_network(ravdess_dir, reference, model):
    for name, waveform in _waveforms(ravdess_dir).items():
        scores, embeddings = model.run(yamnet_model.waveform_to_patches(waveform))
        expected_scores, expected_embeddings, _ = reference(waveform)
        assert embeddings.shape == expected_embeddings.shape == (len(scores), 1024), name
        tolerance = 1e-4 * np.maximum(1.0, np.abs(expected_embeddings))
        assert np.all(np.abs(embeddings - expected_embeddings) <= tolerance), name
        assert np.abs(scores - expected_scores).max() <= 1e-4, name


def test_skipping_the_padding_gives_the_same_patches():
    rng = np.random.default_rng(3)
    for start, stop, length in ((5000, 9000, 40000), (0, 40000, 40000), (30000, 32000, 32000), (100, 300, 12000)):
        waveform = np.zeros(length)
        waveform[start:stop] = np.round(rng.normal(0, 0.1, stop - start) * 32768) / 32768
        whole = yamnet_model.waveform_to_patches(waveform, hop_seconds=0.23)
        np.testing.assert_array_equal(yamnet_model.waveform_to_patches(waveform, hop_seconds=0.23, sound=(start, stop)), whole)


def test_a_patch_does_not_depend_on_its_batch(model):
    patches = np.random.default_rng(0).normal(-4, 2, (70, 96, 64)).astype(np.float32)
    patches[17] = yamnet_model.silent_patch()
    together = model.embed(patches)
    np.testing.assert_array_equal(model.embed(patches[17:18])[0], together[17])
    np.testing.assert_array_equal(model.embed(patches[40:])[0], together[40])
    assert np.all(yamnet_model.waveform_to_patches(np.zeros(40000)) == yamnet_model.silent_patch())


def test_the_official_layout_is_read_by_the_same_rule(yamnet_dir, reference, model, tmp_path):
    """The official download is the inner module saved on its own: re-save it and load both."""
    import tensorflow as tf

    official = tmp_path / "yamnet_1"
    tf.saved_model.save(reference.module, str(official))
    assert yamnet_model.weights_prefix(official) == "" and yamnet_model.weights_prefix(yamnet_dir) == "layer-1/layer/_func/"
    assert yamnet_model.class_names(official) == yamnet_model.class_names(yamnet_dir)
    patches = np.random.default_rng(1).normal(-4, 2, (5, 96, 64)).astype(np.float32)
    with yamnet_model.YAMNet(official, batch_size=32) as again:
        np.testing.assert_array_equal(again.embed(patches), model.embed(patches))


def test_other_folders_are_refused_naming_what_is_wrong(yamnet_dir, random_checkpoint, tmp_path):
    with pytest.raises(yamnet_model.ModelFileError, match="not a SavedModel folder"):
        yamnet_model.weights_prefix(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(yamnet_dir, copy)
    (copy / "variables" / "variables.data-00000-of-00001").write_bytes(b"\0" * 100)
    with pytest.raises(yamnet_model.ModelFileError, match="cannot be read|not the YAMNet network") as caught:
        yamnet_model.read_weights(copy)
    assert str(copy) in str(caught.value)
    other = tmp_path / "other"
    import tensorflow as tf

    module = tf.Module()
    module._yamnet = tf.Module()
    module._yamnet.weights = tf.Variable(np.zeros((3, 3, 1, 16), np.float32))
    tf.saved_model.save(module, str(other))
    with pytest.raises(yamnet_model.ModelFileError, match="no YAMNet weights"):
        yamnet_model.weights_prefix(other)
    (copy / params.CLASS_MAP).write_text("index,mid,display_name\n0,/m/x,Only\n")
    with pytest.raises(yamnet_model.ModelFileError, match="1 classes, expected 521"):
        yamnet_model.class_names(copy)


def test_invalid_inputs(model):
    with pytest.raises(yamnet_model.InputError, match=r"\(n, 96, 64\)"):
        model.run(np.zeros((2, 64, 96)))
    with pytest.raises(yamnet_model.InputError, match="hop_seconds"):
        yamnet_model.num_patches(1000, hop_seconds=0)
    with pytest.raises(yamnet_model.InputError, match="shape"):
        yamnet_model.waveform_to_patches(np.zeros((100, 2)))
    with pytest.raises(yamnet_model.InputError, match="batch_size"):
        yamnet_model.YAMNet("unused", batch_size=0)


def test_constants_are_the_published_ones(yamnet_shared_readme):
    text = yamnet_shared_readme.read_text()
    assert "epsilon 1e-4" in text and params.BATCH_NORM_EPSILON == 1e-4
    assert "15600" in text and params.MIN_SAMPLES == 15600
    assert "ln(mel + 0.001)" in text.replace("natural log of (mel + 0.001)", "ln(mel + 0.001)") and params.LOG_OFFSET == 0.001
    assert "3,751,369 parameters" in text  # every weight of the layout, moving statistics included
    assert sum(int(np.prod(shape)) for shape in yamnet_model.files.weight_shapes().values()) == 3_751_369

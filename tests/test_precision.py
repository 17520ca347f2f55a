"""``--precision``: bfloat16 against float32 with the real Whisper-base weights; the linear layers
on the processor's kernels, convolutions as matrix products and the channels-last feature
encoder against PyTorch's and Transformers' own; the processor check, and bad values named."""

from __future__ import annotations

import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import whisper_encoder  # noqa: E402
from whisper_encoder import kernels  # noqa: E402
from ravdess_prep import cli, pipeline  # noqa: E402
from ravdess_prep.embedders import precision  # noqa: E402
from ravdess_prep.embedders import HFEmbedder, WhisperEmbedder  # noqa: E402
from ravdess_prep.embedders.bfloat16 import to_bfloat16, unfolded_conv1d  # noqa: E402
from ravdess_prep.embedders import cpu_kernels, feature_encoder  # noqa: E402
from ravdess_prep.embedders.feature_encoder import to_channels_last  # noqa: E402
from ravdess_prep.exceptions import ParameterError  # noqa: E402
from ravdess_prep.audio.resample import resample  # noqa: E402
from whisper_models import real_whisper  # noqa: E402


def _cosines(found: np.ndarray, expected: np.ndarray) -> np.ndarray:
    found, expected = found.astype(np.float64), expected.astype(np.float64)
    return (found * expected).sum(-1) / np.linalg.norm(found, axis=-1) / np.linalg.norm(expected, axis=-1)


def test_bf16_whisper_base_pools_every_layer_within_a_cosine_of_fp32(ravdess_dir):
    """24 real clips (actors 01 and 02, speech and song), trimmed and resampled as a build does:
    every layer's mean over the clip's frames in bfloat16 has a cosine of at least 0.999 with
    float32's."""
    folder = real_whisper("base")
    paths = sorted(ravdess_dir.glob("Audio_Speech_Actors_01-24/Actor_0[12]/*.flac"))[::7][:16]
    paths += sorted(ravdess_dir.glob("Audio_Song_Actors_01-24/Actor_0[12]/*.flac"))[::12][:8]
    assert len(paths) == 24
    mels = []
    for path in paths:
        trimmed, offsets = pipeline.trim(path)
        mels.append(whisper_encoder.log_mel(resample(trimmed, from_hz=offsets.sample_rate_hz, to_hz=16000)))
    pooled = {}
    for name in whisper_encoder.params.PRECISIONS:
        with whisper_encoder.WhisperEncoder(folder, precision=name) as encoder:
            if name == "bf16":
                assert encoder.weights["layers.0.fc1.weight"].dtype == torch.bfloat16
                assert encoder.weights["layers.0.final_layer_norm.weight"].dtype == torch.float32
            pooled[name] = np.stack([states.astype(np.float64).mean(axis=1) for states in encoder.hidden_states(mels)])
    assert pooled["bf16"].shape == (24, 7, 512) and not np.array_equal(pooled["bf16"], pooled["fp32"])
    cosines = _cosines(pooled["bf16"], pooled["fp32"])
    assert cosines.min() >= 0.999, cosines.min(axis=0)


@pytest.mark.parametrize("onednn", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_a_linear_layer_on_the_processors_kernels_is_the_same_sums(dtype, onednn, monkeypatch):
    """The bias, the exact GELU and a residual sum against float64 PyTorch: float32 to 1e-6 of
    the largest value, bfloat16 to its rounding (2 ** -7 of it); through oneDNN where this
    PyTorch has it, and through plain operations where it has not."""
    if not onednn:
        monkeypatch.setattr(kernels, "onednn_linear", lambda: None)
    elif not torch.backends.mkldnn.is_available():
        pytest.skip("this PyTorch has no oneDNN")
    else:
        assert kernels.onednn_linear() is not None
    torch.manual_seed(0)
    kind = getattr(torch, dtype)
    x, weight, bias, residual = (torch.randn(*shape, dtype=torch.float64)
                                 for shape in ((3, 37, 48), (64, 48), (64,), (3, 37, 64)))
    linear = torch.nn.functional.linear(x, weight, bias)
    expected = {"plain": linear, "gelu": torch.nn.functional.gelu(linear), "residual": linear + residual}
    for case, wanted in expected.items():
        found = kernels.linear(x.to(kind), weight.to(kind), bias.to(kind), gelu=case == "gelu",
                               residual=residual.to(kind) if case == "residual" else None)
        assert found.dtype == kind and found.shape == wanted.shape
        error = float((found.double() - wanted).abs().max() / wanted.abs().max())
        assert error <= (1e-6 if dtype == "float32" else 2 ** -7), (case, error)
    with pytest.raises(ValueError, match="either a GELU or a residual sum"):
        kernels.linear(x, weight, bias, gelu=True, residual=residual)


@pytest.mark.parametrize("channels, out, kernel, stride, padding, groups", [
    (1, 8, 10, 5, 0, 1),     # the first convolution of the feature encoder
    (8, 8, 3, 2, 0, 1),      # the others
    (8, 8, 16, 1, 8, 2),     # the grouped positional convolution
    (80, 16, 3, 1, 1, 1),    # Whisper's first
])
def test_an_unfolded_convolution_is_pytorchs(channels, out, kernel, stride, padding, groups):
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(channels, out, kernel, stride=stride, padding=padding, groups=groups).double()
    x = torch.randn(2, channels, 97, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(unfolded_conv1d(conv, x), conv(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("norm, bias, piece_frames, runs", [
    ("layer", False, None, 2),  # whole clips, the first layer's normalisation inside its product
    ("layer", True, 10, 10 + 6),  # pieces of 10 frames (16000 samples: 49 frames, 5 pieces), 8 (15 frames, 2)
    ("layer", False, 30, 4 + 2),  # pieces of 25 frames, a run each; the 15-frame clips two to a run
    ("group", False, 10, 2),  # a normalisation over frames: whole clips
])
def test_a_channels_last_feature_encoder_is_transformers(norm, bias, piece_frames, runs, monkeypatch):
    """The seven convolutions as products over strided frames, whole or a piece of the clip at a
    time, in float64 against Transformers' own feature encoder of the same weights: the same
    sums, to 1e-10."""
    torch.manual_seed(0)
    config = transformers.WavLMConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                                      conv_dim=(16,) * 7, feat_extract_norm=norm, conv_bias=bias)
    reference = transformers.WavLMModel(config).eval().double()
    with torch.no_grad():  # norms that are not the identity at initialisation
        for name, parameter in reference.feature_extractor.named_parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    converted = transformers.WavLMModel(config).eval().double()
    converted.load_state_dict(reference.state_dict())
    # the largest tensor per output frame: the second layer's windows, 3 x 16 float64 values at 32 a frame
    frame_bytes = 32 * 3 * 16 * 8
    to_channels_last(converted.feature_extractor, gelu=True,
                     piece_bytes=frame_bytes * piece_frames if piece_frames else feature_encoder.PIECE_BYTES)
    stack, stacked = feature_encoder._stack, []

    def counted(plan, x):
        stacked.append(tuple(x.shape))
        return stack(plan, x)

    monkeypatch.setattr(feature_encoder, "_stack", counted)
    for signal in (torch.randn(2, 16000, dtype=torch.float64), torch.randn(3, 5123, dtype=torch.float64)):
        with torch.inference_mode():
            expected, found = reference.feature_extractor(signal), converted.feature_extractor(signal)
        assert found.shape == expected.shape and found.shape[:2] == (signal.shape[0], 16)
        torch.testing.assert_close(found, expected, rtol=1e-10, atol=1e-10)
    assert len(stacked) == runs, stacked
    padded = transformers.WavLMModel(config).eval()
    padded.feature_extractor.conv_layers[1].conv.padding = (1,)
    with pytest.raises(ValueError, match="without padding, groups or dilation"):
        to_channels_last(padded.feature_extractor, gelu=True)


def test_a_model_in_bf16_computes_every_ungrouped_convolution_unfolded():
    torch.manual_seed(0)
    config = transformers.WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                                      feat_extract_norm="layer")
    reference = transformers.WavLMModel(config).eval()
    converted = to_bfloat16(transformers.WavLMModel(config).eval())
    converted.load_state_dict({name: value.to(torch.bfloat16) for name, value in reference.state_dict().items()})
    convs = [module for module in converted.modules() if isinstance(module, torch.nn.Conv1d)]
    unfolded = [getattr(module.forward, "func", None) is unfolded_conv1d for module in convs]
    assert len(convs) == 8 and unfolded == [module.groups == 1 for module in convs] and unfolded.count(True) == 7
    assert all(parameter.dtype == torch.bfloat16 for parameter in converted.parameters())
    signal = torch.randn(1, 16000)
    with torch.inference_mode():
        expected = reference(signal, output_hidden_states=True).hidden_states
        found = converted(signal.to(torch.bfloat16), output_hidden_states=True).hidden_states
    for layer, (state, wanted) in enumerate(zip(found, expected)):
        assert _cosines(state.float().mean(1).numpy(), wanted.mean(1).numpy()).min() >= 0.999, layer


def test_bf16_needs_native_bfloat16_and_says_when_it_gains_nothing(caplog):
    precision.require_native("bf16", device="cpu", flags=frozenset({"avx512f", "amx_bf16", "avx512_bf16"}))
    precision.require_native("bf16", device="cuda", flags=frozenset())
    precision.require_native("fp32", device="cpu", flags=frozenset())
    for flags in (frozenset({"avx2", "avx512f"}), frozenset()):
        with pytest.raises(ParameterError, match="no native bfloat16 .*neither amx_bf16 nor avx512_bf16.*slower than "
                                                 "float32"):
            precision.require_native("bf16", device="cpu", flags=flags)
    precision._warn_no_gain.cache_clear()  # said once per process: maybe already, by another test
    with caplog.at_level(logging.WARNING, logger="ravdess_prep"):
        precision.require_native("bf16", device="cpu", flags=frozenset({"avx512_bf16"}))
    assert "without amx_bf16" in caplog.text and "no faster than float32" in caplog.text
    assert precision.cpu_flags(precision.CPUINFO.parent / "no-such-file") == frozenset()


def test_bf16_is_refused_before_any_work_on_a_processor_without_it(ravdess_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"sse2", "avx2"}))
    source = tmp_path / "empty-source"
    source.mkdir()
    out = tmp_path / "out"
    for embedder, model in (("whisper", "--whisper-model"), ("hf", "--hf-model")):
        args = ["build", "--source", str(source), "--out", str(out), "--embedder", embedder, model,
                str(tmp_path / "no-model"), "--precision", "bf16", "--no-progress"]
        with pytest.raises(SystemExit) as exited:
            cli.main(args)
        assert exited.value.code == 2
        assert "error: --precision bf16: this processor has no native bfloat16" in capsys.readouterr().err
        assert not out.exists()


def test_bad_precisions_are_named(tmp_path, capsys):
    for cls in (WhisperEmbedder, HFEmbedder):
        with pytest.raises(ParameterError, match="precision has to be one of 'fp32', 'bf16', not 'fp16'"):
            cls(precision="fp16")
    with pytest.raises(whisper_encoder.InputError, match="precision has to be one of 'fp32', 'bf16', not 'half'"):
        whisper_encoder.WhisperEncoder(tmp_path, precision="half")
    with pytest.raises(SystemExit):
        cli.main(["build", "--embedder", "whisper", "--precision", "fp16", "--out", str(tmp_path / "x")])
    assert "argument --precision: has to be one of fp32, bf16, not 'fp16'" in capsys.readouterr().err


@pytest.mark.parametrize("stable", [False, True])
def test_a_wavlm_on_the_cpu_kernels_is_transformers(stable):
    """Every hidden state of a WavLM (post-norm, and the stable-layer-norm kind) moved onto the
    kernels (linear layers, attention with its gated position bias and key padding, the
    feed-forward GELU, the feature encoder),
    in float64 against Transformers' own forward of the same weights, with a padded clip in the
    batch: the same sums, to 1e-9. The weights are perturbed so that the position bias, its gate
    and every norm matter."""
    torch.manual_seed(0)
    config = transformers.WavLMConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                                      conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                                      feat_extract_norm="layer", do_stable_layer_norm=stable)
    reference = transformers.WavLMModel(config).eval().double()
    with torch.no_grad():
        for name, parameter in reference.named_parameters():
            parameter.add_(torch.randn_like(parameter) * (1.0 if "rel_attn_embed" in name or "const" in name else 0.1))
    converted = transformers.WavLMModel(config).eval().double()
    converted.load_state_dict(reference.state_dict())
    converted = cpu_kernels.on_cpu_kernels(converted, precision="fp32", device="cpu")
    attention = converted.encoder.layers[0].attention.torch_multi_head_self_attention
    assert getattr(attention, "func", None) is cpu_kernels._wavlm_attention
    signal = torch.randn(2, 8000, dtype=torch.float64)
    mask = torch.ones(2, 8000, dtype=torch.long)
    mask[1, 5000:] = 0
    signal[1, 5000:] = 0
    with torch.inference_mode():
        expected = reference(signal, attention_mask=mask, output_hidden_states=True).hidden_states
        found = converted(signal, attention_mask=mask, output_hidden_states=True).hidden_states
    assert len(found) == len(expected) == 3
    frames = int(reference._get_feat_extract_output_lengths(torch.tensor(5000)))
    for state, wanted in zip(found, expected):
        torch.testing.assert_close(state[0], wanted[0], rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(state[1, :frames], wanted[1, :frames], rtol=1e-9, atol=1e-9)

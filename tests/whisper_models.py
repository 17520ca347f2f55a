"""Whisper folders for the tests: a small random model made here, and the real OpenAI weights
rebuilt by ``../shared/whisper/make_whisper.py`` into a cache (never into the repository)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import require_shared

#: The SHA-256 of ``model.safetensors`` the shared script writes (its README's table).
REAL = {"base": "8af89d23286ca3b259b54afab857b63bf7538537a183258414e4d022344a3a80",
        "tiny.en": "f24937284ffb6091dce7bcaa40d6dba23bd0f3a853413ab76f3a2e93e7d1d822"}
CACHE_ENV = "RAVDESS_PREP_TEST_CACHE"


def random_whisper(folder: Path, *, seed: int = 0, d_model: int = 64, layers: int = 2, heads: int = 4,
                   mel_bins: int = 80) -> Path:
    """A Whisper model with random weights (``save_pretrained``): a few layers, 64 wide."""
    import torch
    import transformers

    torch.manual_seed(seed)
    config = transformers.WhisperConfig(d_model=d_model, encoder_layers=layers, decoder_layers=1,
                                        encoder_attention_heads=heads, decoder_attention_heads=heads,
                                        encoder_ffn_dim=2 * d_model, decoder_ffn_dim=2 * d_model, vocab_size=100,
                                        pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1,
                                        max_target_positions=32, num_mel_bins=mel_bins)
    model = transformers.WhisperModel(config).eval()
    with torch.no_grad():  # positions drawn like the rest: a random table tests their indexing
        model.encoder.embed_positions.weight.normal_(0.0, 0.5)
    model.save_pretrained(folder)
    transformers.WhisperFeatureExtractor(feature_size=mel_bins).save_pretrained(folder)
    return folder


def real_whisper(size: str) -> Path:
    """The real OpenAI Whisper ``size`` (``base``, ``tiny.en``) in the Transformers layout, made
    once per machine under ``$RAVDESS_PREP_TEST_CACHE`` (default ``~/.cache/ravdess-prep-test``)."""
    script = require_shared("whisper/make_whisper.py")
    root = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ravdess-prep-test")
    folder = root / f"whisper-{size}"
    weights = folder / "model.safetensors"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".whisper-{size}.lock", "w") as lock:  # test processes running side by side make it once
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (weights.is_file() and _sha256(weights) == REAL[size]):
            subprocess.run([sys.executable, str(script), size, "--out", str(folder)], check=True, capture_output=True,
                           timeout=900)
    assert _sha256(weights) == REAL[size]
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def reference_states(folder, mel: np.ndarray, *, cut: bool, double: bool = False) -> list[np.ndarray]:
    """Transformers' hidden states: ``WhisperEncoder`` on a 30 s input, or its own layers with
    the positional table cut to the input's frames (what the ``clip`` input computes); in
    float64 (weights and input) if ``double``."""
    import torch
    import transformers

    model = transformers.WhisperModel.from_pretrained(folder).eval()
    encoder = model.encoder.double() if double else model.encoder
    with torch.no_grad():
        features = torch.from_numpy(mel[None].astype(np.float64) if double else mel[None])
        if not cut:
            return [state[0].numpy() for state in encoder(features, output_hidden_states=True).hidden_states]
        x = torch.nn.functional.gelu(encoder.conv2(torch.nn.functional.gelu(encoder.conv1(features))))
        x = x.permute(0, 2, 1)
        x = x + encoder.embed_positions.weight[: x.shape[1]]
        states = [x]
        for layer in encoder.layers:
            x = layer(x, None)
            x = x[0] if isinstance(x, tuple) else x
            states.append(x)
        states[-1] = encoder.layer_norm(x)
        return [state[0].numpy() for state in states]

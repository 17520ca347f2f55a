"""Whisper's published constants (OpenAI Whisper, Radford et al. 2022; the Transformers port).

Constants only: no function reads them implicitly.
"""

from __future__ import annotations

# --- The front-end: log-mel spectrogram ---------------------------------------------------
SAMPLE_RATE_HZ = 16000
N_FFT = 400  # 25 ms windows
HOP_LENGTH_SAMPLES = 160  # every 10 ms
CHUNK_SECONDS = 30
CHUNK_SAMPLES = CHUNK_SECONDS * SAMPLE_RATE_HZ  # 480000: the published input is padded to 30 s
CHUNK_FRAMES = CHUNK_SAMPLES // HOP_LENGTH_SAMPLES  # 3000 log-mel frames
MEL_MIN_HZ = 0.0
MEL_MAX_HZ = 8000.0
LOG_FLOOR = 1e-10  # the mel power is clamped at this before log10
DYNAMIC_RANGE = 8.0  # log10 values below the clip's maximum minus this are raised to it
LOG_OFFSET = 4.0  # log-mel = (log10 + 4) / 4
LOG_SCALE = 4.0
#: The shortest clip the front-end reads: the STFT's reflect padding needs N_FFT // 2 + 1 samples.
MIN_SAMPLES = N_FFT // 2 + 1

# --- The encoder -------------------------------------------------------------------------
CONV_STRIDE = 2  # the second convolution halves the frame rate: 50 encoder frames per second
LAYER_NORM_EPSILON = 1e-5
#: The input modes: ``clip`` (only the clip's frames, the positional table cut to them) and
#: ``30s`` (the published input padded to 30 s; the clip's frames kept afterwards).
INPUTS = ("clip", "30s")
#: Clip inputs of a batch are padded to a multiple of this many log-mel frames (with masked
#: keys), so that a clip's computation has the same shape whatever its batch-mates.
BUCKET_FRAMES = 64
#: The precisions the encoder runs in: ``fp32`` (every operation in float32), ``bf16`` (weights
#: cast to bfloat16 once; every step in bfloat16, the residual stream included; the layer norms'
#: statistics in float32).
PRECISIONS = ("fp32", "bf16")

# --- The Transformers folder -------------------------------------------------------------
CONFIG_FILE = "config.json"
PREPROCESSOR_FILE = "preprocessor_config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX_FILE = "model.safetensors.index.json"

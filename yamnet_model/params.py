"""YAMNet constants: front-end, network layout, outputs. Constants only.

The values are those of the published model (TF Hub ``google/yamnet/1``, tensorflow/models
research/audioset/yamnet), read from its graph.
"""

from __future__ import annotations

# --- Front-end ---------------------------------------------------------------------------
SAMPLE_RATE_HZ = 16000
STFT_WINDOW_SAMPLES = 400  # 25 ms
STFT_HOP_SAMPLES = 160  # 10 ms
FFT_LENGTH = 512
NUM_SPECTROGRAM_BINS = FFT_LENGTH // 2 + 1
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_SECONDS = 0.48  # the published patch hop
# the shortest waveform that gives one patch: 96 frames of 400 samples every 160 (0.975 s)
MIN_SAMPLES = STFT_WINDOW_SAMPLES + (PATCH_FRAMES - 1) * STFT_HOP_SAMPLES

# --- Network (MobileNet v1 on log-mel patches) -------------------------------------------
BATCH_NORM_EPSILON = 1e-4
EMBEDDING_SIZE = 1024
NUM_CLASSES = 521
#: (layer, kind, stride, input channels, output channels): layer1 is a full 3x3 convolution,
#: the others depthwise 3x3 then pointwise 1x1 convolutions; every convolution is SAME padded,
#: without bias, followed by BatchNormalization (no scale) and ReLU.
LAYERS = (
    (1, "conv", 2, 1, 32),
    (2, "separable", 1, 32, 64),
    (3, "separable", 2, 64, 128),
    (4, "separable", 1, 128, 128),
    (5, "separable", 2, 128, 256),
    (6, "separable", 1, 256, 256),
    (7, "separable", 2, 256, 512),
    (8, "separable", 1, 512, 512),
    (9, "separable", 1, 512, 512),
    (10, "separable", 1, 512, 512),
    (11, "separable", 1, 512, 512),
    (12, "separable", 1, 512, 512),
    (13, "separable", 2, 512, 1024),
    (14, "separable", 1, 1024, 1024),
)
LOGITS_INDEX = 54  # layer_with_weights-54: the dense logits (kernel [1024, 521], bias [521])

# --- The SavedModel ------------------------------------------------------------------------
VARIABLES_PREFIX = "variables/variables"  # the checkpoint inside a SavedModel folder
WEIGHTS_PATTERN = r"^(?P<prefix>(?:.*/)?)_yamnet/layer_with_weights-(?P<index>\d+)/(?P<attribute>\w+)/\.ATTRIBUTES/VARIABLE_VALUE$"
CLASS_MAP = "assets/yamnet_class_map.csv"
# TF Hub / Kaggle Models ``google/yamnet`` version 1, as a compressed SavedModel
OFFICIAL_URL = "https://tfhub.dev/google/yamnet/1?tf-hub-format=compressed"

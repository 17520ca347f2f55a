"""VGGish constants: front-end, model layout, post-processing, official files. Constants only."""

from __future__ import annotations

# --- Front-end ---------------------------------------------------------------------------
SAMPLE_RATE_HZ = 16000
STFT_WINDOW_LENGTH_SECONDS = 0.025
STFT_HOP_LENGTH_SECONDS = 0.010
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_WINDOW_SECONDS = 0.96
EXAMPLE_HOP_SECONDS = 0.96  # the published default; the original project used 0.23
NUM_FRAMES = 96  # frames per example
NUM_BANDS = 64  # mel bands per frame

# --- Model -------------------------------------------------------------------------------
EMBEDDING_SIZE = 128
INPUT_TENSOR_NAME = "vggish/input_features:0"
OUTPUT_TENSOR_NAME = "vggish/embedding:0"
FC2_ACTIVATIONS = ("relu", None)  # 2019 release (ReLU on fc2), current release (none)

# Every variable of the official checkpoint: name -> shape.
VARIABLE_SHAPES = {
    "vggish/conv1/weights": (3, 3, 1, 64),
    "vggish/conv1/biases": (64,),
    "vggish/conv2/weights": (3, 3, 64, 128),
    "vggish/conv2/biases": (128,),
    "vggish/conv3/conv3_1/weights": (3, 3, 128, 256),
    "vggish/conv3/conv3_1/biases": (256,),
    "vggish/conv3/conv3_2/weights": (3, 3, 256, 256),
    "vggish/conv3/conv3_2/biases": (256,),
    "vggish/conv4/conv4_1/weights": (3, 3, 256, 512),
    "vggish/conv4/conv4_1/biases": (512,),
    "vggish/conv4/conv4_2/weights": (3, 3, 512, 512),
    "vggish/conv4/conv4_2/biases": (512,),
    "vggish/fc1/fc1_1/weights": (12288, 4096),
    "vggish/fc1/fc1_1/biases": (4096,),
    "vggish/fc1/fc1_2/weights": (4096, 4096),
    "vggish/fc1/fc1_2/biases": (4096,),
    "vggish/fc2/weights": (4096, 128),
    "vggish/fc2/biases": (128,),
}

# --- Post-processing ---------------------------------------------------------------------
PCA_EIGEN_VECTORS_NAME = "pca_eigen_vectors"
PCA_MEANS_NAME = "pca_means"
QUANTIZE_MIN_VAL = -2.0
QUANTIZE_MAX_VAL = 2.0

# --- Official files ----------------------------------------------------------------------
CHECKPOINT_URL = "https://storage.googleapis.com/audioset/vggish_model.ckpt"
CHECKPOINT_SIZE_BYTES = 291_108_469
CHECKPOINT_SHA256 = "0962b1914e3e053922d957c45bc84a78c985765641dc6bceeeb3a7d8dfecfdf6"
PCA_PARAMS_URL = "https://storage.googleapis.com/audioset/vggish_pca_params.npz"
PCA_PARAMS_SIZE_BYTES = 73_020
PCA_PARAMS_SHA256 = "4d878af3e306defbfb37095365aa7e5a6cecb86bad13e859e626151c4e6a8b9d"
MODEL_DIR_ENV = "VGGISH_MODEL_DIR"

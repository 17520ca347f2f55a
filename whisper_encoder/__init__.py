"""Whisper's encoder (OpenAI Whisper, any size from tiny to large-v3) on PyTorch, with the weights
of a Transformers folder.

Modules: ``params`` (constants), ``frontend`` (waveform -> log-mel frames, numpy), ``files``
(``config.json`` and the encoder's weights from safetensors), ``encoder`` (the network built in
code, every hidden state out), ``kernels`` (its linear layers on the processor's own matrix
kernels), ``errors``. The package stands alone; importing it loads
neither PyTorch nor librosa.
"""

from .encoder import WhisperEncoder, torch_device
from .errors import InputError, ModelFileError, WhisperError
from .files import EncoderConfig, read_config, read_encoder_weights, weight_files
from .frontend import encoder_frames, log_mel, mel_filters, num_frames

__all__ = [
    "EncoderConfig", "InputError", "ModelFileError", "WhisperEncoder", "WhisperError", "encoder_frames", "log_mel",
    "mel_filters", "num_frames", "read_config", "read_encoder_weights", "torch_device", "weight_files",
]

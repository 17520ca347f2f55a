"""YAMNet, the AudioSet sound classifier (MobileNet v1 on log-mel patches), on TensorFlow 2.

Modules: ``params`` (constants), ``frontend`` (waveform -> patches, numpy), ``model`` (the
network built in code and :class:`YAMNet`), ``files`` (a SavedModel folder's weights and
class map), ``errors``. The package stands alone; importing it loads neither TensorFlow nor
resampy.
"""

from .errors import InputError, ModelFileError, YAMNetError
from .files import class_names, read_weights, weights_prefix
from .frontend import num_patches, read_waveform, silent_patch, waveform_to_log_mel, waveform_to_patches
from .model import YAMNet, network

__all__ = [
    "InputError", "ModelFileError", "YAMNet", "YAMNetError", "class_names", "network", "num_patches",
    "read_waveform", "read_weights", "silent_patch", "waveform_to_log_mel", "waveform_to_patches", "weights_prefix",
]

"""VGGish, the AudioSet audio-embedding model, on TensorFlow 2 with tf-slim.

Modules: ``params`` (constants), ``mel`` (numpy DSP), ``frontend`` (waveform -> examples),
``model`` (the network and :class:`VGGish`), ``postprocess`` (PCA + quantization), ``files``
(the model files' identity and layout), ``errors``, ``testing`` (random checkpoints). The
package stands alone; importing it loads neither TensorFlow nor resampy (they are imported
when a model is built or a waveform resampled).
"""

from .errors import InputError, ModelFileError, VGGishError
from .files import check_checkpoint_layout, check_checkpoint_values
from .frontend import log_mel_examples, num_examples, silent_example, waveform_to_examples, wavfile_to_examples
from .model import VGGish, define_vggish_slim
from .postprocess import Postprocessor

__all__ = [
    "InputError", "ModelFileError", "Postprocessor", "VGGish", "VGGishError", "check_checkpoint_layout",
    "check_checkpoint_values",
    "define_vggish_slim", "log_mel_examples", "num_examples", "silent_example",
    "waveform_to_examples", "wavfile_to_examples",
]

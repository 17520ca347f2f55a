"""VGGish, the AudioSet audio-embedding model, on TensorFlow 2 with tf-slim.

Modules: ``params`` (constants), ``mel`` (numpy DSP), ``frontend`` (waveform -> examples),
``model`` (the network and :class:`VGGish`), ``postprocess`` (PCA + quantization), ``files``
(official model files), ``testing`` (random checkpoints). The names below are imported on
first use, so ``import vggish`` loads neither TensorFlow nor resampy.
"""

_EXPORTS = {
    "waveform_to_examples": "frontend",
    "wavfile_to_examples": "frontend",
    "VGGish": "model",
    "define_vggish_slim": "model",
    "Postprocessor": "postprocess",
    "checkpoint_file": "files",
    "pca_params_file": "files",
    "check_checkpoint_layout": "files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

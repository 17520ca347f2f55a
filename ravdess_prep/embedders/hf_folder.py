"""A Transformers speech encoder's folder, read and checked before any model is built: its
``config.json`` (one of the model types the ``hf`` embedder runs), its feature extractor's
``preprocessor_config.json``, its weight files, and whether the model pads clips in a batch
exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..exceptions import ModelFileError, ParameterError, option
from .hub import WEIGHTS

#: The model types of config.json this embedder runs, by their Transformers class.
MODEL_TYPES = {"wav2vec2": "Wav2Vec2Model", "hubert": "HubertModel", "wavlm": "WavLMModel",
               "data2vec-audio": "Data2VecAudioModel", "wav2vec2-conformer": "Wav2Vec2ConformerModel"}
SAMPLE_RATE_HZ = 16000
#: The model types whose padded frames, masked, reach no real frame (see :func:`pads_exactly`).
PADDABLE_TYPES = ("wav2vec2", "hubert", "wavlm")
#: The feature extractor of these models, as ``preprocessor_config.json`` names it.
EXTRACTOR = "Wav2Vec2FeatureExtractor"


def pads_exactly(config: dict, *, masked: bool) -> bool:
    """Whether a clip padded in a batch gives what it gives alone: a model of
    :data:`PADDABLE_TYPES` whose feature extractor returns a mask and whose feature encoder is
    layer-normalised (a group norm's statistics span the padding, whatever the mask says: WavLM
    base-plus; data2vec-audio's stacked positional convolutions and the Conformer's convolution
    module read padded frames)."""
    return masked and config.get("model_type") in PADDABLE_TYPES and config.get("feat_extract_norm", "layer") == "layer"


def read_model_config(folder: Path) -> dict:
    """A model folder's ``config.json``, checked to be one of :data:`MODEL_TYPES`.

    Raises:
        ParameterError: A Whisper folder (the whisper embedder runs it).
        ModelFileError: Missing, unreadable, or another model type.
    """
    path = Path(folder) / "config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a readable config ({error})") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type == "whisper":
        raise ParameterError(f"{path}: a Whisper model: build it with {option('embedder', 'whisper')}")
    if model_type not in MODEL_TYPES:
        raise ModelFileError(f"{path}: model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    return config


def read_extractor_config(folder: Path) -> dict:
    """A model folder's ``preprocessor_config.json``, checked to be the feature extractor these
    models use (``Wav2Vec2FeatureExtractor``) for one channel at 16 kHz.

    Raises:
        ModelFileError: Missing, unreadable, not a JSON object, another extractor, or another
            rate or feature size; the message names the file and the value.
    """
    path = Path(folder) / "preprocessor_config.json"
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"{path}: no such file (a model folder holds config.json, preprocessor_config.json "
                             "and its weights)") from None
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a readable feature extractor config ({error})") from None
    if not isinstance(values, dict):
        raise ModelFileError(f"{path}: has to be a JSON object of the feature extractor's settings, not "
                             f"{type(values).__name__}")
    kind = values.get("feature_extractor_type", EXTRACTOR)
    if kind != EXTRACTOR:
        raise ModelFileError(f"{path}: feature_extractor_type is {kind!r}, not {EXTRACTOR!r} (the extractor of "
                             "wav2vec 2.0, HuBERT, WavLM and data2vec-audio)")
    for key, expected in (("sampling_rate", SAMPLE_RATE_HZ), ("feature_size", 1)):
        if values.get(key, expected) != expected:
            raise ModelFileError(f"{path}: {key} is {values[key]!r}, not {expected} (these models read one channel "
                                 f"at {SAMPLE_RATE_HZ} Hz)")
    return values


def weight_names(folder: Path) -> list[str]:
    """The weight files of a model folder: ``model.safetensors``, or the index and the shards it
    lists, or ``pytorch_model.bin``.

    Raises:
        ModelFileError: None of them, or an unreadable index.
    """
    if (folder / "model.safetensors").is_file():
        return ["model.safetensors"]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            return [index.name] + sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise ModelFileError(f"{index}: not a readable index of shards ({error!r})") from None
    if (folder / "pytorch_model.bin").is_file():
        return ["pytorch_model.bin"]
    raise ModelFileError(f"{folder}: no weights: none of {', '.join(WEIGHTS)} (a model folder holds "
                         "config.json, preprocessor_config.json and its weights)")

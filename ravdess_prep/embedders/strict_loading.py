"""A Transformers model loaded strictly: every parameter from the weights, every weight used.

``from_pretrained`` initialises at random any parameter the weights lack and drops any weight
the model has no place for, with a log line at most. For an embedder that is a dataset of wrong
numbers with exit status 0: a folder whose ``config.json`` names another model type than its
weights are of, one that claims more layers than the weights hold, or weights with a tensor
cut out. Here each of these is an error naming the weights file and the first names concerned,
and so is a weight holding NaN or infinity.

Weights of heads a published checkpoint carries beside the encoder (the quantiser and
projections of pre-training, a CTC head) are not the model's own modules: they are left out
as Transformers leaves them out. Transformers is imported by the caller, not by this module.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import ModelFileError

#: How many names a message shows.
SHOWN = 3


def check_weight_files(paths: list[Path]) -> None:
    """Raise :class:`ModelFileError` naming the first safetensors file whose header does not
    describe the file (cut short, offsets that overlap or leave gaps, not JSON): the
    ``safetensors`` package checks them when it opens a file, before any tensor is read.
    ``pytorch_model.bin`` and an index are left to the loader."""
    from safetensors import SafetensorError, safe_open

    for path in paths:
        if path.suffix != ".safetensors":
            continue
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except (SafetensorError, OSError, ValueError) as error:
            raise ModelFileError(f"{path}: not a safetensors file, or a damaged one ({error})") from None


def load_strictly(model_class, folder: Path, *, weights: str):
    """``model_class.from_pretrained(folder)``, refused unless the weights fill it exactly.

    Args:
        model_class: A Transformers model class (``WavLMModel``, ...).
        folder: The model folder.
        weights: The weights file, for messages (``model.safetensors``).

    Raises:
        ModelFileError: A parameter the weights lack, a weight of the model's own modules it
            has no place for, a weight of another shape, or a non-finite weight; the message
            names the file and the first names.
    """
    path = Path(folder) / weights
    try:
        model, info = model_class.from_pretrained(folder, local_files_only=True, output_loading_info=True)
    except Exception as error:  # whatever Transformers or the file's reader raise: the folder is at fault
        raise ModelFileError(f"{folder}: the model cannot be loaded ({type(error).__name__}: "
                             f"{' '.join(str(error).split())[:300]})") from None
    own = {name.split(".")[0] for name, _ in model.named_children()} | {
        name.split(".")[0] for name, _ in model.named_parameters()}
    prefix = f"{model.base_model_prefix}."
    unexpected = [name for name in info.get("unexpected_keys", ())
                  if (name[len(prefix):] if name.startswith(prefix) else name).split(".")[0] in own]
    for what, names in (("parameters the weights lack (they would be random)", info.get("missing_keys", ())),
                        ("weights the model has no place for", unexpected),
                        ("weights of another shape than the config says", info.get("mismatched_keys", ()))):
        names = sorted(str(name[0] if isinstance(name, tuple) else name) for name in names)
        if names:
            raise ModelFileError(f"{path}: {len(names)} {what} for a {model.config.model_type} model of "
                                 f"{model.config.num_hidden_layers} layers, e.g. {', '.join(names[:SHOWN])} (does "
                                 "config.json belong to these weights?)")
    for name, parameter in model.named_parameters():
        if not parameter.detach().isfinite().all():
            count = int((~parameter.detach().isfinite()).sum())
            raise ModelFileError(f"{path}: weight {name} holds {count} NaN or infinite values (a damaged file?)")
    return model

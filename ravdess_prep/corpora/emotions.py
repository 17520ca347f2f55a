"""One emotion vocabulary across corpora.

Each corpus names its labels in its own words (EmoDB's "happiness", RAVDESS's "happy"). For
comparing and crossing corpora, every corpus maps its labels onto :data:`CANONICAL`; bundles keep
the corpus's own label ids, and the manifest and the data card record both names.
"""

from __future__ import annotations

from typing import Sequence

from ..exceptions import ParameterError

#: The canonical emotion names.
CANONICAL = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom")


def check_canonical(names: Sequence[str], *, label_names: Sequence[str], where: str) -> tuple[str, ...]:
    """``names`` as a tuple, checked: one canonical name per label, each used once.

    Raises:
        ParameterError: Another count than the labels', a name outside :data:`CANONICAL`, or
            one name twice; the message says ``where`` and the name.
    """
    names = tuple(names)
    if len(names) != len(label_names):
        raise ParameterError(f"{where}: {len(names)} canonical names for {len(label_names)} labels")
    for name in names:
        if name not in CANONICAL:
            raise ParameterError(f"{where}: {name!r} is not a canonical emotion ({', '.join(CANONICAL)})")
    if len(set(names)) != len(names):
        raise ParameterError(f"{where}: a canonical emotion named twice in {list(names)}")
    return names


def canonical_of(names: Sequence[str], *, label_names: Sequence[str],
                 canonical_names: Sequence[str] | None) -> tuple[str, ...] | None:
    """Each of ``names`` (a corpus's label names, or some of them) as its canonical emotion,
    through the corpus's ``canonical_names`` (one per label name); a name that is canonical
    itself stands for itself. None when a name has no canonical emotion."""
    labels = list(label_names)
    result = []
    for name in names:
        if canonical_names is not None and name in labels:
            result.append(canonical_names[labels.index(name)])
        elif name in CANONICAL:
            result.append(name)
        else:
            return None
    return tuple(result)

"""Settings as data: every field of a settings dataclass says how it is spelled and what it takes.

A field made with :func:`setting` carries its command-line flag, the kind of its values and
its help. The configuration classes (:class:`~ravdess_prep.config.Config`,
:class:`~ravdess_prep.build.executors.Run`), each embedder and each embedder's files type declare their
fields this way, and everything that reads settings takes them from there: the command line
generates its options, ``--config`` files and manifests are read with the same kinds, and error
messages name a setting by its flag on the command line (:func:`ravdess_prep.exceptions.option`).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

from .exceptions import ParameterError


@dataclasses.dataclass(frozen=True)
class Kind:
    """What values a setting takes, from a command line and from a file.

    Attributes:
        name: How messages describe it (``"an integer"``).
        parse: Command-line text to a value (raises ``ValueError`` on bad text).
        accepts: Whether a value read from TOML or JSON is of this kind.
        convert: Such a value to the setting's value (a list to a tuple, say).
        metavar: How ``--help`` shows the value (None: the flag's name).
    """

    name: str
    parse: Callable[[str], Any]
    accepts: Callable[[Any], bool]
    convert: Callable[[Any], Any] = lambda value: value
    metavar: str | None = None

    def from_file(self, value, *, where: str):
        """A value read from a file, checked and converted.

        Raises:
            ParameterError: It is not of this kind; the message says ``where`` and what it takes.
        """
        if not self.accepts(value):
            raise ParameterError(f"{where} has to be {self.name}, not {value!r}")
        return self.convert(value)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _speaker_list(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _batch(text: str):
    return text if text == "auto" else _positive(text)


INTEGER = Kind("an integer", int, _is_int)
POSITIVE = Kind("a positive integer", _positive, lambda value: _is_int(value) and value >= 1)
BATCH = Kind("auto or a positive integer", _batch, lambda value: value == "auto" or (_is_int(value) and value >= 1),
             metavar="auto|N")
NUMBER = Kind("a number", float, lambda value: _is_int(value) or isinstance(value, float), float)
TEXT = Kind("a string", str, lambda value: isinstance(value, str))
PATH = Kind("a path", str, lambda value: isinstance(value, str), metavar="PATH")
SWITCH = Kind("true or false", bool, lambda value: isinstance(value, bool))
TEXTS = Kind("a string or a list of strings", str,
             lambda value: isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)),
             lambda value: tuple([value] if isinstance(value, str) else value))
LAYER_LIST = Kind("all, a layer number or a list of them", _speaker_list,
                  lambda value: _is_int(value) or (isinstance(value, list) and all(_is_int(item) for item in value)),
                  lambda value: (value,) if isinstance(value, int) else tuple(value), "all|K|K1,K2,...")
def _layer_choice(text: str):
    if text == "auto":
        return text
    if "-" in text.strip("-"):
        first, _, last = text.partition("-")
        first, last = int(first), int(last)
        if last < first:
            raise ValueError(text)
        return tuple(range(first, last + 1))
    return _speaker_list(text)


def _shrinkage_choice(text: str):
    return text if text == "auto" else float(text)


LAYER_CHOICE = Kind("auto, a range of layers K1-K2 or a list of them", _layer_choice,
                    lambda value: value == "auto" or _is_int(value) or (isinstance(value, list) and value
                                                                         and all(_is_int(item) for item in value)),
                    lambda value: value if value == "auto" else (value,) if isinstance(value, int) else tuple(value),
                    "auto|K1-K2|K1,K2,...")
SHRINKAGE = Kind("auto or a number", _shrinkage_choice,
                 lambda value: value == "auto" or _is_int(value) or isinstance(value, float),
                 lambda value: value if value == "auto" else float(value), "auto|S")
ANY = Kind("a value", str, lambda value: True, lambda value: tuple(value) if isinstance(value, list) else value)
SPEAKERS = Kind("a list of numbers", _speaker_list,
                lambda value: isinstance(value, list) and all(_is_int(item) for item in value), tuple, "N,N,...")


@dataclasses.dataclass(frozen=True)
class Setting:
    """One field of a settings dataclass, as the command line and files see it.

    Attributes:
        name: The field's name (the key of ``to_dict()``, of ``--config`` files, of manifests).
        flags: Its command-line flags, the first the one messages use (empty: not on the
            command line).
        kind: What values it takes.
        help: One line of ``--help``, or a function that makes it when the command line is
            built (help that lists what the registries hold, plug-ins included).
        choices: The values it is restricted to (None: any of its kind).
        group: The ``--help`` section it is listed under.
        default: Its default.
        none_word: The command-line word that stands for None (``--fc2-activation none``).
    """

    name: str
    flags: tuple[str, ...]
    kind: Kind
    help: str | Callable[[], str]
    choices: tuple | Callable[[], tuple] | None
    group: str
    default: Any
    none_word: str | None = None

    @property
    def flag(self) -> str | None:
        return self.flags[0] if self.flags else None

    @property
    def dest(self) -> str:
        """The command line's name for it (from its flag: ``--yamnet-model`` -> ``yamnet_model``)."""
        return (self.flag or self.name).lstrip("-").replace("-", "_")

    def described(self) -> str:
        """Its line of ``--help`` (made now, if it is made from the registries)."""
        return self.help() if callable(self.help) else self.help

    def allowed(self) -> tuple | None:
        """The values it is restricted to (for the command line: text, None as ``none_word``)."""
        return self.choices() if callable(self.choices) else self.choices

    def parse(self, text: str):
        """The value of command-line text."""
        if self.none_word is not None and text == self.none_word:
            return None
        return self.kind.parse(text)

    def from_file(self, value, *, where: str):
        """A value read from a TOML or JSON file, checked (None stands for ``none_word``)."""
        if value is None or (self.none_word is not None and value == self.none_word):
            if self.default is None or self.none_word is not None:
                return None
            raise ParameterError(f"{where} has to be {self.kind.name}, not null")
        converted = self.kind.from_file(value, where=where)
        allowed = self.allowed()
        if allowed is not None and converted not in allowed:
            raise ParameterError(f"{where} has to be one of {', '.join(map(repr, allowed))}, not {value!r}")
        return converted


def setting(default=dataclasses.MISSING, *, flags: str | Sequence[str] = (), kind: Kind = TEXT,
            help: str | Callable[[], str] = "",
            choices: tuple | Callable[[], tuple] | None = None, group: str = "", none_word: str | None = None,
            default_factory=dataclasses.MISSING) -> Any:
    """A dataclass field that carries its :class:`Setting` (see the module docstring)."""
    flags = (flags,) if isinstance(flags, str) else tuple(flags)
    metadata = {"setting": {"flags": flags, "kind": kind, "help": help, "choices": choices, "group": group,
                            "none_word": none_word}}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def settings_of(cls) -> list[Setting]:
    """The :class:`Setting` of every field of a settings dataclass, in order (a field made
    without :func:`setting` takes any value and has no flag)."""
    found = []
    for field in dataclasses.fields(cls):
        spec = field.metadata.get("setting") or {"flags": (), "kind": ANY, "help": "", "choices": None, "group": "",
                                                  "none_word": None}
        default = (field.default if field.default is not dataclasses.MISSING
                   else field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
        found.append(Setting(field.name, spec["flags"], spec["kind"], spec["help"], spec["choices"], spec["group"],
                             default, spec["none_word"]))
    return found


def values_from_file(cls, values: dict, *, where: str) -> dict:
    """``values`` (from a TOML or JSON file) checked against ``cls``'s settings and converted.

    Raises:
        ParameterError: A key is not a setting of ``cls`` (the message lists the nearest
            spelling when the key is a flag), or a value is of the wrong kind.
    """
    table = {spec.name: spec for spec in settings_of(cls)}
    converted = {}
    for key, value in values.items():
        spec = table.get(key)
        if spec is None:
            raise ParameterError(f"{where}: unknown key {key!r}{_hint(key, table.values())} (keys: "
                                 f"{', '.join(table)})")
        converted[key] = spec.from_file(value, where=f"{where}: key {key!r}")
    return converted


def _hint(key: str, specs) -> str:
    for spec in specs:
        if key in (flag.lstrip("-") for flag in spec.flags) or key.replace("-", "_") == spec.name:
            return f" (the key is {spec.name!r})"
    return ""

"""Named plug-ins: the library's own, and those other packages declare as entry points.

One shape serves embedders, corpora, executors and heads. A :class:`Registry` maps names to objects:
its built-in entries are ``"module:attribute"`` strings imported on first use, and every
installed distribution can add entries under the registry's entry-point group, e.g. in its
``pyproject.toml``::

    [project.entry-points."ravdess_prep.embedders"]
    my-model = "my_package.embedder:MyEmbedder"

Nothing is imported or read when the registry is created; the entry points are read the first
time a name is looked up or listed. A plug-in that cannot be loaded (it raises on import, needs
a missing module, is not of the registry's kind, or its object's ``name`` differs from its
entry point's), and a name two packages claim (or a plug-in and the library), are errors naming
the packages, the entry points and the cause when that name is used; the command line builds
its options from :meth:`Registry.loadable` and lists :meth:`Registry.problems`, so such a
plug-in breaks nothing that does not use it.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points
from typing import Callable, Generic, Iterator, Mapping, TypeVar

from .exceptions import ParameterError, RavdessPrepError, option

T = TypeVar("T")

#: Entry-point groups, by what they register.
GROUPS = {"embedder": "ravdess_prep.embedders", "corpus": "ravdess_prep.corpora",
          "executor": "ravdess_prep.executors", "head": "ravdess_prep.heads"}


def load_reference(reference: str):
    """The object a ``"module:attribute"`` reference names, imported now."""
    module, _, attribute = reference.partition(":")
    found = importlib.import_module(module)
    for part in attribute.split(".") if attribute else ():
        found = getattr(found, part)
    return found


def instances_of(base: type) -> Callable[[object], object]:
    """The ``adapt`` of a registry of ``base`` instances: a subclass is made with its defaults,
    an instance taken as it is; anything else is a :class:`TypeError` (the registry names the
    plug-in)."""

    def adapt(value):
        if isinstance(value, type) and issubclass(value, base):
            return value()
        if isinstance(value, base):
            return value
        raise TypeError(f"{value!r} is not a {base.__name__} (or a {base.__name__} subclass)")

    return adapt


class Registry(Mapping[str, T], Generic[T]):
    """Names to plug-ins of one kind, loaded when first asked for.

    Args:
        what: What the entries are (``"embedder"``), for messages; also picks the entry-point
            group (:data:`GROUPS`).
        setting: The setting that names an entry, for messages (default: ``what``).
        builtin: ``{name: "module:attribute"}`` of the library's own entries, in their order.
        adapt: Turns a loaded object into the entry (a corpus class into an instance, say).
        missing_extra: ``{module name: extra}``: importing an entry that fails for want of that
            module says which ``pip install -e ".[extra]"`` brings it.
    """

    def __init__(self, what: str, builtin: Mapping[str, str], *, adapt: Callable[[object], T] = lambda value: value,
                 missing_extra: Mapping[str, str] = {}, setting: str | None = None):
        self.what = what
        self.setting = setting or what
        self.group = GROUPS[what]
        self._builtin = dict(builtin)
        self._references: dict[str, str] = dict(builtin)
        self._loaded: dict[str, T] = {}
        self._adapt = adapt
        self._missing_extra = dict(missing_extra)
        self._discovered = False
        self._packages: dict[str, str] = {}  # the distribution of each plug-in, by name
        self._conflicts: dict[str, str] = {}  # names claimed twice: the message
        self._failures: dict[str, str] = {}  # entries that failed to load: the message (tried once)

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        for point in sorted(entry_points(group=self.group), key=lambda point: (point.name, _package(point))):
            name, package = point.name, _package(point)
            if name in self._builtin:
                self._conflicts[name] = (f"the {self.what} {name!r} of the package {package} ({point.value}) has the "
                                         f"name of the library's own ({self._builtin[name]}): the plug-in's entry "
                                         "point has to be renamed, or the package uninstalled")
            elif name in self._packages and (self._packages[name], self._references[name]) != (package, point.value):
                self._conflicts[name] = (f"two packages register the {self.what} {name!r}: {self._packages[name]} "
                                         f"({self._references[name]}) and {package} ({point.value}); uninstall one")
            elif name not in self._references:
                self._references[name], self._packages[name] = point.value, package

    def __getitem__(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        if name not in self:
            raise KeyError(name)
        if name in self._conflicts:
            raise RavdessPrepError(self._conflicts[name])
        if name in self._failures:
            raise RavdessPrepError(self._failures[name])
        try:
            value = self._load(name)
        except RavdessPrepError as error:
            self._failures[name] = str(error)
            raise
        self._loaded[name] = value
        return value

    def _load(self, name: str) -> T:
        """Import and adapt the entry ``name``, checked.

        Raises:
            RavdessPrepError: It cannot be imported or adapted, or a plug-in's object is named
                otherwise than its entry point; the message names its package and entry point.
        """
        where = self._where(name)
        try:
            value = self._adapt(load_reference(self._references[name]))
        except ImportError as error:
            if not _missing_module(error):  # raised by the plug-in's own code, not for want of a module
                raise RavdessPrepError(f"the {self.what} {name!r}{where or ' (' + self._references[name] + ')'} "
                                       f"cannot be loaded: {type(error).__name__}: {error}") from None
            extra = self._missing_extra.get((error.name or "").split(".")[0])
            hint = f": pip install -e \".[{extra}]\"" if extra and name in self._builtin else ""
            raise RavdessPrepError(f"the {self.what} {name!r}{where} needs {error.name}{hint}") from None
        except BaseException as error:  # a plug-in's own code: whatever it raises (SystemExit too) is named
            raise RavdessPrepError(f"the {self.what} {name!r}{where or ' (' + self._references[name] + ')'} cannot "
                                   f"be loaded: {type(error).__name__}: {error}") from None
        declared = getattr(value, "name", name)
        if name in self._packages and isinstance(declared, str) and declared != name:
            raise RavdessPrepError(f"the {self.what} {name!r}{where} is named {declared!r} by its class: the entry "
                                   "point and the class have to give the same name")
        return value

    def _where(self, name: str) -> str:
        """Where a plug-in comes from, for messages: its package and entry point (nothing for
        the library's own)."""
        if name in self._packages:
            return f" (package {self._packages[name]}, entry point {self._references[name]})"
        return ""

    def loadable(self) -> dict[str, T]:
        """``{name: entry}`` of every entry that loads (see :meth:`problems` for the others)."""
        return self._outcomes()[0]

    def problems(self) -> dict[str, str]:
        """``{name: the error}`` of every entry that cannot be used (it fails to load, or its
        name is claimed twice)."""
        return self._outcomes()[1]

    def _outcomes(self) -> tuple[dict[str, T], dict[str, str]]:
        """Every entry looked up: ``({name: entry}, {name: the error})``."""
        loaded, failed = {}, {}
        for name in self:
            try:
                loaded[name] = self[name]
            except RavdessPrepError as error:
                failed[name] = str(error)
        return loaded, failed

    def __iter__(self) -> Iterator[str]:
        self._discover()
        return iter(self._references)

    def __len__(self) -> int:
        self._discover()
        return len(self._references)

    def __contains__(self, name) -> bool:
        if not isinstance(name, str):
            return False
        if name not in self._references:  # the library's own need no look at the entry points
            self._discover()
        return name in self._references

    def builtin(self) -> dict[str, str]:
        """``{name: "module:attribute"}`` of the library's own entries."""
        return dict(self._builtin)

    def get_named(self, name: str) -> T:
        """The entry ``name``.

        Raises:
            ParameterError: No such entry; the message lists the known names.
        """
        try:
            return self[name]
        except KeyError:
            raise ParameterError(f"{option(self.setting)} has to be one of {', '.join(map(repr, self))}, "
                                 f"not {name!r}") from None

    def register(self, name: str, value: T) -> T:
        """Make ``value`` known as ``name`` (replacing an entry of that name); returns it."""
        self._discover()
        for known in (self._conflicts, self._packages, self._failures):
            known.pop(name, None)
        self._references[name] = f"<registered {self.what} {name}>"
        self._loaded[name] = self._adapt(value)
        return value

    def unregister(self, name: str) -> None:
        """Forget ``name`` (a built-in entry comes back on the next lookup)."""
        for known in (self._loaded, self._references, self._packages, self._conflicts, self._failures):
            known.pop(name, None)
        if name in self._builtin:
            self._references[name] = self._builtin[name]
        self._discovered = False


def _missing_module(error: ImportError) -> bool:
    """Whether an import failed because a module is not installed (not because the code that
    was imported raised it, or asked a module for a name it lacks)."""
    if not error.name:
        return False
    try:
        return importlib.util.find_spec(error.name) is None
    except (ImportError, ValueError):
        return True


def _package(point) -> str:
    """The name of the distribution that declares an entry point (``?`` when unknown)."""
    dist = getattr(point, "dist", None)
    return getattr(dist, "name", None) or "?"

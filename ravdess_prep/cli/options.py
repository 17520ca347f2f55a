"""Command-line options generated from the settings' declarations, and read back.

Every option of a setting comes from its :class:`~ravdess_prep.settings.Setting` (flag, kind,
choices, help): the build's :class:`~ravdess_prep.config.Config` and
:class:`~ravdess_prep.build.executors.Run`, every registered embedder's settings and its files type
(third-party embedders included), and the classifier's :class:`TrainConfig`. No option is
named here. An option left out is None, so "given" means given on the command line, and the
value of a ``--config`` file fills only what was not.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from ..build import EXECUTORS
from ..build.executors import Run
from ..corpora import CORPORA
from ..embedders import EMBEDDERS, Embedder
from ..exceptions import ParameterError, RavdessPrepError
from ..settings import SWITCH, TEXTS, Setting, settings_of, values_from_file

#: A dest's settings: several embedders may declare one flag (``--hop``), each its own field.
Table = dict[str, list[tuple[type, Setting]]]


class UsageError(Exception):
    """Options that do not go together; reported like argparse's own errors (exit status 2)."""


class _GivenNone:
    """The value of an option given as its ``none_word`` (``--fc2-activation none``): None,
    but given."""

    def __repr__(self) -> str:
        return "None"


GIVEN_NONE = _GivenNone()


def _converter(spec: Setting):
    """argparse's ``type`` for a setting: text to its value, checked against its choices."""

    def convert(text: str):
        if spec.none_word is not None and text == spec.none_word:
            return GIVEN_NONE
        try:
            value = spec.parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"has to be {spec.kind.name}, not {text!r}") from None
        allowed = spec.allowed()
        if allowed is not None and value not in allowed:
            shown = ", ".join(spec.none_word if choice is None else str(choice) for choice in allowed)
            raise argparse.ArgumentTypeError(f"has to be one of {shown}, not {text!r}")
        return value

    convert.__name__ = spec.kind.name
    return convert


def add_settings(parser: argparse.ArgumentParser, owners: Iterable[type], *, groups: dict | None = None,
                 only: Sequence[str] | None = None, kinds: Sequence | None = None, table: Table | None = None) -> Table:
    """Add an option for every setting with a flag of the settings dataclasses ``owners``.

    Args:
        parser: The command's parser.
        owners: Settings dataclasses (a config, embedder classes, files types).
        groups: ``{group name: argument group}``, shared between calls.
        only: Names of the settings to add (None: all).
        kinds: Add only settings of these kinds (None: all).
        table: The table of options already added (a flag declared again is shared).

    Returns:
        ``{dest: [(owner, setting), ...]}`` of every option added so far.
    """
    groups = {} if groups is None else groups
    table = {} if table is None else table
    for owner in owners:
        for spec in settings_of(owner):
            if not spec.flags or (only is not None and spec.name not in only) or (kinds and spec.kind not in kinds):
                continue
            if (owner, spec) in table.get(spec.dest, ()):
                continue
            if spec.dest in table:  # declared by another owner already: one option serves both
                other = table[spec.dest][0][0]
                if _family(other) != _family(owner) or _family(owner) is None:
                    raise RavdessPrepError(f"{owner.__module__}.{owner.__name__} declares {spec.flag}, already an "
                                           f"option of {other.__module__}.{other.__name__}")
                table[spec.dest].append((owner, spec))
                continue
            table[spec.dest] = [(owner, spec)]
            group = groups.get(spec.group) or groups.setdefault(spec.group, parser.add_argument_group(spec.group or None))
            kwargs = {"dest": spec.dest, "default": None, "help": spec.described()}
            if spec.kind is SWITCH:
                kwargs.update(action="store_const", const=True)
            elif spec.kind is TEXTS:
                kwargs.update(action="append", metavar=spec.kind.metavar or "TEXT")
            else:
                allowed = spec.allowed()
                shown = ("{" + ",".join(spec.none_word if choice is None else str(choice) for choice in allowed) + "}"
                         if allowed is not None else spec.kind.metavar)
                kwargs.update(type=_converter(spec), **({"metavar": shown} if shown else {}))
            group.add_argument(*spec.flags, **kwargs)
    return table


def _family(owner: type) -> str | None:
    """Owners whose settings may share a flag: embedders with embedders (``--hop``), files types
    with files types; a configuration's flags are its own."""
    if isinstance(owner, type) and issubclass(owner, Embedder):
        return "embedder"
    if owner in (embedder.files_type for embedder in embedder_classes()):
        return "files"
    return None


def given_values(args: argparse.Namespace, owner: type, table: Table) -> dict:
    """``{field: value}`` of ``owner``'s settings given on the command line."""
    values = {}
    for dest, entries in table.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        for cls, spec in entries:
            if cls is owner:
                values[spec.name] = None if value is GIVEN_NONE else tuple(value) if spec.kind is TEXTS else value
    return values


def given_flags(args: argparse.Namespace, table: Table) -> list[str]:
    """The flags of every setting given on the command line."""
    return [entries[0][1].flag for dest, entries in table.items() if getattr(args, dest, None) is not None]


def not_of(args: argparse.Namespace, table: Table, owners: Sequence[type], *, what: str) -> None:
    """Raise :class:`UsageError` for an option given that belongs to none of ``owners`` (a
    setting of another embedder), naming it and ``what`` it is not a setting of."""
    for dest, entries in table.items():
        if getattr(args, dest, None) is not None and not any(cls in owners for cls, _ in entries):
            raise UsageError(f"{entries[0][1].flag} is not a setting of {what}")


def embedder_classes() -> list[type[Embedder]]:
    """Every registered embedder class that loads (the library's own, then those of entry
    points): a broken plug-in adds no options, and is named when used (see
    :func:`plugin_problems`)."""
    return list(EMBEDDERS.loadable().values())


def executor_classes() -> list[type]:
    """Every registered executor class that loads (a broken plug-in adds no options, and is
    named when used, as for embedders)."""
    return list(EXECUTORS.loadable().values())


def plugin_problems() -> str | None:
    """A paragraph for ``--help`` naming every embedder, corpus and executor that cannot be used
    (its package, entry point and error), or None when every one can."""
    problems = {**{f"--embedder {name}": text for name, text in EMBEDDERS.problems().items()},
                **{f"--corpus {name}": text for name, text in CORPORA.problems().items()},
                **{f"--runner {name}": text for name, text in EXECUTORS.problems().items()}}
    if not problems:
        return None
    return "not usable: " + "; ".join(f"{choice}: {text}" for choice, text in problems.items())


def files_types() -> list[type]:
    """The files type of every registered embedder that has one (each once)."""
    return list(dict.fromkeys(cls.files_type for cls in embedder_classes() if cls.files_type is not None))


def wording(owners: Iterable[type], first: Sequence[type] = ()) -> dict[str, str]:
    """``{setting name: flag}`` for messages: the settings of ``first`` win over the others'."""
    flags: dict[str, str] = {}
    for owner in list(first) + list(owners):
        for spec in settings_of(owner):
            if spec.flag:
                flags.setdefault(spec.name, spec.flag)
    return flags


# --- --config files --------------------------------------------------------------------


#: The keys of a ``--config`` file besides the configuration's: the sources, the model files.
INPUT_KEYS = ("source", "files")


def read_settings_file(path: str) -> dict:
    """A ``--config`` file: TOML, or JSON (a dataset's ``manifest.json``, whose ``config`` is
    taken). Its keys are :meth:`Config.to_dict`'s (the embedder a table ``[embedder]`` with
    its ``name``), :class:`Run`'s fields, ``source`` and a table ``[files]``.

    Raises:
        UsageError: The file is unreadable, or not TOML or JSON; the message names it.
    """
    where = f"--config {path}"
    try:
        text = Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"{where}: {error.strerror or error}") from None
    if path.endswith(".json"):
        try:
            values = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise UsageError(f"{where}: not JSON ({error})") from None
        if isinstance(values, Mapping) and isinstance(values.get("config"), Mapping) and "format" in values:
            return dict(values["config"])  # a dataset's manifest: its settings
        if not isinstance(values, Mapping):
            raise UsageError(f"{where}: not a JSON object")
        return dict(values)
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise UsageError(f"{where}: reading TOML needs Python 3.11 or newer") from None
    try:
        return tomllib.loads(text.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{where}: {error}") from None


def split_settings_file(values: Mapping, *, where: str) -> tuple[dict, dict, dict]:
    """``(config values, run values, inputs)`` of a ``--config`` file, each checked against its
    settings (an unknown key or a value of the wrong kind names the file and the key). The run
    values hold the executors' settings too, as given: they are checked against the chosen
    executor's (see :func:`run_settings`)."""
    run_names = {spec.name for spec in settings_of(Run)}
    executor_names = {spec.name for cls in executor_classes() for spec in settings_of(cls)}
    config, run, inputs = {}, {}, {}
    for key, value in values.items():
        target = inputs if key in INPUT_KEYS else run if key in run_names | executor_names else config
        target[key] = value
    run = {**run, **_checked(Run, {key: value for key, value in run.items() if key in run_names}, where=where)}
    if "source" in inputs:
        inputs["source"] = list(TEXTS.from_file(inputs["source"], where=f"{where}: key 'source'"))
    if "files" in inputs and not isinstance(inputs["files"], Mapping):
        raise ParameterError(f"{where}: key 'files' has to be a table of the model's files, not {inputs['files']!r}")
    return config, run, inputs


def run_settings(args: argparse.Namespace, from_file: Mapping, *, where: str) -> Run:
    """How a command runs a build: a ``--config`` file's run values (:func:`split_settings_file`),
    each replaced by its option when given; the chosen executor made with its own settings.

    Raises:
        UsageError: An option of another executor is given (``--beam-option`` without
            ``--runner beam``).
        ParameterError: An unknown executor (the message lists the known ones), a file's key of
            another executor, or a value out of its domain.
    """
    names = {spec.name for spec in settings_of(Run)}
    values = {**{key: value for key, value in from_file.items() if key in names}, **given_values(args, Run, args.table)}
    if getattr(args, "no_progress", False):
        values["progress"] = False
    name = values.get("runner", "local")
    cls = EXECUTORS.get_named(name)
    executors = executor_classes()
    not_of(args, {dest: entries for dest, entries in args.table.items()
                  if any(owner in executors for owner, _ in entries)}, [cls],
           what=f"the {name} executor (--runner {name})")
    of_file = {key: value for key, value in from_file.items() if key not in names}
    values["runner"] = cls(**{**values_from_file(cls, of_file, where=f"{where} (--runner {name})"),
                              **given_values(args, cls, args.table)})
    return Run(**values)


def _checked(cls, values: Mapping, *, where: str) -> dict:
    return values_from_file(cls, dict(values), where=where)


def files_from(values: Mapping, files_type: type | None, *, where: str) -> dict:
    """The ``[files]`` table of a ``--config`` file, checked against the embedder's files type."""
    if not values:
        return {}
    if files_type is None:
        raise ParameterError(f"{where}: the embedder has no model files, but [files] names {', '.join(values)}")
    return _checked(files_type, values, where=f"{where}: [files]")

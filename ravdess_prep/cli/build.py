"""``ravdess-prep build``: the whole pipeline, from a source to train/dev/test bundles.

Its options are every setting of the build (:class:`~ravdess_prep.config.Config`), of every
registered embedder and of its files, and how it runs (:class:`~ravdess_prep.build.executors.Run`, and
the options of every registered executor, :mod:`~ravdess_prep.build.executors`).
``--config FILE`` takes them from a TOML file or a dataset's ``manifest.json`` (its keys are
:meth:`Config.to_dict`'s); an option given on the command line replaces the file's value,
lists included. ``--from-manifest`` rebuilds a dataset exactly and takes no setting.
"""

from __future__ import annotations

import argparse

from .. import pipeline
from ..build.executors import Run
from ..config import Config
from ..dataset.manifest import Manifest
from ..embedders import embedder_class
from ..exceptions import ParameterError, option, render
from ..settings import values_from_file
from ..storage.guards import OUTPUT_RULE
from .info import add_source_options, database_source
from .options import (UsageError, add_settings, embedder_classes, executor_classes, files_from, files_types,
                      given_flags, given_values, not_of, plugin_problems, read_settings_file, run_settings,
                      split_settings_file, wording)

NAME = "build"
HELP = "the whole pipeline: source to train/dev/test bundles"
#: Clips handled by a policy that a build's summary names (the others are counted).
SHOWN = 5
RUN_SETTINGS = ("jobs", "runner")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ravdess-prep build`` (and of ``scripts/build_dataset.py``)."""
    table, groups = add_source_options(parser, required=False)
    parser.add_argument("--out", help="output folder for the bundles (required; " + OUTPUT_RULE + ")")
    parser.add_argument("--config", dest="config_file", metavar="FILE",
                        help="a TOML file of settings (keys: those of a manifest's config, the embedder's in "
                        "[embedder], model files in [files], source, jobs, ...) or a dataset's manifest.json; "
                        "options given here replace its values")
    parser.add_argument("--from-manifest", metavar="MANIFEST",
                        help="rebuild what a dataset's manifest.json describes (its settings, speakers, sources' and "
                        "model files' digests, all checked) from --source into --out")
    add_settings(parser, [Config], groups=groups, table=table)
    add_settings(parser, embedder_classes(), groups=groups, table=table)
    add_settings(parser, files_types(), groups=groups, table=table)
    add_settings(parser, [Run], only=RUN_SETTINGS, groups=groups, table=table)
    add_settings(parser, executor_classes(), groups=groups, table=table)
    groups["running"].add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.epilog = plugin_problems()
    parser.set_defaults(table=table, usage_errors=True, wording={**wording([Config, Run, *embedder_classes(),
                                                                           *files_types(), *executor_classes()]),
                                                                  "out": "--out"})


def run(args: argparse.Namespace) -> int:
    """Run a build from parsed options and print its summary."""
    if not args.out:
        raise UsageError("the following arguments are required: --out")
    if args.from_manifest:
        given = given_flags(args, _setting_table(args)) + (["--config"] if args.config_file else [])
        if given:
            raise UsageError(f"--from-manifest takes every setting from the manifest; drop {given[0]}")
        run = run_settings(args, {}, where="--from-manifest")
        result = pipeline.rebuild(args.from_manifest, out=args.out, source=args.source,
                                  files=_moved_files(args, args.from_manifest), run=run)
    else:
        database_source(args)
        config, run, source, files = settings(args)
        result = pipeline.build(config, out=args.out, source=source, files=files, run=run)
    print_summary(result)
    return 0


def _setting_table(args) -> dict:
    """The options of settings (every option but the sources, the cache, how it runs, and where
    the model's files are now)."""
    elsewhere = [*files_types(), *executor_classes()]
    return {dest: entries for dest, entries in args.table.items()
            if dest not in ("cache_dir", "jobs", "runner") and not any(owner in elsewhere for owner, _ in entries)}


def settings(args: argparse.Namespace) -> tuple[Config, Run, list | None, object | None]:
    """``(config, run, source, files)`` of a build: a ``--config`` file's values, each replaced
    by the option of the same setting when it is given.

    Raises:
        UsageError: The file is unreadable, or an option belongs to another embedder.
        ParameterError: A setting out of its domain, or settings that do not go together; the
            message names the file and key, or the option.
    """
    values, run_values, inputs = {}, {}, {}
    if args.config_file:
        values, run_values, inputs = split_settings_file(read_settings_file(args.config_file),
                                                         where=f"--config {args.config_file}")
    where = f"--config {args.config_file}"
    file_embedder = values.pop("embedder", None) or {}
    file_embedder = {"name": file_embedder} if isinstance(file_embedder, str) else file_embedder
    if not isinstance(file_embedder, dict) or (file_embedder and not isinstance(file_embedder.get("name"), str)):
        raise ParameterError(f"{where}: key 'embedder' has to be a name or a table with its name "
                             f"([embedder] name = \"vggish\"), not {file_embedder!r}")
    config_values = {**(values_from_file(Config, values, where=where) if values else {}),
                     **given_values(args, Config, args.table)}
    name = config_values.pop("embedder", None)
    if name is None and file_embedder:
        name = file_embedder["name"]
        try:
            embedder_class(name)
        except ParameterError as error:
            raise ParameterError(f"{where}: key 'embedder': {error.args[0]}") from None
    name = name or Config().embedder.name
    cls = embedder_class(name)
    not_of(args, {dest: entries for dest, entries in args.table.items()
                  if any(isinstance(owner, type) and owner in embedder_classes() for owner, _ in entries)},
           [cls], what=f"the {name} embedder")
    args.wording.update(wording([cls, *([cls.files_type] if cls.files_type else [])], first=[cls]))
    settings_of_file = {key: value for key, value in file_embedder.items() if key != "name"} \
        if file_embedder.get("name") == name else {}
    if args.config_file:  # the file has to be valid on its own: its errors name it and its keys
        Config.from_dict({**values, "embedder": file_embedder or {"name": name}}, where=where)
    embedder = cls(**{**values_from_file(cls, settings_of_file, where=f"{where}: [embedder]"),
                      **given_values(args, cls, args.table)})
    config = Config(**config_values, embedder=embedder)
    files = _files(args, cls, inputs.get("files", {}), where=where)
    return config, run_settings(args, run_values, where=where), args.source or inputs.get("source"), files


def _files(args, cls, from_file: dict, *, where: str):
    """Where the embedder's files are: the file's ``[files]``, replaced by the options given."""
    files_type = cls.files_type
    not_of(args, {dest: entries for dest, entries in args.table.items()
                  if any(owner in files_types() for owner, _ in entries)},
           [files_type] if files_type else [], what=f"the {cls.name} embedder's files")
    values = {**files_from(from_file, files_type, where=where),
              **(given_values(args, files_type, args.table) if files_type else {})}
    return files_type(**values) if values else None


def _moved_files(args, manifest_path: str):
    """Where a rebuilt dataset's files are now, from the options (None: where it recorded)."""
    name = Manifest.read(manifest_path).config.embedder.name
    return _files(args, embedder_class(name), {}, where="--from-manifest")


def print_summary(result) -> None:
    """What a build did, in a few lines."""
    manifest = result.manifest
    target = manifest.target
    print(f"wrote {result.out}")
    print(f"target length: {target.length_samples} samples ({target.length_seconds:.3f} s at "
          f"{target.sample_rate_hz} Hz), {manifest.examples_per_clip or 'no'} examples per clip, "
          f"embeddings {manifest['embeddings']}")
    chosen = manifest.embedder.get("resolved_from", {})
    if chosen:
        print(render("chosen for this build: " + ", ".join(
            f"{option(key, value)} -> {manifest.embedder['settings'][key]}" for key, value in chosen.items())))
    for name in ("train", "dev", "test"):
        split = manifest.splits[name]
        speakers = ",".join(f"{speaker:02d}" for speaker in split["speakers"])
        print(f"  {name:5s} {split['clips']:5d} clips  speakers {speakers or '-'}  labels {split['label_counts']}")
    handled = manifest.handled_by_policy
    print(f"clips embedded: {result.computed}, from the cache: {result.cached}; "
          f"handled by a policy: {len(handled)}; model loads: {result.model_loads}")
    for entry in handled[:SHOWN]:
        hint = f" ({option('channel', 'mean')} takes every channel)" if entry.get("active_channels") else ""
        print(render(f"  {entry['clip']}: {entry['policy']}{hint}"))
    if len(handled) > SHOWN:
        print(f"  and {len(handled) - SHOWN} more (manifest.json lists every one)")
    for reason, count in manifest.source.get("excluded", {}).items():
        print(f"files left out by the corpus: {count} ({reason})")
    if result.rejected:
        print(f"damaged cache entries found and computed again: {len(result.rejected)} "
              f"(first: {result.rejected[0][0]})")
    if not manifest.embedder.get("official", True):
        print(f"note: built with {manifest.config.embedder.name} model files that are not the official ones")
    print("seconds per stage: " + ", ".join(f"{stage} {value:.1f}" for stage, value in result.seconds.items()))

"""A dataset's ``manifest.json`` as a typed record: what was built, from what, with what.

:class:`Manifest` is what the write step produces and returns (nothing reads it back), what
``embed``, ``predict``, ``rebuild`` and the exports read, and what ``--config`` accepts (its
``config`` section is :meth:`ravdess_prep.config.Config.to_dict`). :meth:`Manifest.from_json`
checks what it reads: a missing key, an unknown embedder or setting, a setting that
contradicts the recorded shapes, or values that no longer have the SHA-256 the manifest records
of them (``manifest_sha256``: it was edited) is a
:class:`~ravdess_prep.exceptions.ManifestError` naming the manifest file. It also reads the
manifests of earlier versions.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any, Mapping


from ..audio.measure import Target
from ..config import Config, upgrade_config
from ..embedders import ModelFiles
from ..embedders.outputs import kind_named, pooled_shape
from ..exceptions import ManifestError, ParameterError
from ..params import MANIFEST, MANIFEST_DIGEST, MANIFEST_FORMAT, MANIFEST_FORMAT_PREFIX, SPLITS
from ..storage.digest import json_digest

#: The keys a manifest of this version must have.
REQUIRED = ("format", "config", "corpus", "embedder", "output", "target_length_samples", "sample_rate_hz", "splits")


@dataclasses.dataclass(frozen=True)
class Manifest:
    """What a dataset folder records of its build.

    Attributes:
        config: Every setting (the ``config`` section).
        corpus: The corpus's description (name, columns, label names, license, citation).
        embedder: The embedder's record: name, settings, what its values are, license and
            citation, facts (library versions), its files (``{"official", "files": {role:
            {"path", "sha256"}}}``) and, where the columns have names, ``feature_names``.
        output: What a bundle row is: ``{"kind", "axes", "shape", ...}`` (for a stack of
            layers, ``layers``: which).
        target: The length clips were padded to.
        examples_per_clip: Examples of a padded clip (None where clips are not padded).
        splits: Per split: clips, speakers, label counts, counts per facet.
        handled_by_policy: ``[{"clip", "policy"}]`` of the clips a policy acted on.
        source: The source folders, archives, files left out, and the clips' digest.
        versions: Library versions.
        bundle_sha256: ``{relative path: SHA-256}`` of every file a reader reads (the bundle
            files, and ``metadata.csv`` since version 0.2), taken when it was written (empty
            for a dataset written before they were recorded).
        format: The manifest's format.
        path: Where it was read from (None for one not read from a file).
    """

    config: Config
    corpus: dict
    embedder: dict
    output: dict
    target: Target
    examples_per_clip: int | None
    splits: dict
    handled_by_policy: tuple = ()
    source: dict = dataclasses.field(default_factory=dict)
    versions: dict = dataclasses.field(default_factory=dict)
    bundle_sha256: dict = dataclasses.field(default_factory=dict)
    format: str = MANIFEST_FORMAT
    path: Path | None = dataclasses.field(default=None, compare=False)

    # --- reading it like its JSON --------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        """The value of ``key`` in the manifest's JSON (``manifest["splits"]``)."""
        return self.json[key]

    def get(self, key: str, default=None) -> Any:
        return self.json.get(key, default)

    @functools.cached_property
    def json(self) -> dict:
        """The manifest as written to ``manifest.json``."""
        return self.to_json()

    def to_json(self) -> dict:
        """JSON-ready, the keys of ``manifest.json``."""
        pool = self.config.embedder.pool
        shape = tuple(self.output.get("row_shape", ()))
        axes = ", ".join(self.output.get("axes", ()))
        return {
            "format": self.format,
            "config": self.config.to_dict(),
            "corpus": self.corpus,
            "embedder": self.embedder,
            "output": self.output,
            "target_length_samples": self.target.length_samples,
            "target_length_seconds": self.target.length_seconds,
            "sample_rate_hz": self.target.sample_rate_hz,
            "longest_clip": self.target.longest,
            "examples_per_clip": self.examples_per_clip,
            "pool": pool,
            "embeddings": f"float32 ({axes}) = {shape}, {self.embedder.get('output', '')}"
                          + ("" if pool == "none" else f", pooled over examples ({pool})"),
            "order": "inventory order" if self.config.shuffle_seed is None
            else f"seeded shuffle within each split (shuffle_seed={self.config.shuffle_seed})",
            "splits": self.splits,
            "handled_by_policy": list(self.handled_by_policy),
            "source": self.source,
            "versions": self.versions,
            **({"bundle_sha256": self.bundle_sha256} if self.bundle_sha256 else {}),
        }

    # --- what it says ------------------------------------------------------------------

    @property
    def kind(self):
        """The :class:`~ravdess_prep.embedders.outputs.OutputKind` of a bundle row."""
        return kind_named(self.output["kind"])

    @property
    def row_shape(self) -> tuple[int, ...]:
        """The shape of one bundle row."""
        return tuple(self.output["row_shape"])

    def files_record(self) -> dict:
        """The embedder's files: ``{"official", "files": {role: {"path", "sha256"}}}``."""
        return {"official": self.embedder.get("official", False), "files": self.embedder.get("files", {})}

    # --- reading and writing -----------------------------------------------------------

    def write(self, folder: str | os.PathLike) -> Path:
        """Write ``manifest.json`` into ``folder`` (the build writes it atomically with the
        bundles; this is for a folder assembled by hand)."""
        path = Path(folder) / MANIFEST
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, dataset: str | os.PathLike) -> "Manifest":
        """The manifest of a dataset folder, or the manifest file itself.

        Raises:
            ManifestError: There is none, it is not JSON, or it is not a valid manifest; the
                message names the file.
        """
        path = Path(dataset)
        path = path if path.suffix == ".json" and not path.is_dir() else path / MANIFEST
        try:
            with open(path, encoding="utf-8") as stream:
                values = json.load(stream)
        except (FileNotFoundError, NotADirectoryError):
            raise ManifestError(f"{path}: no manifest; is {path.parent} a dataset written by ravdess-prep build?") \
                from None
        except IsADirectoryError:
            raise ManifestError(f"{path}: a folder, not a manifest file") from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ManifestError(f"{path}: not a readable manifest ({error})") from None
        return cls.from_json(values, path=path)

    @classmethod
    def from_json(cls, values: Mapping, *, path: str | os.PathLike | None = None) -> "Manifest":
        """A manifest from its JSON, checked (see the module docstring).

        Raises:
            ManifestError: Not a manifest of this library, a key missing, a setting unknown or
                of the wrong kind, or recorded shapes the settings contradict.
        """
        where = str(path) if path is not None else "the manifest"
        if not isinstance(values, Mapping) or not str(values.get("format", "")).startswith(MANIFEST_FORMAT_PREFIX):
            raise ManifestError(f"{where}: not a ravdess-prep manifest (no format {MANIFEST_FORMAT_PREFIX!r})")
        recorded = values.get(MANIFEST_DIGEST)
        content = {key: value for key, value in values.items() if key != MANIFEST_DIGEST}
        values = upgrade(content)
        missing = [key for key in REQUIRED if key not in values]
        if missing:
            raise ManifestError(f"{where}: the key {missing[0]!r} is missing ({len(missing)} missing)")
        for key in ("config", "corpus", "embedder", "output", "splits"):
            if not isinstance(values[key], Mapping):
                raise ManifestError(f"{where}: {key!r} has to be a mapping, not {values[key]!r}")
        try:
            config = Config.from_dict(values["config"], where=f"{where}: config")
            target = Target(_integer(values, "target_length_samples", where), _integer(values, "sample_rate_hz", where),
                            values.get("longest_clip"))
        except ManifestError:
            raise
        except ParameterError as error:
            raise ManifestError(error.args[0]) from None
        for split, record in values["splits"].items():
            clips = record.get("clips") if isinstance(record, Mapping) else None
            if split not in SPLITS or isinstance(clips, bool) or not isinstance(clips, int) or clips < 0:
                raise ManifestError(f"{where}: splits: {split!r}: {record!r} is not a split of {', '.join(SPLITS)} "
                                    "with its number of clips")
        for key, kind in (("handled_by_policy", list), ("source", Mapping), ("versions", Mapping),
                          ("bundle_sha256", Mapping)):
            if key in values and not isinstance(values[key], kind):
                raise ManifestError(f"{where}: {key!r} has to be a {'list' if kind is list else 'mapping'}, "
                                    f"not {values[key]!r}")
        examples = values.get("examples_per_clip")
        manifest = cls(config=config, corpus=dict(values["corpus"]), embedder=dict(values["embedder"]),
                       output=dict(values["output"]), target=target,
                       examples_per_clip=None if examples is None else _integer(values, "examples_per_clip", where),
                       splits=dict(values["splits"]), handled_by_policy=tuple(values.get("handled_by_policy", ())),
                       source=dict(values.get("source", {})), versions=dict(values.get("versions", {})),
                       bundle_sha256=dict(values.get("bundle_sha256", {})), format=str(values["format"]),
                       path=None if path is None else Path(path))
        manifest.check(where=where)
        if recorded is not None and recorded != _digest_or_none(content):
            raise ManifestError(f"{where}: edited since it was written (its values no longer have the SHA-256 it "
                                f"records as {MANIFEST_DIGEST}); build the dataset again, or, to build with changed "
                                "settings, give the edited file as a settings file (build --config)")
        return manifest

    def check(self, *, where: str = "the manifest") -> None:
        """Raise :class:`ManifestError` where the settings contradict what is recorded: the
        embedder's name, its model files, the kind of a row, the examples of a padded clip."""
        embedder = self.config.embedder
        if self.embedder.get("name") != embedder.name:
            raise ManifestError(f"{where}: the embedder is {self.embedder.get('name')!r} but the config's is "
                                f"{embedder.name!r}")
        files = self.embedder.get("files", {})
        if not isinstance(files, Mapping) or not all(
                isinstance(entry, Mapping) and isinstance(entry.get("path"), str) and isinstance(entry.get("sha256"), str)
                for entry in files.values()):
            raise ManifestError(f"{where}: embedder: 'files' has to give each model file's path and sha256, not "
                                f"{files!r}")
        if embedder.files_type is not None and not files:
            raise ManifestError(f"{where}: embedder: no model files are recorded, and the {embedder.name} embedder "
                                "reads some (was 'files' removed?)")
        shape = self.output.get("row_shape", [])
        if not isinstance(shape, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                                                  for n in shape):
            raise ManifestError(f"{where}: output: 'row_shape' has to be a list of positive integers, not {shape!r}")
        try:
            kind = self.kind
        except KeyError:
            raise ManifestError(f"{where}: output: the key 'kind' is missing") from None
        except ParameterError as error:
            raise ManifestError(f"{where}: output: {error.args[0]}") from None
        layers = getattr(embedder, "layers", None)
        if layers is not None and "layers" in self.output and list(layers) != self.output["layers"]:
            raise ManifestError(f"{where}: the bundles hold layers {self.output['layers']}, but the config's "
                                f"{embedder.name} settings give {list(layers)} (was a setting edited?)")
        if kind != embedder.row_kind():
            raise ManifestError(f"{where}: a row is a {kind.name}, but the config's {embedder.name} settings give a "
                                f"{embedder.row_kind().name}")
        if embedder.pads:
            expected = examples_per_clip(embedder, self.target)
            if self.examples_per_clip != expected:
                raise ManifestError(f"{where}: {self.examples_per_clip} examples per clip are recorded, but the "
                                    f"config's settings give {expected} for the target of "
                                    f"{self.target.length_samples} samples (was a setting edited?)")


def examples_per_clip(embedder, target: Target) -> int:
    """The examples of a clip padded to ``target``, by ``embedder`` (at its own rate)."""
    rate = embedder.sample_rate_hz or target.sample_rate_hz
    at_model_rate = (int(target.length_samples * embedder.sample_rate_hz / target.sample_rate_hz)
                     if embedder.sample_rate_hz else target.length_samples)
    return embedder.num_examples(at_model_rate, sample_rate_hz=rate)


def _digest_or_none(values: Mapping) -> str | None:
    try:
        return json_digest(values)
    except (TypeError, ValueError):  # NaN, or a value JSON does not hold
        return None


def _integer(values: Mapping, key: str, where: str) -> int:
    value = values[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ManifestError(f"{where}: {key!r} has to be a positive integer, not {value!r}")
    return value


def upgrade(values: Mapping) -> dict:
    """A manifest of any version in this version's keys (version 1 kept the model's files under
    ``model``, versions 1 and 2 the speakers built from under ``build`` and no ``output``)."""
    values = dict(values)
    if str(values.get("format")) == MANIFEST_FORMAT:
        return values
    if not isinstance(values.get("config", {}), Mapping):
        return values  # refused, naming the key, by Manifest.from_json
    config = upgrade_config(values.get("config", {}))
    build = values.get("build")
    speakers = build.get("speakers") if isinstance(build, Mapping) else None
    if speakers is not None and "speakers" not in config:
        config["speakers"] = speakers
    values["config"] = config
    if "embedder" not in values and isinstance(values.get("model"), Mapping):
        model = values.pop("model")
        values["embedder"] = {"name": "vggish", "official": model.get("official", False),
                              "files": {role: {"path": model[role], "sha256": model[f"{role}_sha256"]}
                                        for role in ("checkpoint", "pca_params") if role in model}}
    if "output" not in values and "embeddings" in values:
        values["output"] = _output_of_version_2(values)
    return values


def _output_of_version_2(values: Mapping) -> dict:
    """The ``output`` record of a version 1 or 2 manifest, from its config and counts (their
    embedders' shapes do not depend on their files)."""
    try:
        embedder = Config.from_dict(values["config"]).embedder
        examples = values.get("examples_per_clip") if embedder.pads else None
        shape = embedder.clip_shape(examples=examples, files=ModelFiles())
    except (ParameterError, KeyError, TypeError):
        return {}
    return output_record(embedder, shape)


def output_record(embedder, clip_shape: tuple[int, ...], facts: Mapping = {}) -> dict:
    """The manifest's ``output``: the kind of a bundle row, its axes and shape."""
    kind = embedder.row_kind()
    return {"kind": kind.name, "axes": list(kind.bundle_axes()),
            "row_shape": list(pooled_shape(embedder.clip_kind(), clip_shape, pool=embedder.pool)), **facts}

"""The package's structure: nothing happens at import time, no import cycle, no import of the
project's own modules hidden in a function, and model packages that stand alone.

The project's packages are found by rule: every top-level folder of the repository with an
``__init__.py`` (``ravdess_prep`` and the model packages beside it: ``vggish``, ``yamnet_model``,
``whisper_encoder`` and
any added later). A module that imports an optional heavy library at its top (the Beam
executor) is reached only through a registry, never imported by another module.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = tuple(sorted(path.parent.name for path in ROOT.glob("*/__init__.py")
                        if path.parent.name not in ("tests", "benchmarks", "scripts", "docs")))
HEAVY = ("tensorflow", "tf_slim", "keras", "pandas", "librosa", "resampy", "numba", "matplotlib", "apache_beam",
         "opensmile", "torch", "transformers", "safetensors", "pyarrow", "datasets", "dask", "distributed")


def _modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, *, annotations: bool = False) -> tuple[set[str], list[str], set[str]]:
    """The project modules ``name`` imports at module level (with ``annotations``, those
    imported for type annotations alone, under ``TYPE_CHECKING``, too), the project imports it
    makes inside functions (``file:line``), and the third-party top-level packages it imports
    at module level."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = _modules()
    top, hidden, outside = set(), [], set()

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        stem = node.module if node.level == 0 else ".".join(part for part in (base, node.module) if part)
        return [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem for alias in node.names]

    def visit(node, inside_function):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found = targets(child)
                project = [target for target in found if target.split(".")[0] in PACKAGES]
                if project and inside_function:
                    hidden.append(f"{path.relative_to(ROOT)}:{child.lineno}")
                elif project and (annotations or not _under_type_checking(child, tree)):
                    top.update(target for target in project if target in modules)
                elif not inside_function and not _under_type_checking(child, tree):
                    outside.update(target.split(".")[0] for target in found if target.split(".")[0] not in PACKAGES)
            visit(child, inside_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    tree = ast.parse(path.read_text())
    visit(tree, False)
    return top, hidden, outside


def _under_type_checking(node, tree) -> bool:
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING":
            if any(child is node for child in ast.walk(block)):
                return True
    return False


def _registered() -> set[str]:
    """The modules the library's registries name (imported when first used), and the modules of
    the executors' steps, which each executor's settings class names (imported when it runs)."""
    from ravdess_prep.build import EXECUTORS
    from ravdess_prep.corpora import CORPORA
    from ravdess_prep.embedders import EMBEDDERS

    return {reference.partition(":")[0] for registry in (EMBEDDERS, CORPORA, EXECUTORS)
            for reference in registry.builtin().values()} | {
        EXECUTORS[name].steps.partition(":")[0] for name in EXECUTORS.builtin()}


def _lazy() -> set[str]:
    """Modules that import a heavy library at their top."""
    return {name for name, path in _modules().items() if _imports(name, path)[2] & set(HEAVY)}


def test_the_packages_are_found_by_rule():
    assert {"ravdess_prep", "vggish", "yamnet_model", "whisper_encoder"} <= set(PACKAGES)


#: Top-level import names that well-known code owns: openai-whisper's ``whisper``; the YAMNet
#: code of tensorflow/models (``yamnet``, with ``params`` and ``features`` beside it), which the
#: official tutorial has users put on their path; and names many projects use for their own.
TAKEN = {"whisper", "yamnet", "params", "features", "audio", "models", "utils", "tests", "scripts", "benchmarks"}


def test_no_installed_package_takes_a_name_another_install_uses():
    """What the distribution installs (setup.cfg's package list) is exactly the packages found
    by rule, and none of them is named like one that another install may put on the path."""
    import configparser

    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    installed = {line.strip() for line in setup["options.packages.find"]["include"].split() if line.strip()}
    assert {name for name in installed if not name.endswith(".*")} == set(PACKAGES)
    assert installed == set(PACKAGES) | {f"{name}.*" for name in PACKAGES}
    assert not set(PACKAGES) & TAKEN


def test_importing_every_module_loads_no_heavy_library():
    eager = sorted(name for name in set(_modules()) - _lazy() if not name.endswith(".__main__"))  # __main__ runs
    assert len(eager) > 40
    code = (
        "import sys, os\n"
        "os.environ.clear()\n"  # a module reading the environment at import would see nothing: fine either way
        f"for name in {eager!r}: __import__(name)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_a_module_with_a_heavy_import_is_reached_only_through_a_registry():
    lazy = _lazy()
    assert "ravdess_prep.build.beam" in lazy
    assert lazy <= _registered(), lazy - _registered()
    importers = {name: sorted(_imports(name, path)[0] & lazy) for name, path in _modules().items()}
    assert {name: found for name, found in importers.items() if found} == {}


def test_the_import_graph_has_no_cycle():
    """Imports for type annotations alone count: a circle of them is a circle of the design."""
    graph = {name: _imports(name, path, annotations=True)[0] - {name} for name, path in _modules().items()}
    assert len(graph) > 40
    state: dict[str, str] = {}
    cycles = []

    def walk(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target):] + [target])
            elif target not in state:
                walk(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert cycles == []


def test_no_project_module_is_imported_inside_a_function():
    hidden = [place for name, path in _modules().items() for place in _imports(name, path)[1]]
    assert hidden == []


def test_the_model_packages_import_nothing_of_the_library():
    models = sorted(name for name in _modules() if name.split(".")[0] != "ravdess_prep")
    assert {name.split(".")[0] for name in models} == set(PACKAGES) - {"ravdess_prep"}
    for name in models:
        top, hidden, _ = _imports(name, _modules()[name])
        assert not [target for target in top if target.split(".")[0] != name.split(".")[0]], name
        assert hidden == [], name
    code = f"import sys\nfor name in {models!r}: __import__(name)\nprint(sorted(m for m in sys.modules if m.startswith('ravdess_prep')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_no_module_is_much_over_400_lines():
    long = {name: lines for name, path in _modules().items() if (lines := len(path.read_text().splitlines())) > 450}
    assert long == {}

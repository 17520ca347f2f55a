"""The package's structure: nothing happens at import time, no import cycle, no import of the
project's own modules hidden in a function, and model packages that stand alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ravdess_prep", "vggish")
HEAVY = ("tensorflow", "tf_slim", "keras", "pandas", "librosa", "resampy", "numba", "matplotlib", "apache_beam",
         "opensmile")


def _modules() -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path) -> tuple[set[str], list[str]]:
    """The project modules ``name`` imports at module level, and the project imports it makes
    inside functions (``file:line``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    modules = _modules()
    top, hidden = set(), []

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
                project = [target for target in targets(child) if target.split(".")[0] in PACKAGES]
                if project and inside_function:
                    hidden.append(f"{path.relative_to(ROOT)}:{child.lineno}")
                elif project and not _under_type_checking(child, tree):
                    top.update(target for target in project if target in modules)
            visit(child, inside_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    tree = ast.parse(path.read_text())
    visit(tree, False)
    return top, hidden


def _under_type_checking(node, tree) -> bool:
    for block in ast.walk(tree):
        if isinstance(block, ast.If) and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING":
            if any(child is node for child in ast.walk(block)):
                return True
    return False


def test_importing_every_module_loads_no_heavy_library():
    code = (
        "import sys, os\n"
        "os.environ.clear()\n"  # a module reading the environment at import would see nothing: fine either way
        f"for name in {sorted(_modules())!r}: __import__(name)\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_import_graph_has_no_cycle():
    graph = {name: _imports(name, path)[0] - {name} for name, path in _modules().items()}
    assert len(graph) > 30
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
    for name, path in _modules().items():
        if name.split(".")[0] != "ravdess_prep":
            top, hidden = _imports(name, path)
            assert not [target for target in top if target.startswith("ravdess_prep")], name
            assert hidden == [], name
    models = sorted(name for name in _modules() if name.split(".")[0] != "ravdess_prep")
    code = f"import sys\nfor name in {models!r}: __import__(name)\nprint(sorted(m for m in sys.modules if m.startswith('ravdess_prep')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

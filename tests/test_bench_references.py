"""The benchmark suites (bench/, run by `nox -s bench`, not by the tests) name vggbench's functions: each name they
import, and each attribute they read of a vggbench module they import, must exist. A module that loses a name
(a move between packages) fails here, in seconds, rather than in the main job."""

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _references(path: Path) -> list[tuple[str, str]]:
    """(module, name) for every `from vggbench... import name` and every `alias.name` read of a vggbench module
    imported as `alias` (`from vggbench.measure import speed` then `speed.make_step`)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("vggbench"):
            for alias in node.names:
                found.append((node.module, alias.name))
                submodule = f"{node.module}.{alias.name}"
                if _is_module(submodule):
                    modules[alias.asname or alias.name] = submodule
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            found.append((modules[node.value.id], node.attr))
    return found


def _exists(module: str, name: str) -> bool:
    """Whether `module` has `name`: an attribute, or a submodule it has not imported yet."""
    return hasattr(importlib.import_module(module), name) or _is_module(f"{module}.{name}")


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda path: path.name)
def test_every_vggbench_name_a_benchmark_uses_exists(path):
    missing = [f"{module}.{name}" for module, name in _references(path) if not _exists(module, name)]
    assert not missing, f"{path.name} uses names vggbench no longer has: {missing}"

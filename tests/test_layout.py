"""The shape of the house: modules import one way (no circle, and downwards by layer: import-linter's contract in
pyproject.toml), no module changes another at import time, and no function grows past a screen."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vggbench
from vggbench.cli._main import COMMANDS
from vggbench.engine.registry import KIND_MODULES
from vggbench.verdicts.designs import RULE_MODULES

PACKAGE = Path(vggbench.__file__).parent
LONGEST_FUNCTION = 60  # lines, signature and docstring included


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The vggbench modules that `path` imports anywhere in it (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from vggbench import claim`
    return found & modules


def _graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(paths)
    graph = {name: _imports(path, modules) - {name} for name, path in paths.items()}
    graph["vggbench.engine.registry"] |= {f"vggbench.engine.kinds.{name}" for name in KIND_MODULES}  # imported by name
    graph["vggbench.cli._main"] |= {f"vggbench.cli.commands.{name}" for name in COMMANDS}  # so are the commands
    graph["vggbench.verdicts.designs"] |= {
        f"vggbench.verdicts.stopping.{module}" for module, _ in RULE_MODULES.values()
    }
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle of `graph`, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for neighbour in sorted(graph.get(node, ())):
            if state.get(neighbour) == "open":
                return [*path[path.index(neighbour) :], neighbour] if neighbour in path else [node, neighbour]
            if neighbour not in state and (found := visit(neighbour, [*path, neighbour])):
                return found
        state[node] = "closed"
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start, [start])):
            return found
    return None


def test_the_import_graph_has_no_circle():
    graph = _graph()
    assert graph["vggbench.engine.study"] >= {
        "vggbench.engine.registry",
        "vggbench.engine.rundir",
        "vggbench.engine.executors",
    }
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_circle_finder_finds_a_circle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_no_function_is_longer_than_a_screen():
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LONGEST_FUNCTION:
                    long.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name} ({length} lines)")
    assert not long, long


def test_no_module_parses_layer_names():
    # Blocks and head are found through the model (VGG.blocks, VGG.head), not by their names.
    for path in PACKAGE.rglob("*.py"):
        if path != PACKAGE / "models" / "vgg.py":
            assert "vgg_block_" not in path.read_text(), path


# Run in a fresh interpreter: imports `modules` one by one, and prints each module an import changed that was
# there before it (a dict, list or set at its top level that grew or shrank: something registered into it).
_REGISTRATION_PROBE = """
import importlib, sys

def containers():
    return {
        (module, name): repr(sorted(map(repr, value)))
        for module, loaded in list(sys.modules.items()) if module.split(".")[0] in PACKAGES
        for name, value in list(vars(loaded).items()) if isinstance(value, (dict, list, set)) and name != "__all__"
    }

for module in MODULES:
    before = containers()
    importlib.import_module(module)
    after = containers()
    changed = sorted(f"{key[0]}.{key[1]}" for key in before if after.get(key) != before[key])
    if changed:
        print(module, "changed", ", ".join(changed))
"""


def _registrations(modules: list[str], packages: set[str], path: Path | None = None) -> str:
    code = f"PACKAGES = {packages!r}\nMODULES = {modules!r}\n" + _REGISTRATION_PROBE
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(path or ""), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.slow
def test_no_module_registers_into_another_at_import_time():
    # Lowest layer first, so that a module that registers into a lower one imports it only after it was seen.
    layers = ["util", "stats", "models", "measure", "verdicts", "engine", "reporting"]
    layer = {
        name: next((at for at, part in enumerate(layers) if name.startswith(f"vggbench.{part}.")), 99)
        for name in _graph()
        if name != "vggbench.__main__"  # which runs the command line
    }
    assert _registrations(sorted(layer, key=lambda name: (layer[name], name)), {"vggbench"}) == ""


def test_the_registration_probe_finds_a_registration(tmp_path):
    (tmp_path / "lower.py").write_text("HOOKS = []\nNAMES = {}\n")
    (tmp_path / "upper.py").write_text("import lower\nlower.HOOKS.append(len)\nOWN = {}\nOWN['x'] = 1\n")
    assert _registrations(["lower", "upper"], {"lower", "upper"}, tmp_path) == "upper changed lower.HOOKS\n"

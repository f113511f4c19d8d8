"""The shape of the house: modules import one way (no circle), and no function grows past a screen."""

import ast
from pathlib import Path

import vggbench
from vggbench.engine.registry import KIND_MODULES

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

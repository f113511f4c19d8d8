"""The front door: the README's shape, its quickstart run as written, and the documentation's generated reference."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from vggbench.measure import data

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(heading: str) -> str:
    """The README's text under `## heading`, up to the next such heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"the README has no section {heading!r}"
    return match.group(1)


def _quickstart() -> list[str]:
    """The commands of the README's quickstart: the lines of its first bash block."""
    block = re.search(r"```bash\n(.*?)```", _section("Quickstart"), re.S)
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_is_short_and_starts_with_the_two_commands():
    assert len(README.splitlines()) <= 250
    first_block = re.search(r"```bash\n(.*?)```", README, re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["nox -s bench", "nox -s tests"]
    assert README.index("nox -s bench") < README.index("## ")  # before any section


def test_readme_links_resolve_and_name_every_docs_page():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    assert links and [link for link in links if not (ROOT / link).is_file()] == []
    pages = {f"docs/{path.relative_to(ROOT / 'docs').as_posix()}" for path in (ROOT / "docs").glob("*.md")}
    assert pages <= set(links)


def test_every_finding_quotes_a_published_table():
    findings = re.findall(r"^- (.*?)(?=^- |\Z)", _section("Findings so far"), re.M | re.S)
    assert findings
    for finding in findings:
        quoted = re.findall(r"`(results/[^`]+)`", finding)
        assert quoted and all((ROOT / path).is_file() for path in quoted), finding


def test_quickstart_has_five_commands_at_the_smallest_settings():
    commands = _quickstart()
    assert len(commands) == 5
    assert sum(command.startswith("vggbench ") for command in commands) == 4
    for command in commands[:3]:  # one VGG, the two variants, 32 px: the smallest the presets allow
        assert "--arch vgg11 --variant stack single --resolution 32" in command
    assert "examples/smallest.toml" in commands[3] and (ROOT / "examples" / "smallest.toml").is_file()


def _hook():
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "docs" / "_hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_config_key_reference_lists_every_key_once():
    from vggbench.engine.config import known_keys

    page = _hook().config_keys_page()
    listed = re.findall(r"^\| `([a-z_0-9]+)` \|", page, re.M)
    assert sorted(listed) == sorted(known_keys())
    row = next(line for line in page.splitlines() if line.startswith("| `equivalence_margin` |"))
    assert "`0.01`" in row  # its default, as the knob declares it


def test_the_command_reference_holds_every_command_help():
    from vggbench.cli._main import COMMANDS

    page = _hook().commands_page()
    for name in ("static", "speed", "train", "erf", "density", *COMMANDS):
        assert f"## `vggbench {name}`" in page and f"usage: vggbench {name}" in page
    assert "--train-limit" in page and "--dry-run" in page


@pytest.mark.slow
def test_quickstart_runs_as_written(tmp_path, request):
    """Each quickstart command, run in a fresh folder with the repository's examples, ends well and leaves what
    the README says; the real data set where it is installed, else a synthetic one of its shape."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    real = data.files_in(data.DEBIAN_ROOT) is not None  # the synthetic set is written only where it is needed
    root = data.DEBIAN_ROOT if real else request.getfixturevalue("synthetic_root")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VGGBENCH_DATA": str(root)}
    for command in _quickstart():
        words = shlex.split(command)
        program = [sys.executable, "-m", "vggbench"] if words[0] == "vggbench" else [sys.executable]
        assert words[0] in ("vggbench", "python")
        result = subprocess.run([*program, *words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"{command}\n{result.stderr[-2000:]}"
    run = tmp_path / "runs" / "smallest"
    assert {"claim.md", "claim.csv", "report.html"} <= {path.name for path in run.iterdir()}
    claim = pd.read_csv(run / "claim.csv")
    assert {"fewer parameters", "higher accuracy", "faster"} <= set(claim["claim"])
    assert "stack" in result.stdout and "single" in result.stdout  # the claim printed by the last command


def test_the_api_reference_documents_every_public_name():
    import vggbench

    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^::: [\w.]*\.(\w+)$", page, re.M))
    api_names = {name for name in vggbench.__all__ if vggbench._ON_FIRST_USE.get(name) == "vggbench.api"}
    assert "::: vggbench.api" in page  # the API module whole: its names need no line of their own
    assert set(vggbench.__all__) - api_names <= documented

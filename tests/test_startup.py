"""The command line answers --help without importing torch, nor the other slow libraries: they load
where a measurement, a table or a figure needs them."""

import argparse
import subprocess
import sys

import pytest

import vggbench
from vggbench.cli import make_parser

SLOW = ("torch", "torchvision", "fvcore", "numpy", "pandas", "scipy", "matplotlib")

# `vggbench ARGS` through vggbench.cli.main, in a fresh process; then, on stderr's last line, the slow
# libraries it imported.
SCRIPT = f"""
import sys

from vggbench.cli import main

try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
print("imported:", *sorted(name for name in {SLOW!r} if name in sys.modules), file=sys.stderr)
sys.exit(status)
"""


def _commands() -> list[str]:
    (commands,) = (action for action in make_parser()._actions if isinstance(action, argparse._SubParsersAction))
    return list(commands.choices)


def test_every_command_is_checked():
    assert set(_commands()) >= {"static", "speed", "train", "erf", "density", "run", "claim", "report", "power"}


@pytest.mark.parametrize("command", [[], *([name] for name in _commands())], ids=lambda argv: " ".join(argv) or "-")
def test_help_imports_no_slow_library(command):
    result = subprocess.run([sys.executable, "-c", SCRIPT, *command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: vggbench {' '.join(command)}".rstrip())
    assert result.stderr.splitlines()[-1] == "imported:"


def test_the_package_names_load_on_first_use():
    for name in vggbench.__all__:
        assert getattr(vggbench, name) is not None
    assert set(vggbench.__all__) <= set(dir(vggbench))
    assert vggbench.build("vgg11", ratio=64).__class__ is vggbench.VGG
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        vggbench.nothing  # noqa: B018

"""The `vggbench` command line: a thin layer over the study engine.

Each measurement kind's command (`static`, `speed`, `train`, `erf`, ...) is a one-kind study, and its options
are derived from the knobs of the kind's setup (defaults, allowed values and help included; see
vggbench.util.knobs): vggbench.cli._kinds. `run` runs a whole study into a run directory; `claim`, `report`,
`power`, `design` and `publish` work on one, `compare` on two: a module each in vggbench.cli.commands, listed
in vggbench.cli._main.COMMANDS. Commands parse, call and print; what they compute lives in the layers below.
"""

from vggbench.cli._main import BAD_INPUT, BUG, main, make_parser

__all__ = ["BAD_INPUT", "BUG", "main", "make_parser"]

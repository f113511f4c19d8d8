"""The design of a study's accuracy comparisons, set in its config before the run: a fixed number of seeds per
arm, or rounds of seeds until each comparison is decided (the statistics: vggbench.verdicts.sequential).

The config's `design` names a stopping rule: a module of vggbench/verdicts/stopping/ whose RULE makes it from the
design's keys (`RULE.of(design)`) and has what the engine and the claim ask of it (`StoppingRule`). A new rule is
its module and one line in RULE_MODULES.
"""

from __future__ import annotations

import importlib
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Protocol

from vggbench.util.knobs import Setup, knob, refuse_ignored
from vggbench.util.validate import InputError
from vggbench.verdicts.spending import OBRIEN_FLEMING, POCOCK

FIXED, GROUP_SEQUENTIAL = "fixed", "group-sequential"
MAX_SEEDS = 1000  # seeds per arm a design may plan: beyond, a typo rather than a study
MAX_REPLAYS = 100_000  # replays per scenario of a design check (design_check): enough for a share to +-0.3%

# The stopping rules, by the name the config's `design` gives them: (the module in vggbench/verdicts/stopping/ that
# holds it, what it does in a few words: the `design` key's help). A rule is imported when a design uses it, not
# here: rules compute with numpy and scipy, which `vggbench --help` does not wait for.
RULE_MODULES = {
    FIXED: ("fixed", "one look"),
    GROUP_SEQUENTIAL: ("group_sequential", "a look after each round"),
}


def rule_class(name: str):
    """The stopping rule (its class) that the design `name` names."""
    return importlib.import_module(f"vggbench.verdicts.stopping.{RULE_MODULES[name][0]}").RULE


class StoppingRule(Protocol):
    """What the engine and the claim ask of a design's rule. Its class says whether it takes seeds in rounds
    (SEQUENTIAL) and which design keys it reads besides max_seeds (KNOBS), and makes it (`of(design)`)."""

    looks: tuple[int, ...]  # seeds per arm at each look, increasing: a round of seeds before each
    alpha: float

    def level(self, look: int, alpha: float, sides: int = 2) -> float:
        """The nominal level at look `look` (1-based) of a hypothesis holding `alpha` (two-sided, or one TOST side)."""

    def decide(self, look: int, samples: Mapping[Hashable, tuple], margin: float, earlier=None) -> dict:
        """A vggbench.verdicts.sequential.Decision per comparison at look `look`: `samples` maps each to (variant
        values, baseline values) of the look's seeds; `earlier` is the previous look's answer."""

    @property
    def words(self) -> str:
        """How a note names the rule beside a look (`obrien-fleming spending`)."""

    def describe(self) -> str:
        """claim.md's sentence on how the accuracy rows were decided ('' where the fixed verdicts decide them)."""


@dataclass(frozen=True)
class Design(Setup):
    """`fixed`: one look at max_seeds per arm; `group-sequential`: a look after every round of
    seeds_per_round seeds per arm (and at max_seeds), alpha spent across the looks by `spending`."""

    GROUP = "design"

    design: str = knob(
        FIXED,
        "; ".join(f"{name}: {summary}" for name, (_, summary) in RULE_MODULES.items()),
        choices=tuple(RULE_MODULES),
    )
    seeds_per_round: int = knob(
        4, "seeds per arm added before each look (at least 2: a Welch test)", minimum=2, maximum=MAX_SEEDS
    )
    max_seeds: int = knob(24, "seeds per arm at the last look (at least 2)", minimum=2, maximum=MAX_SEEDS)
    spending: str = knob(
        OBRIEN_FLEMING,
        "the Lan-DeMets alpha-spending function: obrien-fleming spends little early, pocock evenly",
        choices=(OBRIEN_FLEMING, POCOCK),
    )

    @property
    def sequential(self) -> bool:
        """Whether the design takes seeds in rounds, a look after each."""
        return rule_class(self.design).SEQUENTIAL

    @property
    def rule(self) -> StoppingRule:
        """The stopping rule the design names, made from its keys."""
        return rule_class(self.design).of(self)

    def __post_init__(self) -> None:
        super().__post_init__()
        reads = rule_class(self.design).KNOBS
        for name in ("seeds_per_round", "spending"):
            by = " or ".join(f"design={design!r}" for design in RULE_MODULES if name in rule_class(design).KNOBS)
            refuse_ignored(self, name, name in reads, "design", f"with {by}")
        if "seeds_per_round" in reads and self.seeds_per_round > self.max_seeds:
            raise InputError(
                f"seeds_per_round={self.seeds_per_round} is not allowed: at most max_seeds={self.max_seeds}"
            )

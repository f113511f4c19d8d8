"""The design of a study's accuracy comparisons, set in its config before the run: a fixed number of seeds per
arm, or rounds of seeds until each comparison is decided (the statistics: vggbench.verdicts.sequential)."""

from __future__ import annotations

from dataclasses import dataclass

from vggbench.util.knobs import Setup, knob, refuse_ignored
from vggbench.util.validate import InputError

FIXED, GROUP_SEQUENTIAL = "fixed", "group-sequential"
OBRIEN_FLEMING, POCOCK = "obrien-fleming", "pocock"
MAX_SEEDS = 1000  # seeds per arm a design may plan: beyond, a typo rather than a study
MAX_REPLAYS = 100_000  # replays per scenario of a design check (design_check): enough for a share to +-0.3%


@dataclass(frozen=True)
class Design(Setup):
    """`fixed`: one look at max_seeds per arm; `group-sequential`: a look after every round of
    seeds_per_round seeds per arm (and at max_seeds), alpha spent across the looks by `spending`."""

    GROUP = "design"

    design: str = knob(
        FIXED, "fixed: one look; group-sequential: a look after each round", choices=(FIXED, GROUP_SEQUENTIAL)
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
        return self.design == GROUP_SEQUENTIAL

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("seeds_per_round", "spending"):
            refuse_ignored(self, name, self.sequential, "design", f"with design={GROUP_SEQUENTIAL!r}")
        if self.design == GROUP_SEQUENTIAL and self.seeds_per_round > self.max_seeds:
            raise InputError(
                f"seeds_per_round={self.seeds_per_round} is not allowed: at most max_seeds={self.max_seeds}"
            )

"""The group-sequential design: a look after every round of seeds_per_round seeds per arm (and at max_seeds),
alpha spent across the looks by `spending` (the statistics: vggbench.verdicts.sequential)."""

from __future__ import annotations

from dataclasses import dataclass

from vggbench.verdicts.sequential import Plan


@dataclass(frozen=True)
class GroupSequential(Plan):
    KNOBS = ("seeds_per_round", "spending")

    @classmethod
    def of(cls, design) -> GroupSequential:
        rounds = list(range(design.seeds_per_round, design.max_seeds + 1, design.seeds_per_round))
        return cls(tuple(rounds + ([design.max_seeds] if rounds[-1] != design.max_seeds else [])), design.spending)

    def describe(self) -> str:
        return (
            f"The accuracy comparisons follow a group-sequential design fixed before the run: a look after every "
            f"{self.looks[0]} seeds per arm, up to {self.looks[-1]}, alpha spent across the looks by "
            f"Lan-DeMets {self.spending} spending, Holm within each look, a share a rejection passes on retesting the "
            "earlier looks too (Maurer & Bretz 2013); a comparison stops taking seeds at the look that decides it, "
            "and its primary row is judged there, on the seeds it had: `look` of `looks`; the level it was tested at,"
            " as a nominal p-value: the look's boundary for the share of alpha its Holm step held, or an earlier "
            "look's where that look's p-value crossed it when retested (`nominal_level`, for TOST "
            "`equivalence_level`; a comparison not decided holds the share of the step where the look's step-down "
            "stopped); and the note, which names the statistic (p or TOST p), the boundary it crossed, the look of "
            "that statistic and the Holm step. Its difference and interval are those of a fixed sample of that size: "
            "where a design stops early they lean away from zero, so the verdict is the design's and the size is "
            "rough."
        )


RULE = GroupSequential

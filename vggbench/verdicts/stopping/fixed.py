"""The fixed design: one look, at max_seeds per arm (every seed of the study), held to the whole alpha. Its
verdicts are the fixed rules' (Holm over the family's p-values): no look is judged in rounds."""

from __future__ import annotations

from dataclasses import dataclass

from vggbench.verdicts.sequential import Plan


@dataclass(frozen=True)
class Fixed(Plan):
    SEQUENTIAL = False

    @classmethod
    def of(cls, design) -> Fixed:
        return cls((design.max_seeds,), design.spending)


RULE = Fixed

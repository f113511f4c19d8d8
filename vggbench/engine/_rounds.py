"""A study in rounds of seeds under a sequential design (verdicts.designs; the statistics: verdicts.sequential).

Round r trains, for every model still in an accuracy comparison that no look has decided, the seeds of the
design's r-th look (the study's seeds in order: those past the previous look's count, up to this one's);
every other trial belongs to the first round. Before each later round the design looks at the accuracies so
far, by the same replay the claim makes, so a resumed run takes up where it stopped and the claim judges each
comparison at the look that stopped it.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from vggbench.models.schema import identity
from vggbench.verdicts.sequential import CONTINUE, Plan
from vggbench.verdicts.train import comparison_key, final_runs, sequential_decisions
from vggbench.verdicts.vocabulary import STACK, contrasts

if TYPE_CHECKING:
    import pandas as pd

    from vggbench.engine.config import StudyConfig
    from vggbench.engine.contract import Trial


def looks(config: StudyConfig) -> tuple[int, ...]:
    """Seeds per arm at each of the design's looks: one round per look."""
    return Plan.of(config.design).looks


def round_of(trial: Trial, config: StudyConfig) -> int:
    """The round (1-based) a trial belongs to: its seed's look for a training trial, else the first."""
    if trial.kind != "train":
        return 1
    return bisect.bisect_right(looks(config), config.trained_seeds.index(trial.setup.seed)) + 1


def undecided_models(train: pd.DataFrame, config: StudyConfig) -> set[tuple]:
    """The models (group identity items, then the variant) in an accuracy comparison that the looks so far left open."""
    if train.empty or "test_acc" not in train or train["test_acc"].isna().all():
        return set()
    decisions = sequential_decisions(train, config.design, config.equivalence_margin)
    models = set()
    for base, _, rival, _, _ in contrasts(final_runs(train)):
        decision = decisions.get(comparison_key(base, rival))
        if decision is None or decision.verdict == CONTINUE:
            models |= {(*sorted(base.items()), variant) for variant in (STACK, rival)}
    return models


def still_needed(trial: Trial, models: set[tuple]) -> bool:
    """Whether `trial` is not a training trial, or trains one of `models` (from `undecided_models`)."""
    if trial.kind != "train":
        return True
    described = identity(trial.spec)
    return any(
        variant == described["variant"] and all(described.get(key) == value for key, value in base)
        for *base, variant in models
    )

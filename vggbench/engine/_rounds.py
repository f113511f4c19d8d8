"""A study in rounds of seeds under a sequential design (verdicts.designs; the statistics: verdicts.sequential).

Round r trains, for every model still in an accuracy comparison that no look has decided, the seeds of the
design's r-th look (the study's seeds in order: those past the previous look's count, up to this one's);
every other trial belongs to the first round. After each round the engine judges the looks the rows reach,
once, and stores the decisions in the run directory (decisions.json): the next round trains what they leave
open, and the claim reads them rather than judging again.

The decisions are a function of the rows: a resumed run judges its rows again, and where that does not give
the looks stored (a trial redone since, with other numbers), the file is rewritten from the rows and the run
says so. The rows are what was measured; the file only keeps what they decided.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from vggbench.engine.kinds.train import recipe_of
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import DECISIONS
from vggbench.models.schema import RECIPE, SCHEDULE, identity
from vggbench.util.validate import InputError
from vggbench.verdicts.decisions import decisions_record, unlike
from vggbench.verdicts.sequential import CONTINUE
from vggbench.verdicts.train import comparison_key, decided_looks, final_runs
from vggbench.verdicts.vocabulary import STACK, contrasts

if TYPE_CHECKING:
    import pandas as pd

    from vggbench.engine.config import StudyConfig
    from vggbench.engine.contract import Trial
    from vggbench.engine.rundir import RunDir


def looks(config: StudyConfig) -> tuple[int, ...]:
    """Seeds per arm at each of the design's looks: one round per look."""
    return config.design.rule.looks


def round_of(trial: Trial, config: StudyConfig) -> int:
    """The round (1-based) a trial belongs to: its seed's look for a training trial, else the first."""
    if trial.kind != "train":
        return 1
    return bisect.bisect_right(looks(config), config.trained_seeds.index(trial.setup.seed)) + 1


def judge(directory: RunDir, plan: list[Trial], config: StudyConfig, report) -> set[tuple]:
    """Judge the looks the training rows so far reach, store the decisions, and give the models they leave open
    (`undecided_models`). Where the stored looks are not those the rows give, the file is rewritten and
    `report` says why (another configuration, an older format, or other rows)."""
    train = KINDS["train"].make_tables(directory.rows([trial for trial in plan if trial.kind == "train"]), config)
    train = train["train"]
    if train.empty or "test_acc" not in train or train["test_acc"].isna().all():
        return set()
    judged = decided_looks(train, config.design, config.equivalence_margin)
    record = decisions_record(judged, config.design, config.equivalence_margin)
    try:
        stored = directory.decisions()
    except InputError:  # unreadable: judged again, as one that differs
        stored = False
    if stored is not None and (why := unlike(record, stored)):
        report(f"{directory.path(DECISIONS)}: {why}: rewritten")
    directory.write_decisions(record)
    return undecided_models(train, judged[-1] if judged else {})


def undecided_models(train: pd.DataFrame, decisions: dict) -> set[tuple]:
    """The models (group identity items, then the variant) in an accuracy comparison that `decisions` (the latest
    look's) leave open, or that no look judged yet."""
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
    # A budget's comparisons are its own, and a recipe's (tuned or shared) too.
    described = {**identity(trial.spec), SCHEDULE: trial.setup.epochs, RECIPE: recipe_of(trial)}
    return any(
        variant == described["variant"] and all(described.get(key) == value for key, value in base)
        for *base, variant in models
    )

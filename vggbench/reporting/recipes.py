"""The recipes a run's search chose (tuning.json in the run directory), as claim.md and report.html tell them: per
arm the recipe and its validation objective, and a sentence on the search that chose it.

tuning.json, as vggbench.engine.tuning.tuning_record writes it:
    {"format": 1,
     "search": {"sampler": ..., "sampler_seed": ..., "candidates": per arm, "per_round": ..., "seeds": [...],
                "space": {KEY: {"log" | "uniform": [low, high]} or {"choices": [...]}, ...}, "objective": ...,
                "pruner": a rule or "none"},
     "arms": {ARM NAME: {MODEL_KEYS..., "schedule_epochs": ..., "candidate": ..., "recipe": {KEY: value, ...},
                         "objective": ...}, ...}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from vggbench.util.csvio import read_json
from vggbench.util.validate import InputError
from vggbench.verdicts.vocabulary import SHARED_RECIPE

if TYPE_CHECKING:
    from vggbench.engine.rundir import RunDir

TUNING_JSON = "tuning.json"
# The columns that name an arm in the recipes' table (its other identity columns follow from these).
SHOWN_KEYS = ("arch", "ratio", "resolution", "batch_norm", "variant", "schedule_epochs")
SHARED_SENTENCE = (
    f"The run also trained the config's shared recipe: those comparisons stand beside the chosen recipes' as "
    f"sensitivity rows (analysis `{SHARED_RECIPE}`), with no verdict."
)


def read(directory: RunDir) -> dict | None:
    """What the run's tuning.json holds; None where the run searched no recipes."""
    if not directory.has(TUNING_JSON):
        return None
    record = read_json(directory.own(TUNING_JSON), follow=False)
    if not isinstance(record, dict) or not isinstance(record.get("arms", {}), dict):
        raise InputError(f"{directory.path(TUNING_JSON)} is not a recipe search's record: no list of arms")
    return record


def chosen_table(record: dict) -> pd.DataFrame:
    """Per arm: its identity, the chosen candidate, each recipe value and its validation objective."""
    rows = []
    for arm in record.get("arms", {}).values():
        named = {key: arm[key] for key in SHOWN_KEYS if key in arm}
        recipe = arm.get("recipe", {})
        rows.append({**named, "candidate": arm.get("candidate"), **recipe, "objective": arm.get("objective")})
    return pd.DataFrame(rows)


def _words(value) -> str:
    """A setting of the search in words: a list (choices, or a range's ends) as [a, b], a mapping's fields as
    'name value'."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    if isinstance(value, dict):
        return ", ".join(f"{key} {_words(inner)}" for key, inner in value.items())
    return str(value)


def _seeds(seeds) -> str:
    """'seed 1000', 'seeds 100 and 101', or 'seeds not recorded' where the record holds no list."""
    if not isinstance(seeds, list) or not seeds:
        return "seeds not recorded"
    named = [str(seed) for seed in seeds]
    return f"seed {named[0]}" if len(named) == 1 else f"seeds {', '.join(named[:-1])} and {named[-1]}"


def search_sentence(record: dict) -> str:
    """How the recipes were chosen: the sampler and its seed, the candidates per arm and seeds per candidate, the
    space and the pruning rule, on validation images only."""
    search = record.get("search", {})
    space = "; ".join(f"{key} {_words(value)}" for key, value in search.get("space", {}).items()) or "not recorded"
    pruning = search.get("pruner") if search.get("pruner") != "none" else None
    pruned = f"pruning: {_words(pruning)}" if pruning else "no candidate pruned early"
    sampler = (
        f"Optuna's {search.get('sampler', 'unrecorded sampler')} (seed {search.get('sampler_seed', 'unrecorded')})"
    )
    return (
        f"Every arm's recipe was chosen by the same search, on validation images only (the verdicts are on the test "
        f"set): {sampler} tried {search.get('candidates', 'an unrecorded number of')} candidates per arm, each "
        f"trained on {_seeds(search.get('seeds'))}, which no verdict uses, over {space}; {pruned}. A candidate's "
        "objective is the mean over its seeds of validation accuracy at the last epoch it reached; each arm's chosen "
        "candidate is its best."
    )


def shared_beside(claims: pd.DataFrame) -> bool:
    """Whether the claim holds rows at the shared recipe beside the chosen recipes' (the run kept both)."""
    return "analysis" in claims and bool(claims["analysis"].eq(SHARED_RECIPE).any())

"""Budgets as an axis: `epochs` as a list trains each budget as its own whole schedule in one run, and the claim
compares the stack's lead between budgets (budget x variant) as it compares it with and without batch norm."""

import dataclasses
import hashlib
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.kinds.train import KIND as TRAIN
from vggbench.engine.rundir import spec_key
from vggbench.models.arch import spec_to_dict
from vggbench.reporting import claim
from vggbench.util.validate import InputError

BUDGET_ROW = "budget x variant"


def _old_fingerprint(trial) -> str:
    """A training trial's fingerprint as the code before budgets were an axis made it: the key named the model and
    seed, the labels the seed, the setup its one `epochs`."""
    described = {
        "kind": "train",
        "key": f"{spec_key(trial.spec)}-seed{trial.setup.seed}",
        "spec": spec_to_dict(trial.spec),
        "setup": dataclasses.asdict(trial.setup),
        "labels": (("seed", trial.setup.seed),),
        "needs": (),
        "reads": (),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()[:16]


def test_one_budget_records_and_plans_as_before(tiny_study):
    config = load_config(**{**tiny_study, "epochs": 5})
    assert config.to_dict()["epochs"] == 5  # config.json as before: a resumed run's configuration is unchanged
    trials = TRAIN.plan(config)
    assert len(trials) == 4 and {trial.setup.epochs for trial in trials} == {5}
    assert all(trial.fingerprint == _old_fingerprint(trial) for trial in trials)
    assert all(trial.key == f"{spec_key(trial.spec)}-seed{trial.setup.seed}" for trial in trials)
    listed = load_config(**{**tiny_study, "epochs": [5]})
    assert listed.to_dict()["epochs"] == 5
    assert [trial.fingerprint for trial in TRAIN.plan(listed)] == [trial.fingerprint for trial in trials]


def test_each_budget_is_its_own_trials_the_first_keeping_its_keys(tiny_study):
    one = {trial.key: trial.fingerprint for trial in TRAIN.plan(load_config(**{**tiny_study, "epochs": 5}))}
    config = load_config(**{**tiny_study, "epochs": [5, 15]})
    assert config.to_dict()["epochs"] == [5, 15]
    trials = TRAIN.plan(config)
    assert len(trials) == 8 and TRAIN.count(config) == 8
    first = {trial.key: trial.fingerprint for trial in trials if trial.setup.epochs == 5}
    assert first == one  # adding a budget after the first leaves its trials (and checkpoints) done
    longer = [trial.key for trial in trials if trial.setup.epochs == 15]
    assert all(key.endswith("-epochs15") for key in longer) and len(set(longer)) == 4
    groups = [run.key for run, _ in TRAIN.batch(trials)]
    assert len(groups) == len(set(groups)) == 4  # a model's seeds train together, each budget apart
    # The family each sitting records (metadata.json) counts each budget's comparison; one budget names none.
    family = ["vgg11-stack-r64-px32 at 5 epochs vs single", "vgg11-stack-r64-px32 at 15 epochs vs single"]
    assert study.accuracy_family(trials) == family
    assert study.accuracy_family(TRAIN.plan(load_config(**{**tiny_study, "epochs": 5}))) == [
        "vgg11-stack-r64-px32 vs single"
    ]


@pytest.mark.parametrize(
    ("epochs", "message"),
    [
        ([5, 5], r"epochs=\(5, 5\) is not allowed: give each value once \(5 repeated\)"),
        ([5, 0], "epochs=0 is not allowed: it must be an integer >= 1"),
        ([5, -3], "epochs=-3 is not allowed"),
        ([5, 2.5], "epochs=2.5 is not allowed"),
    ],
)
def test_bad_budgets_are_refused_by_value(tiny_study, epochs, message):
    with pytest.raises(InputError, match=message):
        load_config(**{**tiny_study, "epochs": epochs})


def test_the_command_line_takes_several_budgets(capsys):
    from vggbench.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "--epochs EPOCHS [EPOCHS ...]" in capsys.readouterr().out


@pytest.mark.slow
def test_a_run_of_two_budgets_trains_each_schedule_whole(tiny_study, synthetic_root, tmp_path):
    config = {**tiny_study, "epochs": [1, 2], "kinds": ["train"], "lr_schedule": "cosine"}
    study.run(load_config(**config), tmp_path, data_root=str(synthetic_root), report=lambda _: None)
    train = pd.read_csv(tmp_path / "train.csv")
    runs = train.groupby(["variant", "seed", "schedule_epochs"])["epoch"].agg(list)
    assert len(runs) == 8 and all(epochs == list(range(1, budget + 1)) for (*_, budget), epochs in runs.items())
    assert len(list((tmp_path / "checkpoints").glob("*.pt"))) == 8
    # Each budget its own cosine over its 4 or 8 steps: from the second step on the rates differ (85% and 96% of
    # lr), so the first epoch's mean loss does.
    first = train[train["epoch"] == 1].set_index(["variant", "seed", "schedule_epochs"])["train_loss"].unstack()
    assert (first[1] != first[2]).all()
    final = train[train["epoch"] == train["schedule_epochs"]].set_index(["schedule_epochs", "variant"])["test_acc"]
    means = final.groupby(level=[0, 1]).mean()
    by_hand = (means[2, "stack"] - means[2, "single"]) - (means[1, "stack"] - means[1, "single"])
    claims = claim.claim_table({"train": train})
    row = claims[claims["claim"] == BUDGET_ROW].iloc[0]
    assert row["difference"] == pytest.approx(by_hand) and row["ci_low"] < by_hand < row["ci_high"]
    assert "test-set sampling" in row["interval_method"]  # the run kept each image's result
    primary = claims[(claims["claim"] == "higher accuracy") & (claims["analysis"] == "primary")]
    assert sorted(primary["schedule_epochs"]) == [1, 2]


def _budgets(arms: dict, keys=None) -> pd.DataFrame:
    """Per-epoch rows of runs at several budgets: `arms` maps (budget, variant) to each seed's final accuracy;
    the runs stand at 0.5 at every epoch before their last, and take 100 optimizer steps an epoch."""
    rows = []
    for (budget, variant), finals in arms.items():
        for seed, final in enumerate(finals):
            for epoch in range(1, budget + 1):
                accuracy = final if epoch == budget else 0.5
                rows.append({"arch": "vgg13", "ratio": 8, "resolution": 32, "batch_norm": False, **(keys or {}),
                             "variant": variant, "seed": seed, "epoch": epoch, "schedule_epochs": budget,
                             "optimizer_steps": 100 * epoch, "test_acc": accuracy, "train_loss": 0.4})  # fmt: skip
    return pd.DataFrame(rows)


def test_budget_x_variant_is_the_difference_of_differences_checked_by_hand():
    arms = {
        (15, "stack"): [0.90, 0.91, 0.89, 0.92],
        (15, "single"): [0.88, 0.89, 0.885],
        (5, "stack"): [0.80, 0.85, 0.83, 0.79, 0.84],
        (5, "single"): [0.86, 0.87, 0.89],
        (2, "stack"): [0.70, 0.72, 0.69],
        (2, "single"): [0.75, 0.74, 0.78],
    }
    table = claim.claim_table({"train": _budgets(arms)})
    rows = table[table["claim"] == BUDGET_ROW].set_index("note", drop=False)
    assert len(rows) == 2  # each longer budget against the shortest: 5 and 15 against 2
    for longer in (5, 15):
        row = rows[rows["note"].str.startswith(f"(stack - single) at {longer} epochs")].iloc[0]
        four = [arms[longer, "stack"], arms[longer, "single"], arms[2, "stack"], arms[2, "single"]]
        means = [np.mean(arm) for arm in four]
        parts = [np.var(arm, ddof=1) / len(arm) for arm in four]  # Welch-Satterthwaite over the four arms' seeds
        df = sum(parts) ** 2 / sum(part**2 / (len(arm) - 1) for part, arm in zip(parts, four, strict=True))
        half = scipy_stats.t.ppf(0.975, df) * math.sqrt(sum(parts))
        difference = (means[0] - means[1]) - (means[2] - means[3])
        assert row["difference"] == pytest.approx(difference)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx((difference - half, difference + half))
        p_value = 2 * scipy_stats.t.sf(abs(difference) / math.sqrt(sum(parts)), df)
        assert row["p_value"] == pytest.approx(p_value)
        assert (row["analysis"], row["baseline"], row["variant"]) == ("interaction", "single", "stack")
        assert pd.isna(row["verdict"]) and pd.isna(row["schedule_epochs"]) and pd.isna(row["epoch"])
        assert f"less at 2 epochs {means[2] - means[3]:+.4f}" in row["note"] and "share" in row["note"]
    assert BUDGET_ROW not in "".join(claim._glance(table))  # numbers, not a verdict to count
    primary = table[(table["claim"] == "higher accuracy") & (table["analysis"] == "primary")]
    assert sorted(primary["schedule_epochs"]) == [2, 5, 15]  # each budget's comparison, one Holm family
    assert primary["p_value_holm"].notna().all()
    one_budget = _budgets({key: value for key, value in arms.items() if key[0] == 5})
    assert BUDGET_ROW not in set(claim.claim_table({"train": one_budget})["claim"])


def test_batch_norm_x_variant_is_made_within_each_budget():
    arms = {(budget, variant): [0.8, 0.82, 0.81] for budget in (5, 15) for variant in ("stack", "single")}
    train = pd.concat([_budgets(arms, {"batch_norm": normed}) for normed in (False, True)], ignore_index=True)
    table = claim.claim_table({"train": train})
    normed = table[table["claim"] == "batch norm x variant"]
    assert sorted(normed["schedule_epochs"]) == [5, 15]
    budget = table[table["claim"] == BUDGET_ROW]
    assert sorted(budget["batch_norm"]) == [False, True]

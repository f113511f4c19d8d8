"""How a training run is judged: the failure rule, the plateau rule, each run's final epoch, and the
summary of a model's runs over its seeds.

The rule is fixed before a run (TrainConfig's `failure_loss_ratio` and `plateau_gain`); training rows
carry the values they were judged with, so a table is judged by the rule it was made under.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vggbench.models.schema import keys_in

if TYPE_CHECKING:
    import pandas as pd

# The default failure rule: a run failed when its final training loss is above this share of the loss
# at chance, ln(classes) (or is NaN). And the default gain over the last epoch above which a model is
# still learning. Training rows carry the values they were judged with.
FAILURE_LOSS_RATIO = 0.9
PLATEAU_GAIN = 0.005


def final_epoch(train: pd.DataFrame) -> pd.DataFrame:
    """The rows of each model and seed's last epoch."""
    by_run = [*keys_in(train), "seed"]
    return train[train["epoch"] == train.groupby(by_run)["epoch"].transform("max")]


def is_failure(train_loss: float, num_classes: int, ratio: float = FAILURE_LOSS_RATIO) -> bool:
    """The failure rule: a training loss not below `ratio` times the loss at chance (NaN included)."""
    return not train_loss <= ratio * math.log(num_classes)


def failed(train: pd.DataFrame) -> pd.Series:
    """Whether each training row's run had failed by then: its `failed` column, or (for tables written
    before there was one) the default rule."""
    import numpy as np

    if "failed" in train:
        return train["failed"].astype(bool)
    classes = train.get("num_classes", 10)
    return ~(train["train_loss"] <= FAILURE_LOSS_RATIO * np.log(classes))


def final_runs(train: pd.DataFrame) -> pd.DataFrame:
    """Each run's final-epoch row, with whether it `failed` and its test-accuracy gain over the last epoch
    (`last_epoch_gain`, NaN after one epoch)."""
    run = [*keys_in(train), "seed"]
    train = train.assign(failed=failed(train))
    before = train[train["epoch"] == train.groupby(run)["epoch"].transform("max") - 1].set_index(run)["test_acc"]
    final = final_epoch(train).set_index(run)
    return final.assign(last_epoch_gain=final["test_acc"] - before).reset_index()


def plateau_gain(train: pd.DataFrame) -> float:
    """The gain over the last epoch above which a model is still learning: the rows' `plateau_gain` (the rule
    they were judged with), or the default for tables written before they carried it."""
    return train["plateau_gain"].max() if "plateau_gain" in train else PLATEAU_GAIN


def summarize(rows) -> pd.DataFrame:
    """Per model, over its seeds' runs at their final epoch: how many ran and how many failed; for those
    that did not fail, the test accuracy (mean, standard deviation, range) and its gain over the last
    epoch, whether that gain says the model was still learning (the plateau rule), and the training loop's
    images per second (`train_loop_img_per_s_median`: the final epoch's, median over the runs)."""
    import pandas as pd

    table = pd.DataFrame(rows)
    keys = keys_in(table)
    final = final_runs(table)
    counts = final.groupby(keys, sort=False).agg(
        epochs=("epoch", "max"),
        optimizer_steps=("optimizer_steps", "max"),
        seeds=("seed", "count"),
        failed=("failed", "sum"),
    )
    accuracy = (
        final[~final["failed"]]
        .groupby(keys, sort=False)
        .agg(
            test_acc_mean=("test_acc", "mean"),
            test_acc_std=("test_acc", "std"),
            test_acc_min=("test_acc", "min"),
            test_acc_max=("test_acc", "max"),
            last_epoch_gain=("last_epoch_gain", "mean"),
            train_loop_img_per_s_median=("train_img_per_s", "median"),  # not the speed kind's speed_train_*
        )
    )
    summary = counts.join(accuracy).reset_index()
    return summary.assign(still_learning=summary["last_epoch_gain"] > plateau_gain(final))

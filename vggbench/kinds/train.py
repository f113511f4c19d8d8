"""Training on Fashion-MNIST: per-epoch loss, accuracy and time, one trial per model and seed."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from vggbench import data
from vggbench.kind import Files, Kind, Outcome, Table, Trial
from vggbench.rundir import CHECKPOINTS, checkpoint_file, spec_key
from vggbench.schema import NAME_KEYS
from vggbench.setups import TrainConfig

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    *NAME_KEYS,
    "seed",
    "epoch",
    "train_loss",
    "train_acc",
    "test_acc",
    "epoch_s",
    "train_img_per_s",
    "data_s",
    "compute_s",
    "device",
)
SUMMARY_COLUMNS = (
    *NAME_KEYS,
    "epochs",
    "seeds",
    "test_acc_mean",
    "test_acc_std",
    "test_acc_min",
    "test_acc_max",
)


def seed_groups(seeds: tuple[int, ...], seed_batch: int) -> list[tuple[int, ...]]:
    """The seeds in groups of `seed_batch`, in order: each group is one trial, its seeds trained together."""
    return [tuple(seeds[start : start + seed_batch]) for start in range(0, len(seeds), seed_batch)]


def trial_key(spec, seeds: tuple[int, ...]) -> str:
    """The key of the training trial of `spec` for `seeds` (one seed: ...-seed3; several: ...-seeds3_4)."""
    return (
        f"{spec_key(spec)}-seed{seeds[0]}" if len(seeds) == 1 else f"{spec_key(spec)}-seeds{'_'.join(map(str, seeds))}"
    )


def checkpoint_of(spec, seed: int) -> str:
    """The checkpoint of `spec` trained with `seed`, whichever trial trained it."""
    return checkpoint_file(f"{spec_key(spec)}-seed{seed}")


class Train(Kind):
    name = "train"
    setup = TrainConfig
    needs_data = True
    uses_seeds = True
    tables = (
        Table(
            "train",
            "Per epoch (train_loss: mean cross-entropy per image)",
            COLUMNS,
            help="per-epoch rows as CSV (rewritten after every model and seed)",
        ),
    )
    summary_table = Table(
        "summary",
        "Final test accuracy over seeds",
        SUMMARY_COLUMNS,
        flag="--summary",
        help="the summary over seeds as CSV",
    )
    files = Files(
        CHECKPOINTS,
        "--save-checkpoint",
        "PATH",
        "save the trained state dict and spec (several runs: the model and seed added to the name)",
        one_file=True,
    )
    help = "train on Fashion-MNIST and report per-epoch loss, accuracy and speed"
    description = (
        "Train each model on Fashion-MNIST (the seed's recipe by default: vgg11 stack, ratio 8, 224 px, Adam, "
        "lr 0.001, batch 64, 5 epochs) and report, per seed and epoch, the mean training loss, training and test "
        "accuracy and time; then mean and standard deviation of the final test accuracy over seeds."
    )
    command_defaults: ClassVar[dict[str, object]] = {"variants": ("stack",)}  # alone, the seed's recipe

    def check(self, config) -> None:
        data.check_fits(config.in_channels, config.num_classes)

    def plan(self, config) -> list[Trial]:
        (base,) = config.setups(TrainConfig)
        return [
            Trial(self.name, spec, trial_key(spec, group), setup, labels=(("seed", group[0]),))
            for group in seed_groups(config.seeds, base.seed_batch)
            for setup in config.setups(TrainConfig, seed=group[0], seeds=group)
            for spec in config.models()
        ]

    def run(self, trial, inputs, load_data, report) -> Outcome:
        from vggbench.measure import train
        from vggbench.measure.checkpoints import checkpoint_bytes

        setup = trial.setup
        rows, models = train.train_seeds(trial.spec, setup, setup.trained_seeds, load_data(), report)
        files = {
            checkpoint_of(trial.spec, seed): checkpoint_bytes(model, trial.spec)
            for seed, model in zip(setup.trained_seeds, models, strict=True)
        }
        return Outcome(rows, files)

    def estimate_s(self, trial, gflops) -> float:
        from vggbench.measure.flops import step_flops

        setup, spec = trial.setup, trial.spec
        images = min(setup.train_limit or data.COUNTS["train"], data.COUNTS["train"])
        flops = step_flops(spec, "train") * images + step_flops(spec, "infer") * data.COUNTS["test"]
        return len(setup.trained_seeds) * setup.epochs * flops / (gflops * 1e9)

    def memory(self, trial):
        from vggbench.measure import train
        from vggbench.measure.memory import needed_bytes

        spec, setup = trial.spec, trial.setup
        steps = max(needed_bytes(spec, setup.batch_size, True, True), needed_bytes(spec, train.EVAL_BATCH, False, True))
        images = sum(data.COUNTS.values()) * data.SIDE * data.SIDE  # the data set, as bytes, on the device
        return len(setup.trained_seeds) * steps + images, setup.device

    def describe(self, rows) -> str:
        return f"test acc {rows[-1]['test_acc']:.3f} after {rows[-1]['epoch']} epoch(s)"

    def summarize(self, rows: pd.DataFrame) -> pd.DataFrame | None:
        from vggbench.training_rules import summarize

        if "test_acc" not in rows or rows["test_acc"].isna().all():
            return None
        return summarize(rows.dropna(subset=["test_acc"]))

    def judge(self, tables, margins) -> list[dict]:
        from vggbench.kinds import train_verdicts

        accuracy = train_verdicts.accuracy_claims(tables["train"], margins.equivalence_margin)
        return accuracy + train_verdicts.trainability_claims(tables["train"])


KIND = Train()

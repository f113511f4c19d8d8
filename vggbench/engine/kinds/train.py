"""Training on Fashion-MNIST: per-epoch loss, accuracy and time, one trial per model and seed.

A training trial trains one recipe (its `recipe` label, vggbench.engine.tuning says how they are chosen): the
config's own (SHARED: no label, the keys and files of runs before tuning), its arm's chosen one (TUNED, keyed
...-tuned) or a tuning candidate's (CANDIDATE, keyed ...-candidateN: evaluated on validation images only, no
checkpoint kept, stopped early where its pruning thresholds say: CandidateConfig)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING

from vggbench.engine.contract import Files, Kind, Outcome, Table, Trial
from vggbench.engine.rundir import CHECKPOINTS, checkpoint_file, spec_key
from vggbench.measure import data
from vggbench.measure.setups import TrainConfig
from vggbench.models.schema import ARCH, MODEL_KEYS, NAME_KEYS, RECIPE, SCHEDULE, SHARED, TUNED, keys_in
from vggbench.util.csvio import BOOLEAN, COUNT, INTEGER, NON_NEGATIVE, NUMBER, SHARE, TEXT, WHOLE
from vggbench.util.knobs import as_list

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = (
    *NAME_KEYS,
    "seed",
    SCHEDULE,
    "epoch",
    "train_loss",
    "train_acc",
    "test_acc",
    "val_acc",
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
    "failed",  # runs that met the failure rule: the accuracy columns leave them out (blank where every run did)
    "test_acc_mean",
    "test_acc_std",
    "test_acc_min",
    "test_acc_max",
)


def trial_key(spec, seed: int, budget: str = "") -> str:
    """The key of the training trial of `spec` and `seed`, however the seeds are grouped to train; `budget` is
    `budget_part`'s: the first budget listed has none, so a run of one budget (and the effective field, which reads
    the first budget's checkpoints) keeps the keys it had before `epochs` was an axis."""
    return f"{spec_key(spec)}-seed{seed}{budget}"


def checkpoint_of(spec, seed: int, budget: str = "") -> str:
    """The checkpoint of `spec` trained with `seed` (at the budget `budget` names: see `trial_key`)."""
    return checkpoint_file(trial_key(spec, seed, budget))


def budget_part(epochs: int, budgets) -> str:
    """How a trial's key names its schedule of `epochs` among the run's `budgets` (the config's `epochs`)."""
    return "" if epochs == as_list(budgets)[0] else f"-epochs{epochs}"


def _tail(trial) -> str:
    """What a training trial's key (or its group's, `_together`) names after its seeds: its budget and recipe."""
    seeds = trial.setup.trained_seeds
    named = f"-seed{seeds[0]}" if len(seeds) == 1 else f"-seeds{'_'.join(map(str, seeds))}"
    return trial.key[len(spec_key(trial.spec) + named) :]


CANDIDATE = "candidate"  # the recipe of a tuning candidate's trial, beside schema.SHARED and TUNED (module docstring)


def arm_name(spec, budget: str) -> str:
    """How tuning names an arm, a model at one budget (`budget`: `budget_part`'s): vgg11-stack-r8-px32-bn."""
    return f"{spec_key(spec)}{budget}"


def recipe_of(trial) -> str:
    return dict(trial.labels).get("recipe", SHARED)


def training_trial(spec, setup: TrainConfig, seed: int, budget: str, recipe: str = SHARED, candidate=None) -> Trial:
    """The trial that trains `spec` with `seed` at `setup` (which holds the recipe), keyed and labelled by which
    recipe that is (a candidate's by its number, 0-based in ask order)."""
    part = {SHARED: "", TUNED: "-tuned", CANDIDATE: f"-candidate{candidate}"}[recipe]
    labels = (("seed", seed),) + ((("recipe", recipe),) if recipe != SHARED else ())
    labels += (("candidate", candidate),) if recipe == CANDIDATE else ()
    setup = dataclasses.replace(setup, seed=seed, seeds=(seed,))
    return Trial("train", spec, trial_key(spec, seed, budget + part), setup, labels)


def verdict_recipes(config) -> tuple[str, ...]:
    """The recipes the verdict seeds train: the config's, or with tuning each arm's chosen (and the config's as
    well where `tuning_shared`)."""
    if not config.tuning.enabled:
        return (SHARED,)
    return (TUNED, SHARED) if config.tuning.tuning_shared else (TUNED,)


def checkpoint_part(config) -> str:
    """The key part of the first budget's training trials whose checkpoints other kinds read (the effective
    field): the config's recipe where the run trains it, else the tuned one."""
    return "" if SHARED in verdict_recipes(config) else "-tuned"


# Every tuning candidate's rows, one per arm, candidate, seed and epoch (vggbench.engine.tuning writes it): the
# candidate's recipe values (a column per searched knob, between `candidate` and `seed`), its validation accuracy,
# and the candidate's own `pruned`, `objective` (the mean over its seeds of val_acc at the last epoch it reached)
# and `chosen`.
TUNING = Table(
    "tuning",
    "Tuning candidates per arm",
    (*MODEL_KEYS, SCHEDULE, "candidate", "seed", "epoch", "val_acc", "train_loss", "pruned", "objective", "chosen"),
    reads=(
        ("arch", ARCH),
        ("variant", TEXT),
        (SCHEDULE, INTEGER),
        ("candidate", INTEGER),
        ("seed", INTEGER),
        ("epoch", INTEGER),
        ("val_acc", SHARE),
        ("pruned", BOOLEAN),
        ("objective", NUMBER),
        ("chosen", BOOLEAN),
    ),
    on_request=True,
)
# A candidate trial's rows: trained, evaluated on validation images only (no test accuracy).
CANDIDATE_ROWS = Table("candidate", "A tuning candidate's rows", COLUMNS, required=("train_loss", "train_acc"))


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
            reads=(
                ("arch", ARCH),
                ("variant", TEXT),
                ("seed", INTEGER),
                ("epoch", INTEGER),
                ("test_acc", SHARE),
                ("train_loss", NON_NEGATIVE),
            ),
            required=("train_loss", "train_acc", "test_acc"),  # but where the run diverged, which failed marks
        ),
        TUNING,
    )
    summary_table = Table(
        "summary",
        "Final test accuracy over seeds",
        SUMMARY_COLUMNS,
        flag="--summary",
        help="the summary over seeds as CSV",
        types=(
            ("epochs", COUNT),
            *((column, WHOLE) for column in ("seeds", "failed")),  # failed: a count here, not train.csv's flag
            *((column, NUMBER) for column in ("test_acc_mean", "test_acc_std", "test_acc_min", "test_acc_max")),
            ("last_epoch_gain", NUMBER),
            ("still_learning", BOOLEAN),
        ),
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
        "Train each model on Fashion-MNIST (by default the stack and its rivals, as every command compares them, at "
        "the book's recipe from d2l.ai's VGG chapter: vgg11, ratio 8, 224 px, Adam, lr 0.001, batch 64, 5 epochs) "
        "and report, per seed and epoch, the mean training "
        "loss, training, validation (training images held out) and test accuracy and time; then mean and standard "
        "deviation of the final test accuracy over seeds."
    )

    def check(self, config) -> None:
        data.check_fits(config.in_channels, config.num_classes)

    def plan(self, config) -> list[Trial]:
        # One trial per model and seed: what it runs under names no other seed, so adding seeds leaves it done.
        # Under a sequential design the later seeds are planned but run only while a comparison needs them. Each
        # budget (`epochs`, an axis) is a setup of its own: its trials train a whole schedule of that length. The
        # labels name no budget (its rows record it, `schedule_epochs`), so a run of one keeps its fingerprints.
        # A tuned trial trains its arm's chosen recipe (`config.recipes`; before tuning, the config's stands in).
        plan = []
        for seed in config.trained_seeds:
            for setup in config.setups(TrainConfig, seed=seed, seeds=(seed,)):
                budget = budget_part(setup.epochs, config.epochs)
                for spec in config.models():
                    for recipe in verdict_recipes(config):
                        tuned = recipe == TUNED and config.recipes is not None
                        chosen = config.recipes[arm_name(spec, budget)] if tuned else {}
                        plan.append(training_trial(spec, dataclasses.replace(setup, **chosen), seed, budget, recipe))
        return plan

    def count(self, config) -> int:
        setups = len(config.setups(TrainConfig, seed=config.trained_seeds[0], seeds=config.trained_seeds[:1]))
        return len(config.trained_seeds) * setups * len(config.models()) * len(verdict_recipes(config))

    def batch(self, todo: list[Trial]) -> list[tuple[Trial, list[Trial]]]:
        """The seeds still to train of each model, `seed_batch` at a time in the order planned: each group one
        trial (keyed ...-seeds0_1) that trains its seeds together. A factory's model trains one seed at a time:
        grouping seeds (SeedGroup) needs a VGG's layers."""
        open_groups: dict[tuple, list[Trial]] = {}  # by model and setup but the seed: the group still filling
        groups: list[list[Trial]] = []
        for trial in todo:
            recipe = tuple(label for label in trial.labels if label[0] != "seed")  # a tuned run may equal a shared
            alike = (trial.spec, dataclasses.replace(trial.setup, seed=0, seeds=()), recipe)
            group = open_groups.get(alike)
            size = trial.setup.seeds_together(trial.spec)
            if group is None or len(group) == size:
                group = open_groups[alike] = []
                groups.append(group)
            group.append(trial)
        return [(_together(group), group) for group in groups]

    def split(self, outcome: Outcome, members: list[Trial]) -> list[Outcome]:
        """Each seed's rows, with its trial's labels (its recipe, a candidate's number), and checkpoint."""
        parts = []
        for member in members:
            seed, checkpoint = member.setup.seed, checkpoint_file(member.key)
            rows = [{**row, **dict(member.labels)} for row in outcome.rows if row["seed"] == seed]
            kept = {} if recipe_of(member) == CANDIDATE else {checkpoint: outcome.files[checkpoint]}
            parts.append(Outcome(rows, kept))
        return parts

    def run(self, trial, inputs, load_data, report) -> Outcome:
        from vggbench.measure import train
        from vggbench.measure.checkpoints import checkpoint_bytes

        setup, candidate = trial.setup, recipe_of(trial) == CANDIDATE
        data = load_data()
        rows, models = train.train_seeds(trial.spec, setup, setup.trained_seeds, data, report, test_set=not candidate)
        if candidate:  # chosen on its rows alone: no checkpoint kept
            return Outcome(rows)
        files = {
            checkpoint_of(trial.spec, seed, _tail(trial)): checkpoint_bytes(model, trial.spec)
            for seed, model in zip(setup.trained_seeds, models, strict=True)
        }
        return Outcome(rows, files)

    def estimate_s(self, trial, gflops) -> float:
        from vggbench.measure.flops import step_flops

        setup, spec = trial.setup, trial.spec
        images = setup.train_limit or setup.training_pool
        evaluated = data.COUNTS["test"] + setup.validation_images
        flops = step_flops(spec, "train") * images + step_flops(spec, "infer") * evaluated
        return len(setup.trained_seeds) * setup.epochs * flops / (gflops * 1e9)

    def memory(self, trial):
        from vggbench.measure import train
        from vggbench.measure.memory import needed_bytes

        spec, setup = trial.spec, trial.setup
        steps = max(needed_bytes(spec, setup.batch_size, True, True), needed_bytes(spec, train.EVAL_BATCH, False, True))
        images = sum(data.COUNTS.values()) * data.SIDE * data.SIDE  # the data set, as bytes, on the device
        return len(setup.trained_seeds) * steps + images, setup.device

    def make_tables(self, rows: pd.DataFrame, config) -> dict[str, pd.DataFrame]:
        """The rows of each model (in the order they come) by epoch, then seed in the study's order: as a group of
        seeds gives them, whichever trials they came from."""
        if rows.empty:
            return {self.tables[0].name: rows}
        budgets = as_list(config.epochs)
        if len(budgets) == 1:  # rows written before they recorded their schedule, and failed trials' rows
            rows = rows.assign(**{SCHEDULE: rows.get(SCHEDULE, budgets[0])}).fillna({SCHEDULE: budgets[0]})
            rows[SCHEDULE] = rows[SCHEDULE].astype(int)
        if RECIPE in rows:  # a tuned run's: the rows of the config's recipe carry no label
            rows[RECIPE] = rows[RECIPE].fillna(SHARED)
        seed_order = {seed: index for index, seed in enumerate(config.seeds)}
        order = rows.groupby(keys_in(rows), sort=False, dropna=False).ngroup().to_frame("model")
        order["epoch"] = rows.get("epoch", 0)  # a table of failed trials has no epochs
        order["seed"] = rows["seed"].map(seed_order)
        ordered = order.sort_values(list(order.columns), kind="stable").index
        return {self.tables[0].name: rows.loc[ordered].reset_index(drop=True)}

    def rows_for(self, trial) -> list[dict]:
        """A row per epoch, in order."""
        return [{**trial.identity(), "epoch": epoch} for epoch in range(1, trial.setup.epochs + 1)]

    def damage(self, trial, rows, error) -> str | None:
        """A candidate under a pruning rule may have stopped early: its rows are checked as those of the epochs it
        reached (the rule reads its group's mean, which one seed's file cannot tell)."""
        if trial.setup.prune_below and not error and 0 < len(rows) < trial.setup.epochs:
            trial = dataclasses.replace(trial, setup=dataclasses.replace(trial.setup, epochs=len(rows)))
        return super().damage(trial, rows, error)

    def row_table(self, trial) -> Table:
        """A tuning candidate's rows have no test accuracy: they are checked as such."""
        return CANDIDATE_ROWS if recipe_of(trial) == CANDIDATE else self.tables[0]

    def describe(self, rows) -> str:
        last = rows[-1]
        tested = last.get("recipe") != CANDIDATE  # a candidate is evaluated on validation images only
        measured = f"test acc {last['test_acc']:.3f}" if tested else f"val acc {last.get('val_acc', math.nan):.3f}"
        return f"{measured} after {last['epoch']} epoch(s)"

    def summarize(self, rows: pd.DataFrame) -> pd.DataFrame | None:
        from vggbench.measure.training_rules import summarize

        if "test_acc" not in rows or rows["test_acc"].isna().all():
            return None
        return summarize(rows.dropna(subset=["test_acc"]))

    def judge(self, tables, rules) -> list[dict]:
        from vggbench.verdicts import train as train_verdicts

        train, margin, decisions = tables["train"], rules.equivalence_margin, rules.decisions
        if decisions is None and rules.sequential and not train.empty and "test_acc" in train:
            decisions = train_verdicts.sequential_decisions(train, rules, margin)  # judged once, for every family
        accuracy = train_verdicts.accuracy_claims(train, margin, rules, decisions)
        accuracy += train_verdicts.interaction_claims(train, margin, rules, decisions)
        accuracy += train_verdicts.budget_claims(train, margin, rules, decisions)
        return accuracy + train_verdicts.trainability_claims(train)

    def figures(self):
        from vggbench.figures import train as train_figures

        return train_figures.FIGURES


def _together(members: list[Trial]) -> Trial:
    """The trial that trains the seeds of `members` (trials of one model) as one group; one member is itself."""
    if len(members) == 1:
        return members[0]
    seeds = tuple(member.setup.seed for member in members)
    first = members[0]
    key = f"{spec_key(first.spec)}-seeds{'_'.join(map(str, seeds))}{_tail(first)}"
    return dataclasses.replace(first, key=key, setup=dataclasses.replace(first.setup, seeds=seeds))


KIND = Train()

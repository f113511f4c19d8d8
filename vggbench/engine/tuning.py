"""Equal-budget tuning per arm: each arm's recipe is chosen on validation images before its verdict seeds train.

How tuning flows (vggbench.engine.study.run, where tune_candidates is above 0):

    arms      every model of the grid at every budget (`epochs`) is an arm; each gets an Optuna study of its own,
              all with the same space, sampler and sampler seed, candidates, seeds per candidate and epochs
    rounds    each round every arm asks `tune_per_round` candidates; a candidate trains its recipe once per
              tuning seed as ordinary training trials (content-keyed, KEY-candidateN, on any executor), evaluated
              on validation images only, never the test set; its objective, the mean over its seeds of the
              validation accuracy at the last epoch it reached, is told back to its arm's study
    pruning   optional (`tune_prune`, "none" by default): Optuna's MedianPruner rule, made deterministic. When a
              round's candidates are asked, each arm's threshold per epoch is the median, over its finished (not
              pruned) candidates of earlier rounds, of their validation accuracy there (the mean over their seeds),
              for each epoch from `tune_prune_after` to the one before its last; a candidate's trials carry them
              (CandidateConfig: content-keyed) and stop training after the first epoch where the mean over the
              seeds trained together falls below it. So the first round is never pruned, nor a candidate at its
              last epoch; a pruned candidate's rows end where it stopped, it is told to its study as PRUNED (its
              epochs reported to Optuna), and it is never chosen, its objective being of fewer epochs
    choice    each arm's best finished candidate (the first asked of equal ones): tuning.json holds the choices and
              the search, tuning.csv every candidate's rows
    verdict   the training trials are planned at each arm's chosen recipe (recipe "tuned", KEY-tuned), and the
              fixed or sequential design runs on them as in any run (`tuning_shared`: the config's recipe too)

A resumed run replays: the studies are made anew, asked in the same order and told the objectives read back from
the finished candidates' trial files (only the missing candidates train), so a run killed at any point asks the
same candidates and chooses the same recipes. Optuna's storage (RUN_DIR/tuning.db, or `tune_storage`) mirrors the
replay for Optuna's own tools; nothing is read back from it. The thresholds, too, are computed from the trial files,
so a resumed run plans the same candidate trials (and fingerprints). Without pruning, a candidate's setup is a plain
TrainConfig and config.json records no pruning keys: runs tuned before pruning existed resume as they ran.

`config` below is a vggbench.engine.config.StudyConfig, which imports this module for its Tuning keys.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vggbench.engine.kinds.train import CANDIDATE, TUNING, arm_name, budget_part, training_trial
from vggbench.engine.rundir import DONE, TUNING_DB, TUNING_JSON, RunDir
from vggbench.measure.setups import RECIPE_KNOBS, CandidateConfig, TrainConfig
from vggbench.models.arch import ModelSpec
from vggbench.models.schema import SCHEDULE, identity
from vggbench.util import knobs
from vggbench.util.csvio import read_json
from vggbench.util.knobs import Setup, knob, refuse_ignored
from vggbench.util.validate import MAX_SEED, InputError, did_you_mean, shown

if TYPE_CHECKING:
    import pandas as pd

    from vggbench.engine.contract import Trial

# A knob that TrainConfig refuses unless another has a value: asked only of the candidates that give it that value.
APPLIES_ONLY = {"momentum": ("optimizer", "sgd")}
MAX_CANDIDATES = 1000  # candidates per arm: beyond, a typo rather than a search
SAMPLER = "TPESampler"  # Optuna's default sampler, seeded: random for its first 10 candidates, then TPE
OBJECTIVE = "mean over the candidate's seeds of val_acc at the last epoch it reached"
_RANGE = re.compile(r"(log|uniform)\(\s*([^,()\s]+)\s*,\s*([^,()\s]+)\s*\)")
_FORMS = "KNOB=log(LOW,HIGH), KNOB=uniform(LOW,HIGH) or KNOB=A|B|..."
PRUNERS = ("none", "median")
PRUNING_KEYS = ("tune_prune", "tune_prune_after")  # recorded in config.json only where the run prunes


def recipe_options() -> dict[str, knobs.Option]:
    """The recipe knobs TrainConfig has, by config key (each the field's name)."""
    return {option.key: option for option in knobs.options(TrainConfig) if option.key in RECIPE_KNOBS}


@dataclass(frozen=True)
class Dimension:
    """One searched knob: a float range (log-uniform or uniform), or a list of values."""

    key: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def suggest(self, trial) -> object:
        """The value an Optuna trial asks for this knob."""
        if self.choices:
            return trial.suggest_categorical(self.key, self.choices)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def described(self) -> dict:
        """As tuning.json records it: {"log": [low, high]}, {"uniform": [low, high]} or {"choices": [...]}."""
        if self.choices:
            return {"choices": list(self.choices)}
        return {"log" if self.log else "uniform": [self.low, self.high]}


def dimension(entry: str) -> Dimension:
    """A tune_space entry (`_FORMS`) as a Dimension, its values checked as the knob checks them."""
    key, equals, text = (part.strip() for part in entry.partition("="))
    if not equals or not text:
        raise InputError(f"tune_space entry {shown(entry)} is not allowed: write {_FORMS}")
    options = recipe_options()
    if key not in options:
        raise InputError(
            f"tune_space entry {shown(entry)} is not allowed: {shown(key)} is no recipe knob"
            f"{did_you_mean(key, options)}: choose from {', '.join(options)}"
        )
    option, found = options[key], _RANGE.fullmatch(text)
    if found is None:
        choices = tuple(_value(option, part.strip(), entry) for part in text.split("|"))
        if len(set(choices)) < len(choices):
            raise InputError(f"tune_space entry {shown(entry)} is not allowed: give each value once")
        return Dimension(key, choices=choices)
    if option.kind is not float:
        raise InputError(f"tune_space entry {shown(entry)} is not allowed: {key} takes a list of values, A|B|...")
    low, high = (_value(option, part, entry) for part in found.group(2, 3))
    log = found.group(1) == "log"
    if not low < high or (log and low <= 0):
        raise InputError(f"tune_space entry {shown(entry)} is not allowed: give LOW < HIGH" + (", LOW > 0" * log))
    return Dimension(key, float(low), float(high), log)


def _value(option: knobs.Option, text: str, entry: str) -> object:
    """`text` as a value of the knob `option`, checked as the knob checks its values."""
    words = {"true": True, "false": False}
    try:
        value = words[text.lower()] if option.kind is bool else option.kind(text)
    except (KeyError, ValueError):
        value = text  # refused below, by the knob's own words
    try:
        knobs.check_value(TrainConfig, option.key, value)
    except InputError as error:
        raise InputError(f"tune_space entry {shown(entry)}: {error}") from None
    return value


@dataclass(frozen=True)
class Tuning(Setup):
    """The search each arm's recipe is chosen by, the same for every arm (module docstring)."""

    GROUP = "tuning"

    tune_candidates: int = knob(
        0,
        "recipes each arm (a model at a budget) tries before its verdict seeds train at the best of them, judged on "
        "validation accuracy; 0: no tuning, every arm trains the config's recipe",
        minimum=0,
        maximum=MAX_CANDIDATES,
        flags=None,
    )
    tune_seeds: tuple[int, ...] | None = knob(
        None,
        "the seeds each candidate trains, none of them a verdict seed (`seeds`)",
        minimum=0,
        maximum=MAX_SEED,
        flags=None,
    )
    tune_space: tuple[str, ...] | None = knob(
        None,
        f"the searched recipe knobs, an entry each: {_FORMS} (as lr=log(1e-4,1e-1), optimizer=adam|sgd); the "
        "knobs not searched keep the config's values",
        flags=None,
    )
    tune_per_round: int = knob(
        1, "candidates each arm asks before the results of any of them are told", minimum=1, flags=None
    )
    tune_sampler_seed: int = knob(0, f"the seed of each arm's sampler (Optuna's {SAMPLER})", minimum=0, flags=None)
    tune_storage: str | None = knob(
        None,
        f"an Optuna storage URL the studies are also written to (default: sqlite:///RUN_DIR/{TUNING_DB})",
        flags=None,
    )
    tuning_shared: bool = knob(
        False, "train the verdict seeds at the config's recipe as well (recipe `shared`, beside `tuned`)", flags=None
    )
    tune_prune: str = knob(
        "none",
        "an early-stopping rule for candidates on validation accuracy: none, or median (Optuna's MedianPruner, "
        "made deterministic): from the second round on, a candidate stops after an epoch (tune_prune_after or "
        "later, before its last) where its validation accuracy is below the median of its arm's unpruned "
        "candidates of earlier rounds there; a pruned candidate is never chosen",
        choices=PRUNERS,
        flags=None,
    )
    tune_prune_after: int = knob(
        1, "the first epoch after which tune_prune may stop a candidate (a warm-up)", minimum=1, flags=None
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("tune_seeds", "tune_space", "tune_storage", "tuning_shared", "tune_prune"):
            refuse_ignored(self, name, self.enabled, "tune_candidates", "with tune_candidates above 0")
        refuse_ignored(self, "tune_prune_after", self.prunes, "tune_prune", "with tune_prune='median'")
        if self.enabled and not (self.tune_seeds and self.tune_space):
            raise InputError("tune_candidates above 0 needs tune_seeds (seeds of its own) and tune_space (a knob each)")
        keys = [entry.key for entry in self.space]
        if len(set(keys)) < len(keys):
            raise InputError(f"tune_space names a knob twice ({', '.join(keys)}): give each knob once")

    @property
    def enabled(self) -> bool:
        return self.tune_candidates > 0

    @property
    def prunes(self) -> bool:
        return self.tune_prune != "none"

    def recorded(self) -> dict:
        """The keys config.json records of a run that tunes: the pruning keys only where it prunes (module
        docstring)."""
        keys = [option for option in knobs.options(Tuning) if self.prunes or option.key not in PRUNING_KEYS]
        return {option.key: getattr(self, option.name) for option in keys}

    @property
    def space(self) -> tuple[Dimension, ...]:
        """The searched knobs, in the order they are asked: a knob that applies only with another's value last."""
        dimensions = [dimension(entry) for entry in self.tune_space or ()]
        return tuple(sorted(dimensions, key=lambda entry: entry.key in APPLIES_ONLY))

    def check(self, config) -> None:
        """Refuse a search the study cannot run: without training, on the verdict's seeds, with no validation
        images, or a knob that applies with none of the values searched or set."""
        if not self.enabled:
            return
        if "train" not in config.kinds:
            raise InputError("tune_candidates above 0 trains candidates: the kinds must include train")
        shared = sorted(set(self.tune_seeds) & set(config.seeds))
        if shared:
            raise InputError(f"tune_seeds and seeds share {shown(shared)}: the verdict's seeds must not tune it")
        if config.values.get("validation_images") == 0:
            raise InputError("tune_candidates above 0 chooses on validation images: set validation_images above 0")
        longest = max(knobs.as_list(config.epochs))
        if self.prunes and self.tune_prune_after >= longest:
            raise InputError(
                f"tune_prune_after={self.tune_prune_after} leaves no epoch to stop a candidate at with epochs="
                f"{longest}: a candidate may stop only before its last epoch (set it below {longest})"
            )
        searched = {entry.key: entry.choices or (None,) for entry in self.space}
        for key, (other, value) in APPLIES_ONLY.items():
            if key in searched and value not in searched.get(other, (config.values.get(other),)):
                raise InputError(f"tune_space searches {key}, which applies only with {other}={value!r}: search it")


@dataclass(frozen=True)
class Arm:
    """A model at one budget, tuned as one."""

    spec: ModelSpec
    setup: TrainConfig  # at the config's recipe
    budget: str  # its trials' key part (vggbench.engine.kinds.train.budget_part)

    @property
    def name(self) -> str:
        return arm_name(self.spec, self.budget)

    def identity(self) -> dict:
        return {**identity(self.spec), SCHEDULE: self.setup.epochs}

    def trials(self, number: int, recipe: dict, seeds, prune_below: tuple[float, ...] = ()) -> list[Trial]:
        """Candidate `number`'s trials, one per tuning seed, at `recipe` (field: value), stopping below
        `prune_below` (per epoch: `thresholds`)."""
        setup = dataclasses.replace(self.setup, **recipe)
        setup = CandidateConfig.of(setup, prune_below) if prune_below else setup
        return [training_trial(self.spec, setup, seed, self.budget, CANDIDATE, number) for seed in seeds]


def arms(config) -> list[Arm]:
    return [
        Arm(spec, setup, budget_part(setup.epochs, config.epochs))
        for setup in config.setups(TrainConfig)
        for spec in config.models()
    ]


def placeholders(config) -> list[Trial]:
    """Every candidate's trials at the config's recipe: what a dry run counts and times, and what --force keeps
    (by key) before the candidates are asked."""
    if not config.tuning.enabled:
        return []
    numbers = range(config.tuning.tune_candidates)
    return [trial for arm in arms(config) for number in numbers for trial in arm.trials(number, {}, config.tune_seeds)]


@dataclass
class Candidate:
    arm: Arm
    number: int
    recipe: dict  # each searched knob's value (one that does not apply: the config's)
    trials: list[Trial]
    asked: object  # its Optuna trial
    objective: float = math.nan
    curve: dict[int, float] = dataclasses.field(default_factory=dict)  # epoch: val_acc, the mean over its seeds
    pruned: bool = False  # its rows end before its schedule's last epoch
    rows: list[dict] = dataclasses.field(default_factory=list)  # its trials' rows, read once when it is told

    @property
    def finished(self) -> bool:
        """Not pruned, with an objective: a candidate that may be chosen and sets the pruning thresholds."""
        return not self.pruned and not math.isnan(self.objective)


def _ask(study, arm: Arm, number: int, tuning: Tuning, prune_below: tuple[float, ...]) -> Candidate:
    asked, recipe = study.ask(), {}
    for entry in tuning.space:
        other, value = APPLIES_ONLY.get(entry.key, (None, None))
        applies = other is None or recipe.get(other, getattr(arm.setup, other)) == value
        recipe[entry.key] = entry.suggest(asked) if applies else getattr(arm.setup, entry.key)
    return Candidate(arm, number, recipe, arm.trials(number, recipe, tuning.tune_seeds, prune_below), asked)


def thresholds(arm: Arm, earlier: list[Candidate], tuning: Tuning) -> tuple[float, ...]:
    """The pruning rule's threshold per epoch (epoch 1 first) for `arm`'s next candidates: for each epoch from
    tune_prune_after to the one before the last, the median over the arm's finished candidates in `earlier` of
    their validation accuracy there, NaN before; () where there is none (no rule, or no finished candidate yet)."""
    curves = [candidate.curve for candidate in earlier if candidate.arm == arm and candidate.finished]
    if not tuning.prunes or not curves:
        return ()
    found = tuple(
        statistics.median(curve[epoch] for curve in curves) if epoch >= tuning.tune_prune_after else math.nan
        for epoch in range(1, arm.setup.epochs)
    )
    return found if not all(map(math.isnan, found)) else ()


def curve(rows: pd.DataFrame) -> dict[int, float]:
    """A candidate's validation accuracy per epoch it reached, the mean over its seeds (none without rows)."""
    if rows.empty or "val_acc" not in rows or "epoch" not in rows:
        return {}
    means = rows.dropna(subset=["epoch"]).groupby("epoch")["val_acc"].mean()
    return {int(epoch): float(value) for epoch, value in means.items()}


def objective(rows: pd.DataFrame) -> float:
    """The mean over a candidate's seeds of val_acc at the last epoch each reached; NaN where none has one."""
    if rows.empty or "val_acc" not in rows or "epoch" not in rows:
        return math.nan
    last = rows.dropna(subset=["epoch"]).sort_values("epoch").groupby("seed").tail(1)
    return float(last["val_acc"].mean()) if last["val_acc"].notna().any() else math.nan


def _studies(config, directory: RunDir, names: list[str]) -> dict[str, object]:
    """A fresh Optuna study per arm in the storage (the run's tuning.db, replaced; or tune_storage's, where
    this run's studies are deleted first)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    url = config.tuning.tune_storage
    if url is None:
        directory.path(TUNING_DB).unlink(missing_ok=True)
        url = f"sqlite:///{directory.path(TUNING_DB).resolve()}"
    prefix = "" if config.tuning.tune_storage is None else f"{directory.root.resolve()}/"  # a shared database's
    storage = _storage(optuna, url)
    known = {summary.study_name for summary in optuna.get_all_study_summaries(storage)}
    studies = {}
    for name in names:
        if prefix + name in known:
            optuna.delete_study(study_name=prefix + name, storage=storage)
        sampler = optuna.samplers.TPESampler(seed=config.tuning.tune_sampler_seed)
        studies[name] = optuna.create_study(
            storage=storage, sampler=sampler, study_name=prefix + name, direction="maximize"
        )
    return studies


def _storage(optuna, url: str):
    """Optuna's database at `url`; a URL it cannot open (no such dialect, its driver not installed, no database
    there) is the user's to fix, said in one line."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return optuna.storages.RDBStorage(url)
    except (SQLAlchemyError, ImportError) as error:
        raise InputError(
            f"tune_storage={shown(url)} cannot be opened as an Optuna storage: {error} (give a database URL such as "
            "sqlite:///tuning.db or postgresql://user@host/name, with its driver installed)"
        ) from None


def tune(config, directory: RunDir, run_trials: Callable[[list], None], report):
    """Tune every arm in rounds (module docstring), training the candidates not done with `run_trials`; write
    tuning.csv and tuning.json; give `config` with each arm's chosen recipe (StudyConfig.with_recipes)."""
    tuning, every = config.tuning, arms(config)
    studies = _studies(config, directory, [arm.name for arm in every])
    candidates: list[Candidate] = []
    rounds = -(-tuning.tune_candidates // tuning.tune_per_round)
    for number in range(rounds):
        first = number * tuning.tune_per_round
        asked = range(first, min(first + tuning.tune_per_round, tuning.tune_candidates))
        below = {arm.name: thresholds(arm, candidates, tuning) for arm in every}
        new = [_ask(studies[arm.name], arm, index, tuning, below[arm.name]) for arm in every for index in asked]
        todo = [trial for candidate in new for trial in candidate.trials if directory.status(trial) != DONE]
        report(
            f"tuning round {number + 1} of {rounds}: candidate(s) {asked.start}-{asked.stop - 1} of "
            f"{len(every)} arm(s), {len(todo)} of their {sum(len(c.trials) for c in new)} trials to run"
        )
        run_trials(todo)
        for candidate in new:
            _tell(studies[candidate.arm.name], candidate, directory.rows(candidate.trials))
        candidates += new
    chosen = {arm.name: _best(arm, candidates) for arm in every}
    write_tuning(directory, config, candidates, chosen)
    for arm in every:
        best, own = chosen[arm.name], [candidate for candidate in candidates if candidate.arm == arm]
        pruned = f", {sum(c.pruned for c in own)} of {len(own)} candidates pruned" if tuning.prunes else ""
        report(
            f"tuning {arm.name}: candidate {best.number}, {_words(best.recipe)}, val acc {best.objective:.4f}{pruned}"
        )
    return config.with_recipes({name: best.recipe for name, best in chosen.items()})


def _tell(study, candidate: Candidate, rows: pd.DataFrame) -> None:
    """Read a trained candidate's result from its rows and tell it to its arm's study: failed (no objective),
    pruned (with its epochs reported, Optuna's record of where it stopped) or complete."""
    from optuna.trial import TrialState

    candidate.objective, candidate.curve, candidate.rows = objective(rows), curve(rows), rows.to_dict("records")
    candidate.pruned = bool(candidate.curve) and max(candidate.curve) < candidate.arm.setup.epochs
    for epoch, value in candidate.curve.items():
        candidate.asked.report(value, epoch)
    if math.isnan(candidate.objective):
        study.tell(candidate.asked, state=TrialState.FAIL)
    elif candidate.pruned:
        study.tell(candidate.asked, state=TrialState.PRUNED)
    else:
        study.tell(candidate.asked, candidate.objective)


def _words(recipe: dict) -> str:
    return ", ".join(
        f"{key} {value:.3g}" if isinstance(value, float) else f"{key} {value}" for key, value in recipe.items()
    )


def _best(arm: Arm, candidates: list[Candidate]) -> Candidate:
    """The arm's finished candidate of the highest objective, the first asked of equal ones: a pruned one's
    objective is of fewer epochs, never compared with a finished one's."""
    own = [candidate for candidate in candidates if candidate.arm == arm and candidate.finished]
    if not own:
        raise InputError(
            f"tuning {arm.name}: no finished candidate has a validation accuracy (val_acc) to choose by: every "
            "candidate failed, or the trainer records none"
        )
    return max(own, key=lambda candidate: (candidate.objective, -candidate.number))


def write_tuning(directory: RunDir, config, candidates: list[Candidate], chosen: dict) -> None:
    """tuning.csv (every candidate's rows, TUNING) and tuning.json (the search, and each arm's choice)."""
    import pandas as pd

    rows = []
    for candidate in candidates:
        own = {**candidate.arm.identity(), "candidate": candidate.number, **candidate.recipe}
        verdict = {
            "pruned": candidate.pruned,
            "objective": candidate.objective,
            "chosen": chosen[candidate.arm.name] is candidate,
        }
        for row in candidate.rows:
            measured = {key: row.get(key, math.nan) for key in ("seed", "epoch", "val_acc", "train_loss")}
            rows.append({**own, **measured, **verdict})
    columns = [*TUNING.columns[: TUNING.columns.index("seed")]]
    columns[columns.index("candidate") + 1 : columns.index("candidate") + 1] = [e.key for e in config.tuning.space]
    columns += list(TUNING.columns[TUNING.columns.index("seed") :])
    directory.write_table(TUNING.name, pd.DataFrame(rows, columns=columns))
    directory.write_text(TUNING_JSON, json.dumps(tuning_record(config, chosen), indent=1))


def tuning_record(config, chosen: dict) -> dict:
    """What tuning.json holds: the search every arm had, and each arm's chosen candidate."""
    tuning = config.tuning
    search = {
        "sampler": SAMPLER,
        "sampler_seed": tuning.tune_sampler_seed,
        "candidates": tuning.tune_candidates,
        "per_round": tuning.tune_per_round,
        "seeds": list(tuning.tune_seeds),
        "space": {entry.key: entry.described() for entry in tuning.space},
        "objective": OBJECTIVE,
        "pruner": _pruner(tuning),
    }
    arms_chosen = {
        name: {**best.arm.identity(), "candidate": best.number, "recipe": best.recipe, "objective": best.objective}
        for name, best in chosen.items()
    }
    return {"format": 1, "search": search, "arms": arms_chosen}


def _pruner(tuning: Tuning) -> str:
    """The pruning rule as tuning.json (and claim.md) says it: "none" where there is none."""
    if not tuning.prunes:
        return "none"
    return (
        f"median after epoch {tuning.tune_prune_after} on: from the second round, a candidate stopped after the "
        "first epoch (before its last) where its validation accuracy was below the median of its arm's unpruned "
        "candidates of earlier rounds there; a pruned candidate is never chosen"
    )


def recorded_recipes(directory: RunDir) -> dict[str, dict]:
    """Each arm's chosen recipe as the run's tuning.json records it (a run finished again on its own)."""
    if not directory.has(TUNING_JSON):
        raise InputError(f"{directory.path(TUNING_JSON)} is missing: run `vggbench run` with this folder to tune")
    record = read_json(directory.own(TUNING_JSON), follow=False)
    return {name: arm["recipe"] for name, arm in record["arms"].items()}

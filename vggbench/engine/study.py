"""The study engine: plan a configuration's trials, run them on an executor, and finish the run.

    tune      where the config tunes, each arm's recipe first, in rounds of candidates that run as training
              trials on the same executor (vggbench.engine.tuning); the training trials are then planned at
              the chosen recipes
    plan      every selected kind's trials (`trials`)
    execute   speed trials first, one at a time with nothing else in flight; then every
              other trial as soon as the trials whose files it reads are done, batched as
              its kind says (a model's seeds still to train, together) and each recorded
              as its own; a failed trial becomes a row with its error (or, for a single
              command, stops it)
              (under a sequential design in rounds: after each, the looks are judged once and
              stored, and the next round trains what they leave open; vggbench.engine._rounds)
    finish    the tables from the trials: the engine ends there

`run` does all three into a resumable run directory; its callers make the claim and the report
from the tables (vggbench.reporting.finish). A single command (`vggbench speed`, `train`, ...)
runs its one-kind study on the same engine without one (vggbench.engine.outputs).
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from vggbench.engine import _rounds as rounds
from vggbench.engine import tuning
from vggbench.engine._estimate import Rates, measure_rates
from vggbench.engine._store import Store
from vggbench.engine.config import StudyConfig, run_config
from vggbench.engine.contract import Outcome, Trial
from vggbench.engine.executors import LocalExecutor, TrialLost
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import (
    DAMAGED,
    DONE,
    FAILED,
    INCOMPLETE,
    MISSING,
    OTHER_CONFIG,
    TUNING_DB,
    TUNING_JSON,
    RunDir,
    now,
    spec_key,
)
from vggbench.measure import data, memory, noise
from vggbench.measure.hardware import Machine, device_name, environment
from vggbench.models.schema import keys_in
from vggbench.util.validate import InputError
from vggbench.verdicts.vocabulary import STACK, rivals

Report = Callable[[str], None]


class TrialFailed(InputError):
    """A trial of a single command failed; the message names it and its error."""


def trials(config: StudyConfig) -> list[Trial]:
    """Every selected kind's trials, in the order of the kinds; a trial that reads others' files carries their
    fingerprints (`Trial.upstream`), so that it is redone whenever one of them is."""
    return linked([trial for name in config.kinds for trial in KINDS[name].plan(config)])


def linked(plan: list[Trial]) -> list[Trial]:
    """`plan` with each trial's `upstream` holding the fingerprints of the trials it needs, in their order
    (theirs holding their own upstream's: a change anywhere upstream reaches every trial below it)."""
    by_key = {(trial.kind, trial.key): trial for trial in plan}
    done: dict[tuple[str, str], Trial] = {}

    def link(trial: Trial, path: tuple = ()) -> Trial:
        name = (trial.kind, trial.key)
        if name not in done:
            if name in path:
                raise ValueError(f"trials wait on each other in a circle: {[*path, name]}")
            needed = [link(by_key[need], (*path, name)).fingerprint for need in trial.needs if need in by_key]
            done[name] = dataclasses.replace(trial, upstream=(*trial.upstream, *needed)) if needed else trial
        return done[name]

    return [link(trial) for trial in plan]


MAX_TRIALS = 10_000  # the trials a run plans without --large: planning a larger grid alone takes minutes


def count(config: StudyConfig) -> dict[str, int]:
    """How many trials each selected kind plans, counted without planning them (and the tuning candidates')."""
    counts = {name: KINDS[name].count(config) for name in config.kinds}
    candidates = len(tuning.arms(config)) * len(config.tune_seeds) if config.tuning.enabled else 0
    return counts | ({"tuning": candidates * config.tuning.tune_candidates} if candidates else {})


def check_size(counts: dict[str, int], large: bool) -> None:
    """Refuse a grid of more than MAX_TRIALS trials, unless `large` (the command line's --large) allows it."""
    total = sum(counts.values())
    if total > MAX_TRIALS and not large:
        by_kind = ", ".join(f"{name} {number:,}" for name, number in counts.items())
        raise InputError(
            f"the configuration plans {total:,} trials ({by_kind}), more than the {MAX_TRIALS:,} a run takes "
            "without --large: check the seeds and the grid, or give --large to plan them (that alone takes minutes)"
        )


def estimates(plan: list[Trial], rates: Rates) -> dict[Trial, float]:
    """Each trial's estimated seconds at the rates measured on this machine."""
    return {trial: KINDS[trial.kind].estimate_s(trial, rates.of(trial)) for trial in plan}


@dataclass(frozen=True)
class DryRun:
    """A plan with its time estimates, and what it needs of the machine: what `vggbench run --dry-run` shows."""

    table: pd.DataFrame  # per trial: kind, trial, done (in the run folder already), estimate_s (NaN: not estimated)
    machine: Machine  # the device and threads the plan runs on
    memory: list[memory.Need]  # per device, its largest run's need (of the trials to run), and what this machine has
    sequential: bool  # the later rounds run only while a comparison is undecided
    not_estimated: str  # why some trials to run have no estimate; '' where every one has
    folder: list[str] = dataclasses.field(default_factory=list)  # what the run folder holds, as the run says it

    def lines(self) -> list[str]:
        """What the folder holds, the trials' count and the time of those to run, the device, and each device's
        memory need, in words."""
        todo = self.table[~self.table["done"]]
        estimated = todo["estimate_s"].notna()
        total, device = todo.loc[estimated, "estimate_s"].sum(), self.machine.device
        count = ("at most " if self.sequential else "") + f"{len(self.table)} trials"
        scope = f" for the {len(todo)} to run" if len(todo) < len(self.table) else ""
        time = f"about {total / 60:.0f} min ({total:.0f} s) on {device}{scope}"
        if todo.empty:
            time = "none to run"
        elif estimated.all():
            time += ", estimated from a few timed training steps of each model on this machine, as it is loaded now"
        elif estimated.any():
            time += f" for the {estimated.sum()} estimated; {(~estimated).sum()} not estimated: {self.not_estimated}"
        else:
            time = f"not estimated: {self.not_estimated}"
        if memory.present(device):
            where = f"device: {device} ({device_name(device)}), {self.machine.threads} threads"
        else:
            where = f"device: {device}, which this machine does not have (no CUDA GPU): the plan is shown for it"
        return [*self.folder, f"{count}, {time}", where, *(need.sentence() for need in self.memory)]


def dry_run(
    config: StudyConfig,
    large: bool = False,
    counts: dict[str, int] | None = None,
    run_dir: str | Path | None = None,
    force: bool = False,
) -> DryRun:
    """The trials with an estimate of each one's time, calibrated by a few training steps of each model, and
    the memory the largest run needs on each device. It works on any machine: a device this machine lacks, or
    a run that does not fit in its memory, leaves the trials concerned without an estimate, and says so. A grid
    above MAX_TRIALS (`counts`: by `count`, where the caller has them) is refused unless `large`.

    `run_dir` is read as the run would read it, and left as it is: a folder the run may not write in (a published
    one) or a run of another configuration there (unless `force`) is refused as the run refuses it, and the
    trials done there are counted and not estimated."""
    check_size(counts or count(config), large)
    candidates, planned = tuning.placeholders(config), trials(config)  # the candidates at the config's recipe
    plan, folder = candidates + planned, []
    ahead = plan
    directory = None if run_dir is None else RunDir(run_dir, KINDS)
    if directory is not None:
        directory.check_runnable()
    if directory is not None and directory.root.is_dir():
        check_folder(directory, config, force)
        ahead = _ahead(config, directory, candidates, planned, lambda line: folder.append(f"{directory.root}: {line}"))
        if config.tuning.enabled:  # _ahead says what is done only where no search chooses the recipes
            done = len(plan) - len(ahead)
            folder.append(f"{directory.root}: {len(plan)} trials, {done} already done, {len(ahead)} to run")
    to_run = {(trial.kind, trial.key) for trial in ahead}
    batched = runs(ahead)
    needs = [memory.Need.of(*KINDS[run.kind].memory(run), f"{run.kind} {run.key}") for run in batched]
    too_big = {run.spec for run, need in zip(batched, needs, strict=True) if not need.fits}
    timed = [run for run, need in zip(batched, needs, strict=True) if need.fits and run.spec not in too_big]
    device, why = config.machine.device, ""
    rates = None
    if not memory.present(device):
        why = "this machine has no CUDA GPU to time them on"
    else:
        rates = measure_rates(timed, device, config.machine.threads) if timed else None
        if too_big:
            why = "their models' runs need more memory than this machine has (below)"
    rows = []
    for trial in plan:
        done = (trial.kind, trial.key) not in to_run
        known = rates is not None and (trial.spec in rates.by_model or (trial.spec is None and rates.other > 0))
        seconds = KINDS[trial.kind].estimate_s(trial, rates.of(trial)) if known and not done else math.nan
        rows.append({"kind": trial.kind, "trial": trial.key, "done": done, "estimate_s": seconds})
    table = pd.DataFrame(rows, columns=["kind", "trial", "done", "estimate_s"])
    needs.sort(key=lambda need: need.device != device)  # the plan's device first
    return DryRun(table, config.machine, memory.largest(needs), config.design.sequential, why, folder)


class Progress:
    """Reports each finished trial; with time estimates, also the time left (the estimates still to come,
    scaled by how the elapsed time compares with the estimates of the trials done)."""

    def __init__(self, todo: list[Trial], report: Report, rates: Rates | None = None) -> None:
        self.report, self.total, self.finished = report, len(todo), 0
        self.costs = estimates(todo, rates) if rates else {}
        self.spent, self.clock = 0.0, time.perf_counter()

    def __call__(self, trial: Trial, outcome: Outcome) -> None:
        self.finished += 1
        parts = [f"FAILED: {outcome.error}" if outcome.error else KINDS[trial.kind].describe(outcome.rows)]
        if self.costs:
            elapsed = time.perf_counter() - self.clock
            self.spent += self.costs[trial]
            left = max(0.0, elapsed * (sum(self.costs.values()) - self.spent) / self.spent)
            parts.append(f"{elapsed:.0f} s elapsed, about {left:.0f} s left")
        self.report(f"[{self.finished}/{self.total}] {trial.kind} {trial.key}: " + "; ".join(filter(None, parts)))


def batches(todo: list[Trial]) -> list[tuple[Trial, list[Trial]]]:
    """The runs that do `todo`, as each kind batches its trials: (the trial to run, the trials of `todo` it does)."""
    kinds = dict.fromkeys(trial.kind for trial in todo)
    return [pair for kind in kinds for pair in KINDS[kind].batch([trial for trial in todo if trial.kind == kind])]


def runs(todo: list[Trial]) -> list[Trial]:
    """The trials that run to do `todo` (a batch's trial for its members): what memory and rates are sized on."""
    return [run for run, _ in batches(todo)]


def _collect(executor, run: Trial, handle, keep_going: bool) -> Outcome:
    """The outcome of `run`; a failure stops the work where not `keep_going`."""
    try:
        outcome = executor.result(handle)
    except TrialLost as lost:
        outcome = Outcome([], error=str(lost))
    if outcome.error is not None and not keep_going:
        raise TrialFailed(f"{run.kind} {run.key}: {outcome.error}")
    return outcome


def _parts(run: Trial, members: list[Trial], outcome: Outcome) -> list[Outcome]:
    """Each member's outcome: its share of the run's, or, where the run failed, a row with the error."""
    if outcome.error is None:
        return KINDS[run.kind].split(outcome, members)
    return [Outcome([{**member.identity(), "error": outcome.error}], error=outcome.error) for member in members]


def execute(todo: list[Trial], executor, store: Store, progress: Callable, keep_going: bool = True) -> None:
    """Run `todo` on `executor`, as its kinds batch it. `store` (a RunDir, or a command's Outputs) tells which
    trials are done, gives a trial's input files and records each result as it comes; `progress(trial,
    outcome)` reports it."""
    planned = {(trial.kind, trial.key) for trial in todo}
    outside = [need for trial in todo for need in trial.needs if need not in planned and not store.done(*need)]
    if outside:
        raise ValueError(f"trials wait on trials that are neither done nor planned: {sorted(set(outside))}")
    finished: set[tuple[str, str]] = set()  # a planned trial's old file is no input: it waits for the new one

    def ready(trial: Trial) -> bool:
        return all(need in finished if need in planned else store.done(*need) for need in trial.needs)

    def complete(run: Trial, members: list[Trial], handle) -> None:
        parts = _parts(run, members, _collect(executor, run, handle, keep_going))
        for member, part in zip(members, parts, strict=True):  # all kept before any is reported (and maybe stopped)
            store.record(member, part)
            finished.add((member.kind, member.key))
        for member, part in zip(members, parts, strict=True):
            progress(member, part)

    pairs = batches(todo)
    for run, members in [pair for pair in pairs if KINDS[pair[0].kind].exclusive]:
        handle = executor.submit(run, store.inputs(run), alone=True)
        complete(run, members, executor.wait([handle]))
    waiting = [pair for pair in pairs if not KINDS[pair[0].kind].exclusive]
    pending: list[tuple[object, Trial, list[Trial]]] = []  # (handle, run, members); handles told apart by identity
    while waiting or pending:
        for run, members in [pair for pair in waiting if ready(pair[0])]:
            waiting.remove((run, members))
            pending.append((executor.submit(run, store.inputs(run), alone=False), run, members))
        handle = executor.wait([handle for handle, _, _ in pending])
        index = next(index for index, (submitted, _, _) in enumerate(pending) if submitted is handle)
        complete(*pending.pop(index)[1:], handle)


def take_probe(config: StudyConfig, report: Report) -> dict:
    """The machine-noise probe (vggbench.measure.noise), reported with a warning where the threads outnumber the idle
    cores; as metadata.json records it."""
    from vggbench.measure.speed import noise_probe

    probe = noise_probe(config.machine.device, config.machine.threads)
    report(f"timing noise: {probe.sentence()}")
    warning = noise.threads_warning(probe.threads, probe.idle_cores, probe.load_average_1min, probe.cores)
    if warning:
        report(warning)
    return probe.to_dict()


def find_data(plan: list[Trial], data_root: str | None, report: Report) -> None:
    """Stop before anything runs where a trial needs Fashion-MNIST and it cannot be found."""
    if any(KINDS[trial.kind].needs_data for trial in plan):
        files = data.locate(data_root)
        report(f"Fashion-MNIST from {files['train_images'].parent}")


def check_memory(plan: list[Trial]) -> None:
    """Refuse, before anything runs, a trial that would not fit in the memory of its device."""
    for trial in plan:
        needed, device = KINDS[trial.kind].memory(trial)
        memory.check_fits(needed, device, f"{trial.kind} trial {trial.key}")


DOWNSTREAM = "downstream"  # a done trial that reads the files of a trial to be redone
SHOWN_DAMAGE = 5  # the damaged trial files a run names, each with what is wrong (the count says the rest)


def _todo(directory: RunDir, plan: list[Trial], report: Report) -> list[Trial]:
    """The trials not done yet, and those that read the files of one of them; the report says how many, and
    why those that have a file are redone."""
    states = [directory.status(trial) for trial in plan]
    redone = {(trial.kind, trial.key) for trial, state in zip(plan, states, strict=True) if state != DONE}
    changed = True
    while changed:  # a trial whose input is made again is measured again, down the chain
        changed = False
        for index, trial in enumerate(plan):
            if states[index] == DONE and any(need in redone for need in trial.needs):
                states[index] = DOWNSTREAM
                redone.add((trial.kind, trial.key))
                changed = True
    todo = [trial for trial, state in zip(plan, states, strict=True) if state != DONE]
    damaged = [trial for trial, state in zip(plan, states, strict=True) if state == DAMAGED]
    for trial in damaged[:SHOWN_DAMAGE]:
        path = directory.trial_path(trial.kind, trial.key)
        report(f"{path}: {directory.damage(trial)}: redone")
    if len(damaged) > SHOWN_DAMAGE:
        report(f"... and {len(damaged) - SHOWN_DAMAGE} more trial file(s) whose rows or files do not match their trial")
    kinds = (FAILED, INCOMPLETE, DAMAGED, OTHER_CONFIG, DOWNSTREAM)
    again = {state: states.count(state) for state in kinds if state in states}
    why = {FAILED: "failed", INCOMPLETE: "with a file cut short or corrupt", OTHER_CONFIG: "made under another config"}
    why[DAMAGED] = "whose rows or files do not match their trial"
    why[DOWNSTREAM] = "reading the files of a trial redone"
    redone = ", ".join(f"{count} {why[state]}" for state, count in again.items())
    line = f"{len(plan)} trials, {len(plan) - len(todo)} already done, {len(todo)} to run"
    report(line + (f" (again: {redone})" if redone else ""))
    return todo


def run(
    config: StudyConfig,
    run_dir: str | Path,
    force: bool = False,
    data_root: str | None = None,
    report: Report = print,
    executor=None,
    large: bool = False,
) -> RunDir:
    """Run every trial not yet done in `run_dir` on `executor` (default: this process), then make its tables
    (`finish`). The folder is held by this run alone while it works. A grid above MAX_TRIALS is refused unless
    `large`."""
    executor = executor or LocalExecutor()
    config.machine.check_available(report)
    check_size(count(config), large)
    plan = trials(config)  # before the folder is touched: planning checks what the trials will read
    directory = RunDir(run_dir, KINDS)
    with directory.hold(report):
        _adopt(directory, config, force, report)
        candidates = tuning.placeholders(config)  # before they are asked: their keys, and their models' costs
        if force:
            remove_unmade(directory, config, candidates + plan, report)
        started, earlier, planned = now(), _earlier_sittings(directory), sitting_plan(config, plan)
        ahead = _ahead(config, directory, candidates, plan, report)
        check_memory(runs(ahead))
        find_data(ahead, data_root, report)
        probed = take_probe(config, report)  # before the executor starts (Ray's start-up keeps the cores busy)
        described = executor.start(config.machine, data_root, report)
        split = validation_split(config)

        def metadata(ended: str | None) -> dict:
            context = {"config": config.to_dict(), "executor": described, "started": started, "ended": ended}
            context |= {FACTORY: factory_identity(config)} if config.grid.factory else {}
            context |= {"validation_split": split} if split else {}
            found = environment(config.machine)
            sitting = {"started": started, "ended": ended, "git_commit": found.get("git_commit"), **planned}
            sittings = [*earlier, sitting]
            return {**found, **context, "sittings": sittings, "noise_probe": probed}

        try:
            directory.write_metadata(metadata(None))
            rates = measure_rates(runs(ahead), config.machine.device, config.machine.threads)
            todo = ahead
            if config.tuning.enabled:
                config = tuning.tune(config, directory, _runner(executor, directory, report, rates), report)
                plan = trials(config)
                todo = _todo(directory, plan, report)
            if config.design.sequential:
                _execute_rounds(config, plan, todo, executor, directory, report, rates)
            else:
                execute(todo, executor, directory, Progress(todo, report, rates))
        finally:
            executor.stop()
        directory.write_metadata(metadata(now()))
        finish(directory, config, plan)
        return directory


def check_folder(directory: RunDir, config: StudyConfig, force: bool) -> None:
    """Refuse a folder holding a run of another configuration or of a factory's other source, unless `force`: what
    a run checks before it touches the folder, and its dry run before it counts the trials done there."""
    if not force:  # the folder's configuration, checked as every reader of a run checks it
        run_config(directory, missing_ok=True)
        check_factory_source(directory, config)
        directory.check_same_config(config.to_dict())


def _adopt(directory: RunDir, config: StudyConfig, force: bool, report: Report) -> None:
    """Make the folder the run of `config`, refusing one of another configuration or of a factory's other source
    unless `force`; then say what the configuration does that its keys do not (StudyConfig.notes)."""
    check_folder(directory, config, force)
    directory.adopt(config.to_dict(), force=True)  # checked above
    for note in config.notes():
        report(note)


FACTORY = "factory"  # metadata.json's record of a factory's identity: its target and the digest of its source


def factory_identity(config: StudyConfig) -> dict:
    """The identity of the configuration's factory, as metadata.json records it."""
    arch = config.models()[0].arch
    return {"target": arch.target, "source_sha256": arch.source_sha256}


def check_factory_source(directory: RunDir, config: StudyConfig) -> None:
    """Refuse to go on with a run of a factory whose source changed since the run recorded it (its trials ran the
    function as it was): --force redoes them."""
    recorded = directory.metadata().get(FACTORY) if config.grid.factory else None
    if isinstance(recorded, dict) and recorded != factory_identity(config):
        was, now_is = recorded.get("source_sha256", "?")[:12], factory_identity(config)["source_sha256"][:12]
        raise InputError(
            f"{directory.root} holds a run of factory {recorded.get('target')} whose source changed since (sha256 "
            f"{was} then, {now_is} now): restore the source, use another RUN_DIR, or --force to redo its trials"
        )


def _ahead(config: StudyConfig, directory: RunDir, candidates: list[Trial], plan: list[Trial], report) -> list:
    """The trials this sitting may run, as memory, data and rates are checked for: those not done, or where a
    search will choose the recipes, the candidates and planned trials with no file yet (by key)."""
    if config.tuning.enabled:
        return [trial for trial in candidates + plan if not directory.done(trial.kind, trial.key)]
    return _todo(directory, plan, report)


def _runner(executor, directory: RunDir, report: Report, rates: Rates) -> Callable[[list[Trial]], None]:
    """What runs a tuning round's trials: `execute` on the run's executor, each reported."""
    return lambda todo: execute(todo, executor, directory, Progress(todo, report, rates))


def validation_split(config: StudyConfig) -> dict | None:
    """The training images the run holds out for validation, as metadata.json records them (its size, the seed
    of the draw and a digest of the indices: vggbench.measure.validation.record); None where it trains nothing."""
    if "train" not in config.kinds:
        return None
    from vggbench.measure import validation  # here: it imports torch, which planning a run does not need

    return validation.record(config.validation_images)


def remove_unmade(directory: RunDir, config: StudyConfig, plan: list[Trial], report: Report) -> None:
    """Remove from `directory` the trials, their checkpoints and maps, and the tables of kinds that `config`
    (adopted with --force) does not make, and say so in one line: the tables and the claim then describe this
    configuration's run only."""
    made = {table.name for name in config.kinds for table in KINDS[name].tables}
    made -= set() if config.tuning.enabled else {tuning.TUNING.name}
    removed = directory.remove_unmade(plan, {table.name for kind in KINDS.values() for table in kind.tables} - made)
    removed += [] if config.tuning.enabled else directory.remove_files([TUNING_JSON, TUNING_DB])
    if removed:
        tables = [name for name in removed if "/" not in name]
        folders = collections.Counter(name.split("/")[0] + "/" for name in removed if "/" in name)
        parts = [*tables, *(f"{count} file(s) in {folder}" for folder, count in folders.items())]
        report(f"{directory.root}: removed what this configuration does not make: {', '.join(parts)}")


def _earlier_sittings(directory: RunDir) -> list[dict]:
    """The sittings of a resumed run before this one, oldest first: when each started and ended (None where it
    was interrupted) and the commit it ran; from metadata.json, whose `started` is the latest sitting's."""
    try:
        earlier = directory.metadata()
    except InputError:
        return []  # unreadable: the run's history is lost, not its trials
    if isinstance(earlier.get("sittings"), list):
        return [sitting for sitting in earlier["sittings"] if isinstance(sitting, dict)]
    return [{key: earlier.get(key) for key in ("started", "ended", "git_commit")}] if earlier.get("started") else []


def sitting_plan(config: StudyConfig, plan: list[Trial]) -> dict:
    """What a sitting planned, as metadata.json's `sittings` records it beside its times and commit: the digest of
    its config.json (`config_digest`), the design of its accuracy comparisons (`design`: the rule, the keys it
    reads, the seeds per arm at most and the equivalence margin) and their family (`comparisons`). A run resumed
    under another design or family (--force, seeds added) was not fixed before it ran: the claim says so from
    these (vggbench.reporting.claim.history_sentence)."""
    values = config.to_dict()
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    design = {"design": config.design.design} | {key: values[key] for key in type(config.design.rule).KNOBS}
    design |= {"max_seeds": len(config.trained_seeds), "equivalence_margin": config.equivalence_margin}
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return {"config_digest": digest, "design": design, "comparisons": accuracy_family(plan)}


def accuracy_family(plan: list[Trial]) -> list[str]:
    """The accuracy comparisons `plan` trains for, as `vgg11-stack-r8-px32 vs single`: the stack against each
    rival variant of its group (vggbench.verdicts.vocabulary.rivals), in the plan's order; where it trains
    several budgets, each budget's apart (`vgg11-stack-r8-px32 at 15 epochs vs single`)."""
    training = [trial for trial in plan if trial.kind == "train" and trial.spec is not None]
    several = len({trial.setup.epochs for trial in training}) > 1  # one budget: named as before budgets were an axis
    variants: dict[str, dict[str, None]] = {}
    for trial in training:
        group = spec_key(trial.spec, STACK) + (f" at {trial.setup.epochs} epochs" if several else "")
        variants.setdefault(group, {})[trial.spec.variant] = None
    return [f"{group} vs {rival}" for group, found in variants.items() for rival in rivals(list(found))]


def _execute_rounds(config: StudyConfig, plan, todo, executor, directory: RunDir, report: Report, rates) -> None:
    """`todo` in the rounds of a sequential design (vggbench.engine._rounds): after each round its look is judged
    and stored; the next round leaves out the trials of models that no open accuracy comparison needs any more,
    and the run stops once none is open."""
    looks = rounds.looks(config)
    models = None  # before the first look, every model
    for number, seeds in enumerate(looks, start=1):
        wanted = [trial for trial in todo if rounds.round_of(trial, config) == number]
        wanted = [trial for trial in wanted if models is None or rounds.still_needed(trial, models)]
        report(f"round {number} of {len(looks)} (up to {seeds} seeds per arm): {len(wanted)} trials to run")
        execute(wanted, executor, directory, Progress(wanted, report, rates))
        models = rounds.judge(directory, plan, config, report)
        if not models and number < len(looks):
            report(f"every accuracy comparison is decided after {seeds} seeds per arm: no more seeds")
            return


def check_complete(directory: RunDir, config: StudyConfig, plan: list[Trial]) -> None:
    """Refuse to make tables from `plan` while some of its trials have no whole file of this configuration (a
    trials/ folder gone, a run cut short): the tables there stay as they are. Under a sequential design, the
    later rounds' training trials that no round needed are absent by design."""
    states = {trial: directory.status(trial) for trial in plan}
    absent = [
        trial
        for trial, state in states.items()
        if state not in (DONE, FAILED)
        and not (state == MISSING and config.design.sequential and rounds.round_of(trial, config) > 1)
    ]
    if absent:
        named = ", ".join(f"{trial.kind} {trial.key}" for trial in absent[:3]) + (" ..." if len(absent) > 3 else "")
        raise InputError(
            f"{directory.root} lacks {len(absent)} of its {len(plan)} trials ({named}): its tables are left as they "
            "are; run `vggbench run` with this folder to redo them"
        )


def write_tables(directory: RunDir, config: StudyConfig, plan: list[Trial]) -> dict[str, pd.DataFrame]:
    """Every selected kind's tables from the trials of the configuration's plan, and the summary: one row
    per model. Trial files of other configurations in the folder are not read. Every trial of the plan must be
    there (`check_complete`): no table is rewritten from part of them."""
    check_complete(directory, config, plan)
    tables: dict[str, pd.DataFrame] = {}
    summaries = []
    for name in config.kinds:
        rows = directory.rows([trial for trial in plan if trial.kind == name])
        tables.update(KINDS[name].make_tables(rows, config))
        summaries.append(KINDS[name].summarize(rows))
    tables["summary"] = summary(summaries)
    failed = directory.failures(plan)
    tables["failures"] = pd.DataFrame(
        [{"kind": trial.kind, "trial": trial.key, **trial.identity(), "error": error} for trial, error in failed],
        columns=["kind", "trial", "error"] if not failed else None,
    )
    for name, table in tables.items():
        directory.write_table(name, table)
    return tables


def summary(parts: list[pd.DataFrame | None]) -> pd.DataFrame:
    """The kinds' per-model summaries side by side, joined on the identity columns."""
    parts = [part for part in parts if part is not None and not part.empty]
    if not parts:
        return pd.DataFrame()
    table = parts[0]
    for part in parts[1:]:
        table = table.merge(part, on=[key for key in keys_in(table) if key in part], how="left")
    return table


def finish(directory: RunDir, config: StudyConfig, plan: list[Trial]) -> dict[str, pd.DataFrame]:
    """The end of every run: the tables from the trials of `plan` (the configuration's, as the run planned
    it), written and returned. The claim and the report are made from them above the engine."""
    return write_tables(directory, config, plan)


def finish_folder(run_dir: str | Path) -> dict[str, pd.DataFrame]:
    """Finish a run directory on its own (after a finish was cut short): its config.json, planned here once."""
    directory = RunDir(run_dir, KINDS)
    config = StudyConfig(run_config(directory))
    if config.tuning.enabled:
        config = config.with_recipes(tuning.recorded_recipes(directory))
    return finish(directory, config, trials(config))

"""The `vggbench` command line: a thin layer over the study engine.

Each measurement kind's command (`static`, `speed`, `train`, `erf`) is a one-kind study,
and its options are derived from the knobs of the kind's setup (defaults, allowed values
and help included; see vggbench.util.knobs). `run` runs a whole study into a run directory;
`claim`, `report` and `publish` work on one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import traceback
from typing import TYPE_CHECKING

from vggbench.util import knobs
from vggbench.util.validate import SHOWN_CHARACTERS, InputError, did_you_mean, printable, shown

if TYPE_CHECKING:
    import pandas as pd

STDOUT = "-"
BAD_INPUT = 2  # the exit status of a bad value or input (the message names it and what is allowed)
FAILED_TRIALS = 3  # the exit status of a run that finished with failed trials
BUG = 70  # the exit status of an internal error (EX_SOFTWARE), printed with its traceback
MAX_REPLAYS = 100_000  # `vggbench design`'s replays per scenario: enough for a share to +-0.3%
REGRESSION = 4  # the exit status of `compare` where run B is significantly slower than run A somewhere


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line, without the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {_cut(message)} (see {self.prog} --help)\n")

    def _check_value(self, action, value):
        """A value outside an option's (or the commands') choices, with the choice it is closest to."""
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(str, action.choices))
            hint = did_you_mean(value, action.choices)
            raise argparse.ArgumentError(action, f"invalid choice: {shown(value)}{hint}; choose from {choices}")


def _cut(message: str) -> str:
    """`message` with each word longer than `shown` leaves one cut to its start (argparse and the OS echo a value
    whole)."""
    return re.sub(rf"\S{{{SHOWN_CHARACTERS + 4},}}", lambda word: shown(word.group(), quoted=False), message)


def _integer(text: str) -> int:
    # Only the type is checked here; every range is checked once, by the setups.
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {shown(text)}") from None


def _path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"invalid path: {shown(text)} (give a file or folder name)")
    return text


def _output(text: str, folder: bool) -> str:
    """An output option's path, refused before any work where it names what vggbench must not replace."""
    from vggbench.util.csvio import check_output

    if _path(text) == STDOUT:
        return text
    try:
        check_output(text, folder)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _output_file(text: str) -> str:
    return _output(text, folder=False)


def _output_folder(text: str) -> str:
    return _output(text, folder=True)


def _boolean(text: str) -> bool:
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"invalid boolean value: {shown(text)} (true or false)")
    return words[text.lower()]


class _Version(argparse.Action):
    """--version: the version, read when asked (not on every start)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from vggbench.util.version import describe

        print(describe())
        parser.exit()


class _Switches(argparse.Action):
    """A flag that may take values: alone it means true; `--batch-norm false true` gives both."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values or [True])


def _shown(value) -> str | None:
    """A default as the help shows it; None where there is none to show."""
    if value in (None, False, (False,), dataclasses.MISSING):
        return None
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_knobs(parser: argparse.ArgumentParser, cls, defaults: dict | None = None, seen: set | None = None) -> list[str]:
    """Add the command-line options of setup class `cls` (those not in `seen`); returns their destinations.

    Options default to argparse.SUPPRESS: a value not given stays absent, and the setup's
    default (or the command's, from `defaults`) applies.
    """
    groups = {group.title: group for group in parser._action_groups}
    added = []
    for option in knobs.options(cls):
        dest = option.key or option.name
        if not option.flags or (seen is not None and dest in seen):
            continue
        axis_default = option.knob.axis if isinstance(option.knob.axis, tuple) else None
        default = (defaults or {}).get(dest, axis_default or option.default)
        title = option.knob.group or cls.GROUP
        if title not in groups:
            groups[title] = parser.add_argument_group(title)
        group = groups[title]
        shown = _shown(default)
        settings = {"dest": dest, "default": argparse.SUPPRESS}
        settings["help"] = option.knob.help + (f" (default: {shown})" if shown else "")
        if option.kind is bool and option.is_list:
            settings.update(action=_Switches, nargs="*", type=_boolean, metavar="BOOL")
        elif option.kind is bool:  # on by default, or the device's default: it can be turned off too
            on = default is True or option.optional
            settings["action"] = argparse.BooleanOptionalAction if on else "store_true"
        else:
            settings["type"] = {int: _integer, float: float, str: str}[option.kind]
            settings.update(nargs="+" if option.is_list else None, choices=option.knob.choices)
            name = option.flags[0].lstrip("-").replace("-", "_").upper()
            settings["metavar"] = option.knob.metavar or (None if option.knob.choices else name)
        group.add_argument(*option.flags, **settings)
        added.append(dest)
        if seen is not None:
            seen.add(dest)
    return added


def given(args: argparse.Namespace) -> dict:
    """The knob values given on the command line, by config key."""
    values = {key: getattr(args, key) for key in args.knob_keys if hasattr(args, key)}
    return {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()}


def _readable(table: pd.DataFrame, where: str = "the CSV") -> str:
    """The table in human units (121.1 M), at most 120 characters a line (vggbench.reporting.terminal)."""
    from vggbench.reporting import terminal

    return terminal.text(table, where)


def _emit(table: pd.DataFrame, destination: str | None, shown_columns, title: str) -> None:
    """Print `table` (those of `shown_columns` it has) and write all of it as CSV to `destination`."""
    _emit_all([(table, destination, shown_columns, title)])


def _emit_all(emitted: list[tuple[pd.DataFrame, str | None, list[str], str]]) -> None:
    """_emit each (table, destination, shown_columns, title), every file written before anything is printed: a
    closed pipe (`| head`) ends the printing, and must not cost a file."""
    from vggbench.reporting.terminal import wrapped
    from vggbench.util.csvio import write_csv

    for table, destination, _, _ in emitted:
        if destination not in (None, STDOUT):
            write_csv(table, destination)
    for table, destination, shown_columns, title in emitted:
        where = destination if destination not in (None, STDOUT) else "the table's CSV option (--help)"
        print(f"{wrapped(title)}\n{_readable(table[[column for column in shown_columns if column in table]], where)}\n")
        if destination not in (None, STDOUT):
            print(f"wrote {len(table)} rows to {destination}\n")


def _progress(line: str) -> None:
    print(printable(line), file=sys.stderr, flush=True)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _measure(args: argparse.Namespace) -> None:
    """A kind's command: its one-kind study, then its tables printed and written."""
    from vggbench.engine import outputs
    from vggbench.engine.config import StudyConfig
    from vggbench.engine.registry import KINDS

    kind = next((KINDS[name] for name in args.alternatives if getattr(args, _dest(KINDS[name].switch[0]))), None)
    kind = kind or KINDS[args.kind]
    _refuse_idle_options(args, kind, [KINDS[name] for name in (args.kind, *args.alternatives)])
    values = {**KINDS[args.kind].command_defaults, **given(args), "kinds": (kind.name,)}
    if kind.models_from and values.get(kind.models_from):
        _refuse_model_options(args, given(args))
    config = StudyConfig(values)
    save_to = getattr(args, _dest(kind.files.flag)) if kind.files else None
    rows = outputs.measure(config, args.out, save_to, getattr(args, "data_root", None), _progress)
    tables = kind.make_tables(rows, config) if not rows.empty else {}
    emitted = []
    for table in kind.tables:
        destination = getattr(args, _dest(table.flag))
        if table.name in tables and (destination is not None or not table.on_request):
            emitted.append((tables[table.name], destination, table.columns, table.title))
    summary = kind.summarize(rows) if kind.summary_table and not rows.empty else None
    if summary is not None:
        table = kind.summary_table
        emitted.append((summary, getattr(args, _dest(table.flag)), table.columns, table.title))
    _emit_all(emitted)


def _refuse_idle_options(args: argparse.Namespace, running, kinds: list) -> None:
    """Refuse an option that only another kind of the command reads (--pairs without --paired): it would be
    ignored, unchecked."""
    used = {option.key for option in knobs.options(running.setup)} if running.setup else set()
    idle = [
        option.flags[0]
        for kind in kinds
        if kind is not running and kind.setup
        for option in knobs.options(kind.setup)
        if option.key not in used and option.key in given(args)
    ]
    if idle:
        switch = next((kind.switch[0] for kind in kinds if kind.switch and kind is not running), None)
        where = f" applies with {switch}" if switch else " does not apply here"
        raise InputError(f"{', '.join(dict.fromkeys(idle))}{where}: without it, it would be ignored")


def _refuse_model_options(args: argparse.Namespace, values: dict) -> None:
    """Where a kind's models come from files (erf --checkpoint), model options would be ignored: refuse them."""
    from vggbench.models.arch import Grid

    given_models = [option.flags[0] for option in knobs.options(Grid) if (option.key or option.name) in values]
    if given_models:
        raise InputError(
            f"{', '.join(given_models)} do(es) not apply with --checkpoint: the models are the ones saved in the files"
        )


def _data_root_option(parser) -> None:
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        type=_path,
        help="folder with the four Fashion-MNIST IDX files (else VGGBENCH_DATA, the user cache, "
        "Debian's dataset-fashion-mnist, then torchvision's download)",
    )


def _output_options(parser, kinds) -> None:
    output = parser.add_argument_group("output")
    flags: set[str] = set()
    for kind in kinds:
        for table in [*kind.tables, *([kind.summary_table] if kind.summary_table else [])]:
            if table.flag not in flags:
                flags.add(table.flag)
                extra = {"nargs": "?", "const": STDOUT} if table.on_request else {}
                output.add_argument(table.flag, metavar="FILE.csv", type=_output_file, help=table.help, **extra)
        if kind.files and kind.files.flag not in flags:
            flags.add(kind.files.flag)
            saves = _output_file if kind.files.one_file else _output_folder
            output.add_argument(kind.files.flag, metavar=kind.files.metavar, type=saves, help=kind.files.help)


def _add_kind_command(commands, primary, alternatives: list) -> None:
    """The command of kind `primary`; `alternatives` run instead when their switch (e.g. --paired) is given."""
    from vggbench.engine.config import Scope
    from vggbench.models.arch import Grid

    kinds = [primary, *alternatives]
    parser = commands.add_parser(primary.name, help=primary.help, description=primary.description)
    seen: set[str] = set()
    keys = add_knobs(parser, Grid, primary.command_defaults, seen) if primary.uses_models else []
    if any(kind.uses_seeds for kind in kinds):
        keys += add_knobs(parser, Scope, primary.command_defaults, seen)
    for kind in kinds:
        keys += add_knobs(parser, kind.setup, primary.command_defaults, seen) if kind.setup else []
    groups = {group.title: group for group in parser._action_groups}
    for kind in alternatives:
        flag, text = kind.switch
        groups[kind.setup.GROUP].add_argument(flag, action="store_true", help=text)
    if any(kind.needs_data for kind in kinds):
        _data_root_option(parser)
    _output_options(parser, kinds)
    parser.set_defaults(
        handler=_measure, kind=primary.name, alternatives=[kind.name for kind in alternatives], knob_keys=keys
    )


def _run(args: argparse.Namespace) -> int:
    from vggbench.engine import study
    from vggbench.engine.config import load_config
    from vggbench.reporting import reports, terminal

    config = load_config(args.preset, args.config, **given(args))
    _executor_options(args)
    if args.dry_run:
        counts = study.count(config)  # told at once: the estimates below calibrate on every model first
        by_kind = ", ".join(f"{name} {number:,}" for name, number in counts.items())
        print(f"{sum(counts.values()):,} trials planned ({by_kind}); estimating their time...", flush=True)
        plan = study.dry_run(config, args.large, counts)
        print(_readable(plan.table))
        print("\n".join(plan.lines()))
        return
    directory = study.run(
        config, args.out or f"runs/{args.preset}", args.force, args.data_root, _progress, _executor(args), args.large
    )
    page = reports.write(directory.root)
    print(f"Summary of {directory.root} (tables, claim.md, report.html and metadata.json there)")
    print(terminal.summary_text(directory.table("summary"), "summary.csv") + "\n")
    _print_claims(directory.table("claim"), directory.root)
    _print_report(page)
    failures = directory.table("failures")
    if not failures.empty:
        listed = "; ".join(f"{row.kind} {row.trial}: {row.error}" for row in failures.itertuples())
        print(printable(f"vggbench run: {len(failures)} trial(s) failed: {listed}"), file=sys.stderr)
        print("  (listed in failures.csv, claim.md and report.html; run again to retry them)", file=sys.stderr)
        return FAILED_TRIALS
    return 0


def _executor_options(args: argparse.Namespace) -> dict:
    """The chosen executor's options, checked (a dry run checks them too); options of another executor are an
    error."""
    from vggbench.engine.executors import EXECUTORS

    chosen = EXECUTORS[args.executor]
    for name, executor in EXECUTORS.items():
        for option in knobs.options(executor.options) if executor.options and name != args.executor else ():
            if hasattr(args, option.name):
                raise InputError(f"{option.flags[0]} {getattr(args, option.name)} needs --executor {name}")
    options = knobs.options(chosen.options) if chosen.options else ()
    values = {option.name: getattr(args, option.name) for option in options if hasattr(args, option.name)}
    if chosen.options:
        chosen.options(**values)  # checks them
    return values


def _executor(args: argparse.Namespace):
    """The executor chosen, made with its options."""
    from vggbench.engine.executors import EXECUTORS

    return EXECUTORS[args.executor](**_executor_options(args))


def _print_claims(claims: pd.DataFrame, run_dir) -> None:
    from vggbench.reporting import terminal

    print(terminal.wrapped(f"The claim, part by part (written to {run_dir}/claim.md and claim.csv)") + "\n")
    print(terminal.claim_text(claims))


def _print_report(path) -> None:
    print(f"report: {path} (figures as PNG and SVG in {path.parent / 'figures'})")


def _claim(args: argparse.Namespace) -> None:
    from vggbench.reporting import claim

    claims, _ = claim.report(args.run_dir, **given(args))
    _print_claims(claims, args.run_dir)


def _report(args: argparse.Namespace) -> None:
    from vggbench.reporting import report

    _print_report(report.write(args.run_dir))


def _training_run(args: argparse.Namespace, purpose: str):
    """(the run directory, its train table, its config, the equivalence margin: given, or the run's) of a
    command that reads a finished run's training rows, which must be there."""
    from vggbench.engine.config import Margins, run_config
    from vggbench.engine.registry import KINDS
    from vggbench.engine.rundir import RunDir

    directory = RunDir(args.run_dir, KINDS)
    train = directory.table("train")
    if train.empty or "test_acc" not in train:
        raise InputError(f"{directory.root} has no training rows (train.csv): nothing to {purpose}")
    config = run_config(directory, missing_ok=True)
    margin = Margins(**knobs.settings(Margins, {**config, **given(args)})).equivalence_margin  # checked, as the run's
    return directory, train, config, margin


def _power(args: argparse.Namespace) -> None:
    from vggbench.util.validate import number
    from vggbench.verdicts.designs import Design
    from vggbench.verdicts.train import power_table, unplanned

    number("--effect", args.effect, above=0, maximum=1)  # an accuracy difference: a share
    directory, train, config, margin = _training_run(args, "size from")
    table = power_table(train, args.effect, margin, Design(**knobs.settings(Design, config)))
    left_out = unplanned(train)
    if table.empty:
        raise InputError(f"cannot size any accuracy contrast from {directory.root}: {left_out}")
    shown = ["claim", "arch", "ratio", "resolution", "batch_norm", "baseline", "variant", "sd", "seeds_now", "mde_now"]
    shown += ["effect", "seeds_needed", "margin", "seeds_for_equivalence", "sequential_seeds_mean"]
    shown += ["sequential_seeds_max", "sequential_power"]
    title = (
        f"Seeds per arm for 80% power (alpha 0.05, two-sided), from {directory.root}; and what a group-sequential "
        "design spends at that effect (sequential_*: 400 simulated studies)"
    )
    _emit(table, args.out, shown, title)
    if left_out:
        print(printable(f"Not sized: {left_out}"))


def _design(args: argparse.Namespace) -> None:
    from vggbench.util.validate import at_most
    from vggbench.verdicts.design_check import design_table
    from vggbench.verdicts.designs import FIXED, GROUP_SEQUENTIAL, MAX_SEEDS, Design

    directory, train, _, margin = _training_run(args, "resample")
    at_most("--replays", args.replays, MAX_REPLAYS, "each scenario holds its replays in memory")
    chosen = {key: value for key, value in given(args).items() if key != "equivalence_margin"}
    sequential = Design(**knobs.settings(Design, {**chosen, "design": GROUP_SEQUENTIAL}))
    seeds = int(train.groupby("variant")["seed"].nunique().min()) if args.fixed_seeds is None else args.fixed_seeds
    if seeds < 2:
        raise InputError(f"--fixed-seeds {seeds} is not allowed: a Welch test needs at least 2 seeds per arm")
    at_most("--fixed-seeds", seeds, MAX_SEEDS, "seeds per arm a design may plan")
    fixed = Design(design=FIXED, max_seeds=seeds)
    plans = {FIXED: fixed.rule, GROUP_SEQUENTIAL: sequential.rule}
    table = design_table(train, plans, margin, args.replays, args.seed)
    shown = ["arch", "baseline", "variant", "scenario", "design", "seeds_per_round", "max_seeds", "type1_error"]
    shown += ["type1_ci_low", "type1_ci_high", "power", "equivalent_share", "inconclusive_share"]
    shown += ["seeds_per_arm_mean", "seeds_per_arm_median", "seeds_per_arm_max"]
    title = f"Designs replayed {args.replays} times on seeds resampled from {directory.root} (alpha 0.05)"
    _emit(table, args.out, shown, title)


def _add_design_command(commands) -> None:
    text = "check the group-sequential design by simulation on a run's per-seed accuracies, against the fixed one"
    what = (
        "Replay the fixed and the group-sequential design on seeds resampled from RUN_DIR's final accuracies: "
        "with no difference (each arm centred on the common mean: the type-I error, with its Clopper-Pearson 95% "
        "interval) and with the observed one (the power, and the seeds per arm used)."
    )
    parser = commands.add_parser("design", help=text, description=what)
    parser.add_argument("run_dir", metavar="RUN_DIR", type=_path, help="a directory written by `vggbench run`")
    from vggbench.engine.config import Margins
    from vggbench.verdicts.designs import Design

    not_options = {"design", "erf_margin"}  # both designs are replayed; no field is compared
    keys = add_knobs(parser, Design, seen=not_options) + add_knobs(parser, Margins, seen=not_options)
    parser.add_argument("--fixed-seeds", type=_integer, help="seeds per arm of the fixed design (default: the run's)")
    parser.add_argument(
        "--replays", type=_integer, default=2000, help=f"replays per scenario, at most {MAX_REPLAYS:,} (default: 2000)"
    )
    parser.add_argument("--seed", type=_integer, default=0, help="the resampling's random seed (default: 0)")
    parser.add_argument("--out", metavar="FILE.csv", type=_output_file, help="also write the table as CSV")
    parser.set_defaults(handler=_design, knob_keys=keys)


def _publish(args: argparse.Namespace) -> None:
    from vggbench.reporting.publish import publish

    target = publish(args.run_dir, args.results, _progress)
    print(f"published {args.run_dir} to {target} and listed it in {args.results}/README.md")


def _compare(args: argparse.Namespace) -> int:
    from vggbench.reporting import compare
    from vggbench.util.csvio import write_csv

    result = compare.compare(args.run_a, args.run_b, args.threshold)
    print(
        f"B ({args.run_b}) against A ({args.run_a}): a ratio above 1 means B is slower; a row is `slower` "
        f"(a regression) where its 95% interval lies above {1 + args.threshold:g}\n"
    )
    for note in result.notes:
        print(printable(f"note: {note}"))
    if result.notes:
        print()
    for measure in compare.measures():
        rows = result.rows[result.rows["table"] == measure.table]
        if not rows.empty:
            direction = "A / B (a rate)" if measure.rate else "B / A"
            title = f"{measure.table}: {measure.value}, ratio {direction}, 95% interval"
            _emit(rows, None, [*compare.shown(rows, measure), *compare.RESULT_COLUMNS], title)
    if args.out is not None:
        write_csv(result.rows, args.out)
        print(f"wrote {len(result.rows)} rows to {args.out}")
    if not result.regressions.empty:
        print(printable(f"vggbench compare: {compare.summary(result, args.threshold)}"), file=sys.stderr)
        return REGRESSION
    return 0


def _add_compare_command(commands) -> None:
    from vggbench.reporting.compare import THRESHOLD

    text = "compare two runs' speed, paired speed and density: ratios B / A with 95%% intervals, a regression gate"
    parser = commands.add_parser(
        "compare",
        help=text,
        description="Compare each measurement two runs share (speed.csv: step time; pairs.csv: paired time "
        "ratio; density.csv: achieved GFLOP/s), joined on the model and setup, as a ratio above 1 where B is "
        "slower, with a 95% interval from both runs' noise. Exits with status 4 where some interval lies "
        "above 1 + --threshold (a significant slowdown beyond it), else 0.",
    )
    parser.add_argument("run_a", metavar="RUN_A", type=_path, help="the reference: a run directory or published folder")
    parser.add_argument("run_b", metavar="RUN_B", type=_path, help="the run checked against RUN_A")
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"the slowdown tolerated, as a share (>= 0): a row is a regression where its 95%% interval lies "
        f"above 1 + THRESHOLD (default: {THRESHOLD})",
    )
    parser.add_argument("--out", metavar="FILE.csv", type=_output_file, help="also write the compared rows as CSV")
    parser.set_defaults(handler=_compare)


def _add_run_command(commands) -> None:
    from vggbench.engine.config import PRESET_SUMMARIES, PRESETS
    from vggbench.engine.executors import EXECUTORS
    from vggbench.measure.hardware import Machine

    run = commands.add_parser(
        "run",
        help="run the study: static cost, speed, paired speed, training and effective field over a grid, resumable",
        description="Run a grid of trials (arch x variant x ratio x resolution x seed) into RUN_DIR: static "
        "cost once per model, speed per model and mode, paired speed per model and mode, training per seed, "
        "the effective receptive field per model untrained and trained. Each finished trial is saved at once; "
        "rerunning with the same RUN_DIR skips finished trials. Ends with claim.md and report.html.",
    )
    run.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="quick",
        help="; ".join(f"{name}: {summary}" for name, summary in PRESET_SUMMARIES.items()) + " (default: quick)",
    )
    run.add_argument("--config", metavar="FILE.toml", type=_path, help="TOML file whose keys override the preset's")
    run.add_argument("--out", metavar="RUN_DIR", type=_output_folder, help="the run directory (default: runs/PRESET)")
    run.add_argument(
        "--force",
        action="store_true",
        help="reuse a RUN_DIR made with another configuration, removing the trials and tables it no longer makes",
    )
    run.add_argument("--dry-run", action="store_true", help="list the trials and estimate their time; run nothing")
    run.add_argument(
        "--large",
        action="store_true",
        help="allow a configuration of more than 10,000 trials (without it such a run, or dry run, is refused "
        "once they are counted)",
    )
    _data_root_option(run)
    keys = add_knobs(run, Machine)
    scaling = run.add_argument_group("scale-out")
    described = "; ".join(f"{name}: {executor.help}" for name, executor in EXECUTORS.items())
    scaling.add_argument("--executor", choices=list(EXECUTORS), default="local", help=f"{described} (default: local)")
    for executor in EXECUTORS.values():
        if executor.options:
            add_knobs(run, executor.options)
    run.set_defaults(handler=_run, knob_keys=keys)


def _add_run_dir_commands(commands) -> None:
    """claim, report, power and publish: each works on a finished run directory; compare works on two."""
    from vggbench.engine.config import Margins

    for name, handler, text in (
        ("claim", _claim, "verdicts on each part of the claim (claim.md, claim.csv) from a run directory's tables"),
        ("report", _report, "figures (PNG and SVG) and a self-contained report.html from a run directory's tables"),
        ("power", _power, "seeds per arm needed to decide each accuracy contrast, from a run's observed spread"),
        ("publish", _publish, "copy a finished run's tables, reports and figures into results/ and index it"),
    ):
        parser = commands.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        parser.add_argument("run_dir", metavar="RUN_DIR", type=_path, help="a directory written by `vggbench run`")
        if name in ("claim", "power"):
            parser.set_defaults(knob_keys=add_knobs(parser, Margins))
        if name == "power":
            parser.add_argument(
                "--effect",
                type=float,
                default=0.01,
                help="the accuracy difference to detect, > 0 and <= 1 (default: 0.01); a size above a "
                "million seeds per arm shows as inf",
            )
            parser.add_argument("--out", metavar="FILE.csv", type=_output_file, help="also write the table as CSV")
        if name == "publish":
            parser.add_argument(
                "--results",
                default="results",
                metavar="DIR",
                type=_output_folder,
                help="where published runs go (default: results)",
            )
        parser.set_defaults(handler=handler)
    _add_compare_command(commands)
    _add_design_command(commands)


def make_parser() -> argparse.ArgumentParser:
    from vggbench.engine.registry import KINDS

    parser = _Parser(
        prog="vggbench",
        description="Test the VGG claim that stacked 3x3 convs beat one large kernel: "
        "build VGG variants and measure them side by side.",
    )
    parser.add_argument("--version", action=_Version, help="print vggbench's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    for kind in KINDS.values():
        if kind.switch is None:
            alternatives = [other for other in KINDS.values() if other.switch and other.command == kind.name]
            _add_kind_command(commands, kind, alternatives)
    _add_run_command(commands)
    _add_run_dir_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command `argv` (else the command line's); its exit status. A closed pipe (`vggbench ... | head`)
    ends it quietly with status 0, as it does Unix tools."""
    try:
        try:
            return _command(argv)
        finally:
            if sys.stdout is not None:  # None: started with its stdout closed (>&-)
                sys.stdout.flush()  # here, where a closed pipe can be caught, rather than at exit
    except BrokenPipeError:
        # Python's recipe (the signal module's notes on SIGPIPE): whatever is left to print goes nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _check_working_folder() -> None:
    """Refuse to work in a deleted working folder: a relative path would name nothing, and torch fails to load."""
    try:
        os.getcwd()
    except FileNotFoundError:
        raise OSError("the working folder was deleted: cd to a folder that exists, and run the command again") from None


def _command(argv: list[str] | None) -> int:
    if hasattr(sys.stdout, "reconfigure"):  # what the terminal's encoding lacks (an ASCII locale) shown as \xe9
        sys.stdout.reconfigure(errors="backslashreplace")
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        _check_working_folder()
        status = args.handler(args)
    except BrokenPipeError:
        raise  # not an error: the reader has all it wanted (main)
    except InputError as error:
        print(printable(f"vggbench {args.command}: error: {error}"), file=sys.stderr)
        return BAD_INPUT
    except OSError as error:
        print(printable(f"vggbench {args.command}: error: {_cut(str(error))}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"vggbench {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # not the user's input: a bug, shown whole
        traceback.print_exc()
        bug = "internal error (a bug in vggbench; the traceback above says where)"
        print(f"vggbench {args.command}: {bug}", file=sys.stderr)
        return BUG
    return status or 0


if __name__ == "__main__":
    sys.exit(main())

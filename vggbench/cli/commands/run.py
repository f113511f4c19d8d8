"""`vggbench run`: a whole study into a run directory, resumable; or, with --dry-run, its plan and time."""

from __future__ import annotations

import argparse
import sys

from vggbench.cli._knob_options import add_knobs, given
from vggbench.cli._parsing import data_root_option, output_folder, path
from vggbench.cli._printing import print_claims, print_report, progress, readable
from vggbench.util import knobs
from vggbench.util.validate import InputError, printable

FAILED_TRIALS = 3  # the exit status of a run that finished with failed trials
DESCRIPTION = (
    "Run a grid of trials (arch x variant x ratio x resolution x seed) into RUN_DIR: static "
    "cost once per model, speed per model and mode, paired speed per model and mode, training per seed, "
    "the effective receptive field per model untrained and trained. Each finished trial is saved at once; "
    "rerunning with the same RUN_DIR skips finished trials. It writes into RUN_DIR only: config.json, "
    "metadata.json, trials/ (with checkpoints/ and erf_maps/ where they train or measure fields), a table per "
    "kind (static.csv, speed.csv, train.csv, ...), summary.csv, failures.csv, decisions.json and tuning.json "
    "where the design or a search makes them, then claim.csv, claim.md, figures/, report.html and "
    "reports.json; every table and report is overwritten at the end of each sitting. The configuration keys "
    "(a TOML file's, for --config) are listed on the Config keys page of the documentation "
    "(reference/config-keys, built by nox -s docs)."
)


def add(commands) -> argparse.ArgumentParser:
    from vggbench.engine.config import PRESET_SUMMARIES, PRESETS
    from vggbench.engine.executors import EXECUTORS
    from vggbench.measure.hardware import Machine

    run = commands.add_parser(
        "run",
        help="run the study: static cost, speed, paired speed, training and effective field over a grid, resumable",
        description=DESCRIPTION,
    )
    run.add_argument(
        "--preset",
        choices=list(PRESETS),
        default="quick",
        help="; ".join(f"{name}: {summary}" for name, summary in PRESET_SUMMARIES.items()) + " (default: quick)",
    )
    run.add_argument(
        "--config",
        metavar="FILE.toml",
        type=path,
        help="TOML file whose keys override the preset's: see the Config keys page of the documentation "
        "(reference/config-keys) (default: none, the preset as it is)",
    )
    run.add_argument(
        "--out",
        metavar="RUN_DIR",
        type=output_folder,
        help="the run directory, made if missing, resumed if it holds this configuration's run (default: runs/PRESET)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="reuse a RUN_DIR made with another configuration, removing the trials and tables it no longer makes",
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="list the trials and estimate the time of those RUN_DIR does not hold done yet (a RUN_DIR of another "
        "configuration is refused, as the run refuses it); run nothing and write nothing",
    )
    run.add_argument(
        "--large",
        action="store_true",
        help="allow a configuration of more than 10,000 trials (without it such a run, or dry run, is refused "
        "once they are counted)",
    )
    data_root_option(run)
    keys = add_knobs(run, Machine)
    scaling = run.add_argument_group("scale-out")
    described = "; ".join(f"{name}: {executor.help}" for name, executor in EXECUTORS.items())
    scaling.add_argument("--executor", choices=list(EXECUTORS), default="local", help=f"{described} (default: local)")
    for executor in EXECUTORS.values():
        if executor.options:
            add_knobs(run, executor.options)
    run.set_defaults(knob_keys=keys)
    return run


def run(args: argparse.Namespace) -> int:
    from vggbench.engine import study
    from vggbench.engine.config import load_config
    from vggbench.reporting import terminal
    from vggbench.reporting.finish import write_reports

    config = load_config(args.preset, args.config, **given(args))
    if note := config.grid.ratio_note():
        progress(note)
    _executor_options(args)
    run_dir = args.out or f"runs/{args.preset}"
    if args.dry_run:
        counts = study.count(config)  # told at once: the estimates below calibrate on every model first
        by_kind = ", ".join(f"{name} {number:,}" for name, number in counts.items())
        print(f"{sum(counts.values()):,} trials planned ({by_kind}); estimating their time...", flush=True)
        plan = study.dry_run(config, args.large, counts, run_dir, args.force)
        print(readable(plan.table))
        print("\n".join(plan.lines()))
        return
    directory = study.run(config, run_dir, args.force, args.data_root, progress, _executor(args), args.large)
    page = write_reports(directory.root)
    print(f"Summary of {directory.root} (tables, claim.md, report.html and metadata.json there)")
    print(terminal.summary_text(directory.table("summary"), "summary.csv") + "\n")
    print_claims(directory.table("claim"), directory.root)
    print_report(page)
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

"""The measurement kinds' commands (`static`, `speed`, `train`, `erf`, ...): each a one-kind study, its options
derived from the knobs of the kind's setup, its tables printed and written."""

from __future__ import annotations

import argparse

from vggbench.cli._knob_options import add_knobs, given
from vggbench.cli._parsing import STDOUT, data_root_option, output_file, output_folder
from vggbench.cli._printing import emit_all, progress
from vggbench.util import knobs
from vggbench.util.validate import InputError


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
    values = {**given(args), "kinds": (kind.name,)}
    if kind.models_from and values.get(kind.models_from):
        _refuse_model_options(args, given(args))
    config = StudyConfig(values)
    if note := config.grid.ratio_note():
        progress(note)
    save_to = getattr(args, _dest(kind.files.flag)) if kind.files else None
    rows = outputs.measure(config, args.out, save_to, getattr(args, "data_root", None), progress)
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
    emit_all(emitted)


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


def _output_options(parser, kinds) -> None:
    """The options naming the files a kind's command writes (each overwritten): its tables' and its files'."""
    output = parser.add_argument_group("output")
    flags: set[str] = set()
    for kind in kinds:
        for table in [*kind.tables, *([kind.summary_table] if kind.summary_table else [])]:
            if table.flag not in flags:
                flags.add(table.flag)
                extra = {"nargs": "?", "const": STDOUT} if table.on_request else {}
                default = "not shown" if table.on_request else "printed, not written"
                text = f"{table.help} (default: {default})"
                output.add_argument(table.flag, metavar="FILE.csv", type=output_file, help=text, **extra)
        if kind.files and kind.files.flag not in flags:
            flags.add(kind.files.flag)
            saves = output_file if kind.files.one_file else output_folder
            text = f"{kind.files.help} (default: not saved)"
            output.add_argument(kind.files.flag, metavar=kind.files.metavar, type=saves, help=text)


def _add_kind_command(commands, primary, alternatives: list) -> None:
    """The command of kind `primary`; `alternatives` run instead when their switch (e.g. --paired) is given."""
    from vggbench.engine.config import Scope
    from vggbench.models.arch import Grid

    kinds = [primary, *alternatives]
    writes = " Its results go to the terminal, and to the files its output options name (each overwritten)."
    parser = commands.add_parser(primary.name, help=primary.help, description=primary.description + writes)
    seen: set[str] = set()
    keys = add_knobs(parser, Grid, seen) if primary.uses_models else []
    if any(kind.uses_seeds for kind in kinds):
        keys += add_knobs(parser, Scope, seen)
    for kind in kinds:
        keys += add_knobs(parser, kind.setup, seen) if kind.setup else []
    groups = {group.title: group for group in parser._action_groups}
    for kind in alternatives:
        flag, text = kind.switch
        groups[kind.setup.GROUP].add_argument(flag, action="store_true", help=text)
    if any(kind.needs_data for kind in kinds):
        data_root_option(parser)
    _output_options(parser, kinds)
    parser.set_defaults(
        handler=_measure, kind=primary.name, alternatives=[kind.name for kind in alternatives], knob_keys=keys
    )


def add_kind_commands(commands) -> None:
    """A command per kind of the registry; a kind with a switch (pairs: --paired) is an alternative of another's."""
    from vggbench.engine.registry import KINDS

    for kind in KINDS.values():
        if kind.switch is None:
            alternatives = [other for other in KINDS.values() if other.switch and other.command == kind.name]
            _add_kind_command(commands, kind, alternatives)

"""The parser of every command, and the dispatch: a command's errors become its exit status and one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from vggbench.cli._kinds import add_kind_commands
from vggbench.cli._parsing import Parser, cut
from vggbench.util.validate import InputError, printable

BAD_INPUT = 2  # the exit status of a bad value or input (the message names it and what is allowed)
BUG = 70  # the exit status of an internal error (EX_SOFTWARE), printed with its traceback

# The commands after the kinds', in the order --help lists them: modules of vggbench.cli.commands.
COMMANDS = (
    "run",
    "claim",
    "report",
    "power",
    "publish",
    "compare",
    "design",
)


class _Version(argparse.Action):
    """--version: the version, read when asked (not on every start)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from vggbench.util.version import describe

        print(describe())
        parser.exit()


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="vggbench",
        description="Test the VGG claim that stacked 3x3 convs beat one large kernel: "
        "build VGG variants and measure them side by side.",
    )
    parser.add_argument("--version", action=_Version, help="print vggbench's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    add_kind_commands(commands)
    for name in COMMANDS:
        command = importlib.import_module(f"vggbench.cli.commands.{name}")
        command.add(commands).set_defaults(handler=command.run)
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
        print(printable(f"vggbench {args.command}: error: {cut(str(error))}"), file=sys.stderr)
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

"""What every command's parser shares: one-line errors, the value types of its options, the common arguments."""

from __future__ import annotations

import argparse
import re

from vggbench.util.validate import SHOWN_CHARACTERS, InputError, did_you_mean, shown

STDOUT = "-"


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad option in one line, without the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {cut(message)} (see {self.prog} --help)\n")

    def _check_value(self, action, value):
        """A value outside an option's (or the commands') choices, with the choice it is closest to."""
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(str, action.choices))
            hint = did_you_mean(value, action.choices)
            raise argparse.ArgumentError(action, f"invalid choice: {shown(value)}{hint}; choose from {choices}")


def cut(message: str) -> str:
    """`message` with each word longer than `shown` leaves one cut to its start (argparse and the OS echo a value
    whole)."""
    return re.sub(rf"\S{{{SHOWN_CHARACTERS + 4},}}", lambda word: shown(word.group(), quoted=False), message)


def integer(text: str) -> int:
    # Only the type is checked here; every range is checked once, by the setups.
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer value: {shown(text)}") from None


def integers(text: str) -> int | tuple[int, ...]:
    """An entry that is one integer, or several joined by '/' (a block's widths, one per conv: 16/32)."""
    parts = tuple(integer(part) for part in text.split("/"))
    return parts[0] if len(parts) == 1 else parts


def path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError(f"invalid path: {shown(text)} (give a file or folder name)")
    return text


def _output(text: str, folder: bool) -> str:
    """An output option's path, refused before any work where it names what vggbench must not replace."""
    from vggbench.util.csvio import check_output

    if path(text) == STDOUT:
        return text
    try:
        check_output(text, folder)
    except InputError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def output_file(text: str) -> str:
    return _output(text, folder=False)


def output_folder(text: str) -> str:
    return _output(text, folder=True)


def data_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root",
        metavar="DIR",
        type=path,
        help="folder with the four Fashion-MNIST IDX files (default: VGGBENCH_DATA, else the user cache, "
        "Debian's dataset-fashion-mnist, then torchvision's download)",
    )


def run_dir_parser(commands, name: str, text: str, description: str | None = None) -> argparse.ArgumentParser:
    """The parser of command `name`, which works on a run directory (RUN_DIR); its help is `text`, and its
    description `text` as a sentence unless given."""
    parser = commands.add_parser(name, help=text, description=description or text[0].upper() + text[1:] + ".")
    parser.add_argument("run_dir", metavar="RUN_DIR", type=path, help="a directory written by `vggbench run`")
    return parser

"""Command-line options derived from a setup's knobs (defaults, allowed values and help included; see
vggbench.util.knobs), and the values given back by config key."""

from __future__ import annotations

import argparse
import dataclasses

from vggbench.cli._parsing import integer, integers
from vggbench.util import knobs
from vggbench.util.validate import shown


def _boolean(text: str) -> bool:
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"invalid boolean value: {shown(text)} (true or false)")
    return words[text.lower()]


class _Switches(argparse.Action):
    """A flag that may take values: alone it means true; `--batch-norm false true` gives both."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, values or [True])


def _shown(value) -> str | None:
    """A default as the help shows it; None where there is none to show (a knob whose help says what its absence
    means, or a flag, off unless given). Compared by identity: 0 and (0,) equal False but are shown."""
    if value is None or value is False or value is dataclasses.MISSING:
        return None
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_knobs(parser: argparse.ArgumentParser, cls, seen: set | None = None) -> list[str]:
    """Add the command-line options of setup class `cls` (those not in `seen`); returns their destinations.

    Options default to argparse.SUPPRESS: a value not given stays absent, and the setup's
    default applies (the one the help shows).
    """
    groups = {group.title: group for group in parser._action_groups}
    added = []
    for option in knobs.options(cls):
        dest = option.key or option.name
        if not option.flags or (seen is not None and dest in seen):
            continue
        axis_default = option.knob.axis if isinstance(option.knob.axis, tuple) else None
        default = axis_default or option.default
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
            settings["type"] = integers if option.nested else {int: integer, float: float, str: str}[option.kind]
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

"""MkDocs hook: the reference pages made from the code at build time, so that they cannot go stale.

- reference/config-keys.md: every config key of a study (a TOML file's keys), from the knobs of the setup
  classes (vggbench.util.knobs): its default, what it allows, its help and the options that set it.
- reference/commands.md: every command's `--help`, as the parser prints it.
"""

from __future__ import annotations

import dataclasses
import os

PREAMBLE = """# Config keys

A study's configuration is one flat set of keys: a preset's, then a TOML file's (`vggbench run --config FILE`),
then the options given on the command line. This page is made from the code when the site is built: each key's
default, what it allows and what it sets are those of the knob that declares it. A key of a measurement kind is
read only where the study runs that kind (`kinds`), but it is checked in every study. An unknown key or a bad
value stops a run before anything starts, naming the closest key or value.

`vggbench run` takes the keys from its preset and `--config`, and `--device`/`--threads` from the command line;
the single-kind commands (`static`, `speed`, `train`, `erf`, `density`) take the options shown beside each key.
"""


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _default(option) -> str:
    """A knob's default as a TOML file would write it; where it is a list of axis values, that list."""
    value = option.knob.axis if isinstance(option.knob.axis, tuple) else option.default
    if value is dataclasses.MISSING:
        return "computed: see what it sets"
    if value is None:
        return "unset: see what it sets"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        return "`[" + ", ".join(f'"{entry}"' if isinstance(entry, str) else str(entry) for entry in value) + "]`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"


def _allowed(option) -> str:
    from vggbench.util import knobs

    if option.knob.choices is not None:
        listed = ", ".join(f"`{choice}`" for choice in option.knob.choices)
        return f"a list of {listed}" if option.is_list else listed
    # The words an InputError uses for a bad value of this knob.
    must = knobs._must_be(option)
    return f"a list, each {must}" if option.is_list else must


def config_keys_page() -> str:
    from vggbench.engine.config import CORE
    from vggbench.engine.registry import KINDS
    from vggbench.util import knobs

    sections = [(cls, None) for cls in CORE]
    sections += [(kind.setup, name) for name, kind in KINDS.items() if kind.setup is not None]
    seen: set[str] = set()
    lines = [PREAMBLE]
    for cls, kind in sections:
        fresh = [option for option in knobs.options(cls) if option.key is not None and option.key not in seen]
        if not fresh:
            continue
        seen.update(option.key for option in fresh)
        title = f"The `{kind}` kind" if kind else cls.GROUP.split(" (")[0].capitalize()
        summary = " ".join((cls.__doc__ or "").split("\n\n")[0].split())
        lines += [f"## {title}", "", summary, "", "| key | default | allowed | what it sets | option |"]
        lines.append("| --- | --- | --- | --- | --- |")
        for option in fresh:
            flags = ", ".join(f"`{flag}`" for flag in option.flags) or "(config only)"
            # Help is written for argparse, which formats it with %: a literal percent sign is doubled there.
            cells = (f"`{option.key}`", _default(option), _allowed(option), option.knob.help.replace("%%", "%"), flags)
            lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines)


def commands_page() -> str:
    import argparse

    from vggbench.cli._main import make_parser

    os.environ["COLUMNS"] = "110"  # argparse wraps its help to this width
    parser = make_parser()
    lines = [
        "# Commands",
        "",
        "Every command's `--help`, made from the parser when the site is built. The pages beside this one say "
        "what each command is for and what its tables mean; [Config keys](config-keys.md) lists the keys of a "
        "study's TOML file.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    # argparse keeps its commands in its subparsers action; its `choices` maps each name to its parser.
    (commands,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    for name, command in commands.choices.items():
        lines += ["", f"## `vggbench {name}`", "", "```text", command.format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def on_files(files, config):
    """Add the generated pages to the site's files."""
    from mkdocs.structure.files import File  # here, so that the tests read the pages without MkDocs

    for path, content in (("reference/config-keys.md", config_keys_page()), ("reference/commands.md", commands_page())):
        files.append(File.generated(config, path, content=content))
    return files

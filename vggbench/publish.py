"""Publishing a finished run: its tables, reports, figures and ERF maps copied into results/, and indexed.

The copy is made in a temporary folder beside the target and renamed into place, so a
full disk or an interruption leaves the published folder as it was. The folder's name
comes from metadata.json, which is checked, not trusted: it must name a folder inside
`results`. What the index shows is escaped.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

from vggbench.csvio import write_text
from vggbench.rundir import CLAIM_MD, REPORT, RunDir
from vggbench.study import finish_folder
from vggbench.validate import InputError

INDEX_HEADING = "## Published runs"
INDEX_HEADER = "| folder | run | device | date | commit |\n| --- | --- | --- | --- | --- |"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _checked(meta: dict, source: Path) -> tuple[str, str]:
    """(device, date) from metadata.json, each fit to be part of a folder name."""
    missing = [key for key in ("device", "device_name", "ended") if not isinstance(meta.get(key), str)]
    if missing:
        raise InputError(f"{source / 'metadata.json'} lacks {', '.join(missing)}: is the run finished?")
    device, date = meta["device"], meta["ended"][:10]
    if not NAME.fullmatch(device) or device.strip(".") == "":
        raise InputError(f"{source / 'metadata.json'} has device={device!r}, which cannot name a folder")
    if not DATE.fullmatch(date):
        raise InputError(f"{source / 'metadata.json'} has ended={meta['ended']!r}, which does not start with a date")
    return device, date


def publish(run_dir: str | Path, results: str | Path = "results") -> Path:
    """Copy a finished run to results/<name>-<device>-<date>/ and list it in results/README.md.

    A run whose reports are missing (an interrupted finish) is finished first.
    """
    directory = RunDir(run_dir)
    meta = directory.metadata()
    if not meta:
        raise InputError(f"{directory.root} has no readable metadata.json: is it a `vggbench run` directory?")
    if not meta.get("ended"):
        raise InputError(f"{directory.root} is not finished: rerun `vggbench run` with it until it ends")
    device, date = _checked(meta, directory.root)
    run = directory.root.resolve().name
    if not NAME.fullmatch(run):
        raise InputError(f"the run folder's name {run!r} cannot name a published folder: rename it")
    if not (directory.has(CLAIM_MD) and directory.has(REPORT)):
        finish_folder(directory.root)
    target = Path(results) / f"{run}-{device}-{date}"
    _copy_into_place(directory, target)
    _index(Path(results) / "README.md", target, run, meta)
    return target


def _copy_into_place(directory: RunDir, target: Path) -> None:
    """Copy the run's published files into a temporary folder beside `target`, then rename it into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.new")
    retired = target.with_name(f".{target.name}.{os.getpid()}.old")
    try:
        for name in directory.published():
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(directory.path(name), staging / name)
        if target.exists():
            target.rename(retired)
        staging.rename(target)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            retired.rename(target)  # put the earlier publication back
        raise OSError(f"cannot publish into {target}: {error.strerror or error}") from None
    shutil.rmtree(retired, ignore_errors=True)


def _cell(value) -> str:
    """A table cell of the index that shows `value` as text: no markup, no column breaks."""
    return html.escape(" ".join(str(value).split())).replace("|", "\\|")


def _index(index: Path, target: Path, run: str, meta: dict) -> None:
    """Add the published folder's row to the index; a folder published again replaces its row."""
    text = index.read_text() if index.is_file() else "# Published results\n"
    if INDEX_HEADING not in text:
        text = text.rstrip() + f"\n\n{INDEX_HEADING}\n\n{INDEX_HEADER}\n"
    cells = [f"`{target.name}/`", run, meta["device_name"], meta["ended"][:10], str(meta.get("git_commit"))[:7]]
    row = "| " + " | ".join([cells[0], *map(_cell, cells[1:])]) + " |"  # the folder's name is checked already
    kept = [line for line in text.rstrip().splitlines() if not line.startswith(f"| `{target.name}/` |")]
    write_text(index, "\n".join(_after_last_row(kept, row)) + "\n")


def _after_last_row(lines: list[str], row: str) -> list[str]:
    """`lines` with `row` added at the end of the index's table, so that text written below it stays below."""
    end = lines.index(INDEX_HEADING) + 1
    while end < len(lines) and not lines[end].startswith("|"):  # the heading's text, down to the table
        end += 1
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return [*lines[:end], row, *lines[end:]]

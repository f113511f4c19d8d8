"""Publishing a finished run: its tables, reports, figures and ERF maps copied into results/, and indexed.

The run is only read. Its files are copied into a staging folder beside the target
(the run's own regular files only, at most MAX_FILE_BYTES each and MAX_TOTAL_BYTES in all: a symbolic link,
a file with another hard link (which may be a file outside the run) or on another device, or anything else is
refused, named, before anything is copied; each then opened folder by folder without following a link and
checked again once open, so one swapped in after the check is refused too; what else the run folder holds is
left out and said), the claim and report made there where the run lacks
them, and the staging folder renamed into place; the index is read and checked before
that, and written last, the earlier publication put back where it cannot be. A full
disk or an interruption leaves the published folder and the index as they were. The
folder's name comes from metadata.json, which is checked, not trusted: it must name a
folder inside `results`; that folder, or `results` itself, where it is a symbolic link or a file, is refused,
named (publish would write where the link points, or leave it behind), and the staging folder is made afresh
(tempfile.mkdtemp), never one planted there. What the index shows is escaped.

The copy is marked as published: its metadata.json gains the key `published` (rundir.PUBLISHED: the folder's
name and the time, UTC), the one file that differs from the run's; `vggbench run` refuses a folder so marked, or
one a results index beside it lists (published before the mark), as its output.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from vggbench.engine.config import run_config
from vggbench.engine.rundir import (
    CHECKPOINTS,
    CLAIM_MD,
    INDEX_HEADING,
    LOCK,
    PUBLISHED,
    REPORT,
    TRIALS,
    RunDir,
    index_row,
    now,
)
from vggbench.reporting.finish import write_reports
from vggbench.util.csvio import read_bytes, write_text
from vggbench.util.validate import InputError, shown

# Bounds on what publish copies: a run's tables, reports, figures and maps take a few MB a file, 20 MB in all for the
# largest run published so far; anything far above it is a stray, which results/ (kept in git) should not take in.
MAX_FILE_BYTES, MAX_TOTAL_BYTES = 50_000_000, 200_000_000
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
        raise InputError(f"{source / 'metadata.json'} has device={shown(device)}, which cannot name a folder")
    if not DATE.fullmatch(date):
        ended = shown(meta["ended"])
        raise InputError(f"{source / 'metadata.json'} has ended={ended}, which does not start with a date")
    return device, date


def publish(run_dir: str | Path, results: str | Path = "results", report: Callable[[str], None] = print) -> Path:
    """Copy a finished run to results/<name>-<device>-<date>/ and list it in results/README.md; what the run
    folder holds beside what publish copies is left out, and `report`ed.

    A run whose reports are missing (an interrupted finish) gets them made in the copy; the run is not written.
    """
    directory = RunDir(run_dir)
    meta = directory.metadata()
    if not meta:
        raise InputError(f"{directory.root} has no readable metadata.json: is it a `vggbench run` directory?")
    if not meta.get("ended"):
        raise InputError(f"{directory.root} is not finished: rerun `vggbench run` with it until it ends")
    device, date = _checked(meta, directory.root)
    holder = directory.in_use()
    if holder:
        raise InputError(f"{directory.root} is in use by {holder}: publish it once that run has ended")
    run = directory.root.resolve().name
    if not NAME.fullmatch(run):
        raise InputError(f"the run folder's name {shown(run)} cannot name a published folder: rename it")
    run_config(directory, missing_ok=True)  # a configuration the claim can read
    names = _regular_files(directory)
    left_out = _left_out(directory, names)
    if left_out:
        report(f"{directory.root}: left out, not what publish copies: {', '.join(left_out)}")
    target = Path(results) / f"{run}-{device}-{date}"
    index = Path(results) / "README.md"
    within = directory.root.resolve()
    if within == Path(results).resolve() or within in Path(results).resolve().parents:  # the run would change
        raise InputError(f"the results folder {results} lies inside the run {directory.root}: publish outside it")
    _folder_or_missing(Path(results), "the results folder", "name the folder itself with --results")
    _folder_or_missing(target, "the published folder", "remove it, or publish into another --results")
    text = _indexed(index, target, run, meta)  # read and checked before anything moves
    _copy_into_place(directory, names, target, lambda: write_text(index, text))
    return target


def _folder_or_missing(path: Path, what: str, remedy: str) -> None:
    """Refuse `path` where it is there as anything but a folder: publish would write where a symbolic link
    points, or replace the link and leave its target behind."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise InputError(f"{what} {path} is {_kind(path) or 'a file'}, not a folder publish can write into: {remedy}")


def _regular_files(directory: RunDir) -> list[str]:
    """What publish copies (RunDir.published), once each is the run's own regular file within publish's size
    limits: a symbolic link (its target may be any file), a file with another name (a hard link, maybe to a
    file outside the run), one on another device, a folder or a device is refused, named, before anything is
    copied."""
    names, refused, sizes = directory.published(), {}, {}
    device = directory.root.stat().st_dev
    for name in names:
        folders = [Path(*Path(name).parts[:end]).as_posix() for end in range(1, len(Path(name).parts))]
        for folder in folders:  # a folder on the way that is a link: named once, for all its files
            if directory.path(folder).is_symlink():
                refused[folder] = _kind(directory.path(folder))
                break
        else:
            kind = _kind(directory.path(name), device)
            if kind is None:
                sizes[name] = directory.path(name).lstat().st_size
            else:
                refused[name] = kind
    if refused:
        refused = [f"{name} ({kind})" for name, kind in refused.items()]
        raise InputError(
            f"{directory.root} holds what publish copies only as regular files inside the run folder, each its "
            f"own: {'; '.join(refused)}: replace or remove them"
        )
    large = [f"{name} ({_megabytes(size)})" for name, size in sizes.items() if size > MAX_FILE_BYTES]
    if large:
        raise InputError(
            f"{directory.root} holds files above publish's limit of {_megabytes(MAX_FILE_BYTES)} a file: "
            f"{'; '.join(large)}: remove them from the run"
        )
    if sum(sizes.values()) > MAX_TOTAL_BYTES:
        raise InputError(
            f"{directory.root} holds {_megabytes(sum(sizes.values()))} to publish, above publish's limit of "
            f"{_megabytes(MAX_TOTAL_BYTES)} in all: remove what the run does not need from its figures and tables"
        )
    return names


def _left_out(directory: RunDir, names: list[str]) -> list[str]:
    """What the run folder holds at its top beside what publish copies and the run's own working files (its
    trials, checkpoints and lock), each with its size where it is a file."""
    kept = {Path(name).parts[0] for name in names} | {TRIALS, CHECKPOINTS, LOCK}
    left = []
    for entry in sorted(os.scandir(directory.root), key=lambda entry: entry.name):
        if entry.name not in kept:
            found = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(found.st_mode):
                left.append(f"{entry.name} ({_megabytes(found.st_size)})")
            else:
                left.append(entry.name + ("/" if stat.S_ISDIR(found.st_mode) else ""))
    return left


def _megabytes(size: int) -> str:
    if size < 100_000:
        return f"{size:,} bytes"
    return f"{size / 1e6:,.1f} MB" if size % 1_000_000 else f"{size // 1_000_000:,} MB"


def _kind(path: Path, device: int | None = None) -> str | None:
    """None for a regular file (the run's own, on `device`, where it is given); else what `path` is, in words."""
    try:
        found = path.lstat()
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if stat.S_ISLNK(found.st_mode):
        return f"a symbolic link to {os.readlink(path)}"
    if stat.S_ISREG(found.st_mode):
        return None if device is None else _shared(found, device)
    return "a folder" if stat.S_ISDIR(found.st_mode) else "not a regular file"


def _shared(found: os.stat_result, device: int) -> str | None:
    """Why the regular file `found` is not the run's own: another name links to it (maybe a file outside the run,
    whose contents publish would copy), or it lies on another device than the run folder; None where it is."""
    if found.st_nlink > 1:
        return f"a file with {found.st_nlink} hard links, which may name a file outside the run"
    if found.st_dev != device:
        return "a file on another device than the run folder"
    return None


def _copy_regular(root: Path, name: str, destination: Path) -> int:
    """Copy the regular file `name` under `root` to `destination`, opened folder by folder without following a
    link, and checked again once open: a file or folder swapped since `_regular_files` checked it for a link, a
    hard-linked or larger file is refused, not copied. Returns the bytes copied."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    folder = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    device = os.fstat(folder).st_dev
    try:
        for part in Path(name).parts[:-1]:
            inner = os.open(part, flags | getattr(os, "O_DIRECTORY", 0), dir_fd=folder)
            os.close(folder)
            folder = inner
        source = os.open(Path(name).name, flags | os.O_NONBLOCK, dir_fd=folder)  # a fifo would block
    except OSError as error:
        raise InputError(f"{root / name} changed while publishing ({error.strerror or error}): publish again") from None
    finally:
        os.close(folder)
    with open(source, "rb") as reading:
        found = os.fstat(reading.fileno())
        changed = "not a regular file now" if not stat.S_ISREG(found.st_mode) else _shared(found, device)
        if changed is None and found.st_size > MAX_FILE_BYTES:
            changed = f"{_megabytes(found.st_size)} now"
        if changed is None:
            with open(destination, "wb") as writing:
                shutil.copyfileobj(reading, writing)
                copied = writing.tell()
            if copied > MAX_FILE_BYTES:  # grew while copied
                changed = f"{_megabytes(copied)} now"
        if changed:
            raise InputError(f"{root / name} changed while publishing ({changed}): publish again")
    os.utime(destination, ns=(found.st_atime_ns, found.st_mtime_ns))
    return copied


def _copy_into_place(directory: RunDir, names: list[str], target: Path, write_index) -> None:
    """Copy `names` of the run into a staging folder beside `target` (the claim and report made there where
    the run lacks them), rename it into place, then `write_index()`; the earlier publication is put back where
    any step fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".new", dir=target.parent))  # ours alone
    retired = staging / ".old"  # the earlier publication, removed with the staging folder (no run is named so)
    copy = staging / directory.root.resolve().name  # named as the run, as the claim and report title it
    placed = False
    try:
        copied = 0
        for name in names:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            copied += _copy_regular(directory.root, name, copy / name)
            if copied > MAX_TOTAL_BYTES:  # files grown since they were checked
                raise InputError(
                    f"{directory.root} changed while publishing (above {_megabytes(MAX_TOTAL_BYTES)}): publish again"
                )
        if not (directory.has(CLAIM_MD) and directory.has(REPORT)):  # an interrupted finish: made in the copy
            write_reports(copy)
        marked = RunDir(copy)  # a mark `vggbench run` refuses as its output
        marked.write_metadata({**marked.metadata(), PUBLISHED: {"folder": target.name, "at": now()}})
        if target.exists():
            target.rename(retired)
        copy.rename(target)
        placed = True
        write_index()
    except (OSError, InputError) as error:
        if placed:
            shutil.rmtree(target, ignore_errors=True)
        if retired.exists() and not target.exists():
            retired.rename(target)  # put the earlier publication back
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, InputError):
            raise
        raise OSError(f"cannot publish into {target}: {error.strerror or error}") from None
    except BaseException:
        if retired.exists() and not target.exists():
            retired.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _cell(value) -> str:
    """A table cell of the index that shows `value` as text: no markup, no column breaks."""
    return html.escape(" ".join(str(value).split())).replace("|", "\\|")


def _indexed(index: Path, target: Path, run: str, meta: dict) -> str:
    """The index with the published folder's row added to the table under its heading (a folder published again
    replaces its row); the index must be a UTF-8 text file this process may replace, whose heading, where it has
    one, is a line of its own with the index's table below it: an index read otherwise is refused, named."""
    text = "# Published results\n"
    if index.exists() or index.is_symlink():
        kind = _kind(index, index.parent.stat().st_dev)  # hard-linked, its other name's text would be indexed
        if kind is not None:
            raise InputError(f"the results index {index} is {kind}, not a file publish can update")
        try:
            text = read_bytes(index, MAX_FILE_BYTES, follow=False).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"the results index {index} is not UTF-8 text: {error}") from None
        except OSError as error:
            raise OSError(f"cannot read the results index {index}: {error.strerror or error}") from None
        if not os.access(index, os.W_OK):
            raise OSError(f"cannot write the results index {index}: it is read-only")
    if index.parent.exists() and not os.access(index.parent, os.W_OK | os.X_OK):
        raise OSError(f"cannot write the results index {index}: its folder {index.parent} is read-only")
    lines = text.rstrip().splitlines()
    heading = _heading(lines, index)
    if heading is None:
        lines += ["", INDEX_HEADING, "", *INDEX_HEADER.splitlines()]
        heading = len(lines) - 3
    first, end = _table(lines, heading, index)
    cells = [run, meta["device_name"], meta["ended"][:10], str(meta.get("git_commit"))[:7]]
    row = f"{index_row(target.name)} {' | '.join(map(_cell, cells))} |"  # the folder's name is checked already
    kept = [line for line in lines[first:end] if not line.startswith(index_row(target.name))]  # published again
    return "\n".join([*lines[:first], *kept, row, *lines[end:]]) + "\n"


def _heading(lines: list[str], index: Path) -> int | None:
    """The line number of the index's heading, a line of its own (trailing blanks aside) outside fenced code;
    None where there is none. An index with two, or with a code block left open, is refused."""
    found, fence = [], None
    for number, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = number if fence is None else None
        elif fence is None and line.rstrip() == INDEX_HEADING:
            found.append(number)
    if fence is not None:
        raise InputError(f"the results index {index} has a code block that is never closed (line {fence + 1})")
    if len(found) > 1:
        lines_found = ", ".join(str(number + 1) for number in found)
        raise InputError(
            f"the results index {index} has the heading {INDEX_HEADING!r} on lines {lines_found}: keep one"
        )
    return found[0] if found else None


def _table(lines: list[str], heading: int, index: Path) -> tuple[int, int]:
    """Where the index's table is, below its heading and its text: (its header's line, the line after its last
    row). A section whose first table is not the index's is refused."""
    first = heading + 1
    while first < len(lines) and not lines[first].startswith(("|", "#")):
        first += 1
    header = INDEX_HEADER.splitlines()
    if ["".join(line.split()) for line in lines[first : first + 2]] != ["".join(line.split()) for line in header]:
        raise InputError(
            f"the results index {index} has no table of published runs under {INDEX_HEADING!r} (line "
            f"{heading + 1}): its table must start {header[0]}"
        )
    end = first + 2
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return first, end

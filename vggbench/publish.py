"""Publishing a finished run: its tables, reports, figures and ERF maps copied into results/, and indexed.

The run is only read. Its files are copied into a staging folder beside the target
(regular files inside the run folder only: a symbolic link or anything else is refused,
named, before anything is copied; each then opened folder by folder without following a link, so one
swapped in after the check is refused too), the claim and report made there where the run lacks
them, and the staging folder renamed into place; the index is read and checked before
that, and written last, the earlier publication put back where it cannot be. A full
disk or an interruption leaves the published folder and the index as they were. The
folder's name comes from metadata.json, which is checked, not trusted: it must name a
folder inside `results`. What the index shows is escaped.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import stat
from pathlib import Path

from vggbench import claim, report
from vggbench.csvio import write_text
from vggbench.rundir import CLAIM_MD, REPORT, RunDir
from vggbench.validate import InputError, shown

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
        raise InputError(f"{source / 'metadata.json'} has device={shown(device)}, which cannot name a folder")
    if not DATE.fullmatch(date):
        ended = shown(meta["ended"])
        raise InputError(f"{source / 'metadata.json'} has ended={ended}, which does not start with a date")
    return device, date


def publish(run_dir: str | Path, results: str | Path = "results") -> Path:
    """Copy a finished run to results/<name>-<device>-<date>/ and list it in results/README.md.

    A run whose reports are missing (an interrupted finish) gets them made in the copy; the run is not written.
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
        raise InputError(f"the run folder's name {shown(run)} cannot name a published folder: rename it")
    if directory.has("config.json"):
        directory.config()  # a configuration the claim can read
    names = _regular_files(directory)
    target = Path(results) / f"{run}-{device}-{date}"
    index = Path(results) / "README.md"
    text = _indexed(index, target, run, meta)  # read and checked before anything moves
    _copy_into_place(directory, names, target, lambda: write_text(index, text))
    return target


def _regular_files(directory: RunDir) -> list[str]:
    """What publish copies (RunDir.published), once each is a regular file inside the run folder: a symbolic
    link (its target may be any file), a folder or a device is refused, named, before anything is copied."""
    names, refused = directory.published(), {}
    for name in names:
        folders = [Path(*Path(name).parts[:end]).as_posix() for end in range(1, len(Path(name).parts))]
        for folder in folders:  # a folder on the way that is a link: named once, for all its files
            if directory.path(folder).is_symlink():
                refused[folder] = _kind(directory.path(folder))
                break
        else:
            kind = _kind(directory.path(name))
            if kind is not None:
                refused[name] = kind
    if refused:
        refused = [f"{name} ({kind})" for name, kind in refused.items()]
        raise InputError(
            f"{directory.root} holds what publish copies only as regular files inside the run folder: "
            f"{'; '.join(refused)}: replace or remove them"
        )
    return names


def _kind(path: Path) -> str | None:
    """None for a regular file; else what `path` is, in words."""
    try:
        mode = path.lstat().st_mode
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if stat.S_ISLNK(mode):
        return f"a symbolic link to {os.readlink(path)}"
    if stat.S_ISREG(mode):
        return None
    return "a folder" if stat.S_ISDIR(mode) else "not a regular file"


def _copy_regular(root: Path, name: str, destination: Path) -> None:
    """Copy the regular file `name` under `root` to `destination`, opened folder by folder without following a
    link: a file or folder swapped for a link since `_regular_files` checked it is refused, not followed."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    folder = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
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
        if not stat.S_ISREG(found.st_mode):
            raise InputError(f"{root / name} changed while publishing (not a regular file now): publish again")
        with open(destination, "wb") as writing:
            shutil.copyfileobj(reading, writing)
    os.utime(destination, ns=(found.st_atime_ns, found.st_mtime_ns))


def _copy_into_place(directory: RunDir, names: list[str], target: Path, write_index) -> None:
    """Copy `names` of the run into a staging folder beside `target` (the claim and report made there where
    the run lacks them), rename it into place, then `write_index()`; the earlier publication is put back where
    any step fails."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}.new")
    retired = target.with_name(f".{target.name}.{os.getpid()}.old")
    copy = staging / directory.root.resolve().name  # named as the run, as the claim and report title it
    placed = False
    try:
        for name in names:
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            _copy_regular(directory.root, name, copy / name)
        if not (directory.has(CLAIM_MD) and directory.has(REPORT)):  # an interrupted finish: made in the copy
            claim.report(copy)
            report.write(copy)
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
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            retired.rename(target)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(retired, ignore_errors=True)


def _cell(value) -> str:
    """A table cell of the index that shows `value` as text: no markup, no column breaks."""
    return html.escape(" ".join(str(value).split())).replace("|", "\\|")


def _indexed(index: Path, target: Path, run: str, meta: dict) -> str:
    """The index with the published folder's row added (a folder published again replaces its row); the index
    must be a UTF-8 text file this process may replace."""
    text = "# Published results\n"
    if index.exists() or index.is_symlink():
        kind = _kind(index)
        if kind is not None:
            raise InputError(f"the results index {index} is {kind}, not a file publish can update")
        try:
            text = index.read_text(encoding="utf-8")
        except UnicodeDecodeError as error:
            raise InputError(f"the results index {index} is not UTF-8 text: {error}") from None
        except OSError as error:
            raise OSError(f"cannot read the results index {index}: {error.strerror or error}") from None
        if not os.access(index, os.W_OK):
            raise OSError(f"cannot write the results index {index}: it is read-only")
    if index.parent.exists() and not os.access(index.parent, os.W_OK | os.X_OK):
        raise OSError(f"cannot write the results index {index}: its folder {index.parent} is read-only")
    if INDEX_HEADING not in text:
        text = text.rstrip() + f"\n\n{INDEX_HEADING}\n\n{INDEX_HEADER}\n"
    cells = [f"`{target.name}/`", run, meta["device_name"], meta["ended"][:10], str(meta.get("git_commit"))[:7]]
    row = "| " + " | ".join([cells[0], *map(_cell, cells[1:])]) + " |"  # the folder's name is checked already
    kept = [line for line in text.rstrip().splitlines() if not line.startswith(f"| `{target.name}/` |")]
    return "\n".join(_after_last_row(kept, row)) + "\n"


def _after_last_row(lines: list[str], row: str) -> list[str]:
    """`lines` with `row` added at the end of the index's table, so that text written below it stays below."""
    end = lines.index(INDEX_HEADING) + 1
    while end < len(lines) and not lines[end].startswith("|"):  # the heading's text, down to the table
        end += 1
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return [*lines[:end], row, *lines[end:]]

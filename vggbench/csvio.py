"""Reading and writing a run's files: atomically (an interrupted run never leaves a half-written file), and
with errors that name the file and what was wrong with it."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from vggbench.validate import InputError

if TYPE_CHECKING:
    import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE, FOLDER = "a file", "a folder"
_TYPES = (
    (stat.S_ISREG, FILE),
    (stat.S_ISDIR, FOLDER),
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a fifo"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_type(path: str | Path, follow: bool = False) -> str | None:
    """What `path` names (FILE, FOLDER, 'a fifo', 'a symbolic link', ...; a link's target where `follow`), or
    None where nothing is there (or it cannot be looked at: the write that follows says why)."""
    try:
        mode = os.lstat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL in the name
        return None
    if follow and stat.S_ISLNK(mode):
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return "a symbolic link to nothing"
    return next((what for test, what in _TYPES if test(mode)), "a special file")


def check_output(path: str | Path, folder: bool = False) -> None:
    """Refuse an output that would replace what is not a regular file (a fifo, a symbolic link, a device node,
    a folder): vggbench writes new regular files, or replaces regular files, only. A `folder` output must be
    a folder (or a link to one), or not yet exist; so must the closest of its parents that exists."""
    found = file_type(path, follow=folder)
    if folder and found not in (None, FOLDER):
        raise InputError(f"{path} is {found}, not a folder: give a folder, or a path that does not exist yet")
    if not folder and found not in (None, FILE):
        raise InputError(f"{path} is {found}, not a regular file: vggbench never replaces one (give another path)")
    parent = next((parent for parent in Path(path).parents if os.path.lexists(parent)), None)
    above = file_type(parent, follow=True) if parent is not None else None
    if found is None and above not in (None, FOLDER):
        raise InputError(f"{path} cannot be written: {parent} is {above}, not a folder (give another path)")


def _write_atomically(path: str | Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Write through a temporary file beside `path`, then rename it: a reader never sees half a file. Only a
    regular file is replaced (check_output)."""
    target = Path(path)
    check_output(target)  # before the work of writing
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error} ({error.filename})") from None
    try:
        # UTF-8 whatever the locale; a path's bytes that are not UTF-8 (surrogate escapes) written as they were
        text = {} if binary else {"encoding": "utf-8", "errors": "surrogateescape", "newline": ""}
        with os.fdopen(handle, "wb" if binary else "w", **text) as stream:
            write(stream)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes files private; give the usual mode
        check_output(target)  # again: something may have been put there meanwhile
        os.replace(temporary, target)
    except OSError as error:  # a full disk, a file system gone read-only
        Path(temporary).unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def read_csv(path: str | Path) -> pd.DataFrame:
    """A table written by write_csv; empty where the file is missing or has no columns."""
    import pandas as pd

    target = Path(path)
    if not target.is_file() or target.stat().st_size <= 1:
        return pd.DataFrame()
    try:
        return pd.read_csv(target, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{target} is not a readable CSV table: {error}") from None
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None


def read_map(path: str | Path):
    """A 2-D map of numbers saved by numpy (.npy, no pickled objects); an InputError names the file and what is
    wrong with it."""
    import numpy as np

    target = Path(path)
    try:
        array = np.load(target, allow_pickle=False)
    except OSError as error:
        if target.is_file() and error.errno is None:  # numpy's word for bytes that are not an .npy file
            raise InputError(f"{target} is not a readable .npy map: {error}") from None
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None
    except (ValueError, EOFError) as error:
        why = "it holds pickled objects, refused unread" if "pickle" in str(error) else str(error)
        raise InputError(f"{target} is not a readable .npy map: {why}") from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        shape = getattr(array, "shape", None)
        raise InputError(f"{target} is not a map: it holds {getattr(array, 'dtype', type(array))} of shape {shape}")
    return array


def read_json(path: str | Path) -> object:
    """A JSON file's content; a ValueError names the file and what is wrong with it."""
    target = Path(path)
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{target} is not valid JSON: {error}") from None
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None


# The types a table's column may be checked for (Table.reads), as a message names them.
NUMBER, INTEGER, BOOLEAN, TEXT, NUMBERS = "a number", "an integer", "True or False", "text", "numbers joined by ;"
# Columns that, in any of the kinds' tables that has them, hold values of one type: the identity's, a run's.
TYPED_WHERE_PRESENT = {
    **dict.fromkeys(("ratio", "resolution", "in_channels", "num_classes", "kernel", "seed", "epoch"), INTEGER),
    **dict.fromkeys(("batch_norm", "trained", "rf_fits", "failed", "stable"), BOOLEAN),
    **dict.fromkeys(("erf_share_t50", "replknet_share_t50", "img_per_s", "step_ms_iqr"), NUMBER),
    **dict.fromkeys(("baseline_img_per_s", "variant_img_per_s", "density_vs_3x3", "ci_low", "ci_high"), NUMBER),
    "batch_size": INTEGER,
    **dict.fromkeys(("erf_share_t50_per_model", "replknet_share_t50_per_model"), NUMBERS),
}
_BOOLEANS = {True: True, False: False, "True": True, "False": False, "true": True, "false": False}


def check_columns(table: pd.DataFrame, path: str | Path, reads: dict[str, str], why: str = "") -> pd.DataFrame:
    """`table` (read from `path`) once it has every column of `reads` (column -> type) with values of its
    type, and the columns of TYPED_WHERE_PRESENT it has too; numbers come back as numbers. A table whose
    every row is a failed trial's (an `error` and the identity) needs only those. An InputError names the
    file, the column and the first bad value with its line."""
    if table.empty:
        return table
    failed_only = "error" in table and table["error"].notna().all()
    missing = [column for column in reads if column not in table]
    if missing and not failed_only:
        raise InputError(f"{path} lacks the column(s) {', '.join(missing)}{why}: is it a table vggbench wrote?")
    table = table.copy()
    for column, kind in {**TYPED_WHERE_PRESENT, **reads}.items():
        if column in table:
            table[column] = _typed(table[column], kind, path)
    return table


def _typed(values: pd.Series, kind: str, path: str | Path) -> pd.Series:
    import numpy as np
    import pandas as pd

    given = values.notna()
    if kind == TEXT:
        return values
    if kind == BOOLEAN:
        if pd.api.types.is_bool_dtype(values):
            return values
        found = values.map(lambda value: _BOOLEANS.get(value) if isinstance(value, (bool, str)) else None)
        bad = given & found.isna()
        typed = found.where(given, np.nan)
    elif kind == NUMBERS:
        bad = given & ~values.map(_numbers)
        typed = values
    else:
        typed = pd.to_numeric(values, errors="coerce") if not pd.api.types.is_numeric_dtype(values) else values
        bad = given & typed.isna()
        if kind == INTEGER and pd.api.types.is_numeric_dtype(typed):
            bad |= typed.notna() & (typed != np.floor(typed.where(np.isfinite(typed), 0.5)))
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[line]
        shown = repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else value
        raise InputError(
            f"{path} has {shown} in column {values.name} (line {line + 2}): it must hold {kind}, or be empty"
        )
    return typed


def _numbers(value) -> bool:
    """Whether a cell holds numbers joined by ';' (nan allowed), as per-model columns do."""
    try:
        [float(part) for part in str(value).split(";")]
    except ValueError:
        return False
    return True


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def _cell(value):
    """`value` as a CSV cell that reads back as written and that a spreadsheet shows rather than runs: a text a
    spreadsheet would run as a formula (not numbers, as -0.5 or '-1;2') with a quote before it, as OWASP
    recommends; its carriage returns as line breaks (a bare one, left unquoted, would end the row)."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_STARTS) and not _numbers(value):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def neutralised(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with every text cell made safe to write (_cell); numbers as they are."""
    import pandas as pd

    safe = table.copy()
    for index in range(table.shape[1]):
        if not pd.api.types.is_numeric_dtype(table.iloc[:, index]):
            safe.iloc[:, index] = table.iloc[:, index].map(_cell)
    return safe


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    _write_atomically(path, lambda stream: neutralised(table).to_csv(stream, index=False))


def write_text(path: str | Path, text: str) -> None:
    _write_atomically(path, lambda stream: stream.write(text))


def write_bytes(path: str | Path, data: bytes) -> None:
    _write_atomically(path, lambda stream: stream.write(data), binary=True)

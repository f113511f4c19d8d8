"""Reading and writing a run's files: atomically (an interrupted run never leaves a half-written file), and
with errors that name the file and what was wrong with it."""

from __future__ import annotations

import io
import json
import os
import stat
import tempfile
import zipfile
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


def _write_atomically(path: str | Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Write through a temporary file beside `path`, then rename it: a reader never sees half a file."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise OSError(f"cannot write {path}: {error.strerror or error} ({error.filename})") from None
    try:
        with os.fdopen(handle, "wb" if binary else "w", newline=None if binary else "") as stream:
            write(stream)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes files private; give the usual mode
        os.replace(temporary, target)
    except OSError as error:  # a full disk, a file system gone read-only
        Path(temporary).unlink(missing_ok=True)
        raise OSError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


MAX_CONFIG_BYTES = 2**20  # a configuration file (--config, config.json): hundreds of times the largest one
MAX_TABLE_BYTES = 2**28  # a table, trial file or map read back from a run: far above a real run's
MAX_NESTING = 32  # levels of lists and tables in a configuration or JSON file (a configuration has 2)
_NOT_REGULAR = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a fifo",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISSOCK: "a socket",
}


def read_bytes(path: str | Path, limit: int = MAX_TABLE_BYTES) -> bytes:
    """The content of `path`, which must be a regular file of at most `limit` bytes: anything else (a fifo, a
    device, a folder) is refused unopened, so that no read blocks or runs forever, and a larger file unread; an
    InputError names the path and the limit. An OSError (a missing file) is left to the caller."""
    target = Path(path)
    _check_regular(target, os.stat(target), limit)
    # O_NONBLOCK: should the file have become a fifo since, opening it does not wait for a writer.
    with os.fdopen(os.open(target, os.O_RDONLY | os.O_NONBLOCK), "rb") as stream:
        _check_regular(target, os.fstat(stream.fileno()), limit)
        content = stream.read(limit + 1)
    if len(content) > limit:  # it grew while read
        raise InputError(f"{target} holds more than {limit:,} bytes: {_allowed(limit)}")
    return content


def _check_regular(target: Path, status: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _NOT_REGULAR.items() if test(status.st_mode)), "a special file")
        raise InputError(f"{target} is not a regular file but {kind}: {_allowed(limit)}")
    if status.st_size > limit:
        raise InputError(f"{target} holds {status.st_size:,} bytes: {_allowed(limit)}")


def _allowed(limit: int) -> str:
    return f"it must be a regular file of at most {limit / 2**20:g} MiB ({limit:,} bytes)"


def parse_nested(parse: Callable[[str], object], text: str, path: str | Path) -> object:
    """`parse(text)` (JSON or TOML from `path`), refused where its lists and tables nest more than MAX_NESTING
    levels deep (or so deep that the parser's recursion gives out)."""
    try:
        value = parse(text)
        deep = _depth(value) > MAX_NESTING
    except RecursionError:
        deep = True
    if deep:
        raise InputError(f"{path} nests lists or tables too deeply: at most {MAX_NESTING} levels are read")
    return value


def _depth(value) -> int:
    """How many levels of lists and tables (dicts) `value` nests."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            todo += [(entry, level + 1) for entry in (item.values() if isinstance(item, dict) else item)]
    return deepest


def read_csv(path: str | Path) -> pd.DataFrame:
    """A table written by write_csv; empty where the file is missing or has no columns."""
    import pandas as pd

    target = Path(path)
    try:
        content = read_bytes(target)
    except FileNotFoundError:
        return pd.DataFrame()
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None
    if len(content) <= 1:
        return pd.DataFrame()
    try:
        return pd.read_csv(io.BytesIO(content))
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{target} is not a readable CSV table: {error}") from None


def read_map(path: str | Path):
    """A 2-D map of numbers saved by numpy (.npy, no pickled objects); an InputError names the file and what is
    wrong with it."""
    import numpy as np

    target = Path(path)
    try:
        array = np.load(io.BytesIO(read_bytes(target)), allow_pickle=False)
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None
    except zipfile.BadZipFile as error:  # bytes that begin as a zip (an .npz) but are none
        raise InputError(f"{target} is not a readable .npy map: {error}") from None
    except (ValueError, EOFError) as error:
        why = "it holds pickled objects, refused unread" if "pickle" in str(error) else str(error)
        raise InputError(f"{target} is not a readable .npy map: {why}") from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        shape = getattr(array, "shape", None)
        raise InputError(f"{target} is not a map: it holds {getattr(array, 'dtype', type(array))} of shape {shape}")
    return array


def read_json(path: str | Path, limit: int = MAX_TABLE_BYTES) -> object:
    """A JSON file's content (a regular file of at most `limit` bytes); a ValueError names the file and what is
    wrong with it."""
    target = Path(path)
    try:
        return parse_nested(json.loads, read_bytes(target, limit).decode("utf-8"), target)
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


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    _write_atomically(path, lambda stream: table.to_csv(stream, index=False))


def write_text(path: str | Path, text: str) -> None:
    _write_atomically(path, lambda stream: stream.write(text))


def write_bytes(path: str | Path, data: bytes) -> None:
    _write_atomically(path, lambda stream: stream.write(data), binary=True)

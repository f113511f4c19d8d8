"""Reading and writing a run's files: atomically (an interrupted run never leaves a half-written file), and
with errors that name the file and what was wrong with it."""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import stat
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from vggbench.util.validate import InputError, shown

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
    return _described(mode)


def _described(mode: int) -> str:
    """What a file of `mode` is, in words (FILE, FOLDER, 'a fifo', ...)."""
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


MAX_CONFIG_BYTES = 2**20  # a configuration file (--config, config.json): hundreds of times the largest one
MAX_TABLE_BYTES = 2**28  # a table, trial file or map read back from a run: far above a real run's
MAX_NESTING = 32  # levels of lists and tables in a configuration or JSON file (a configuration has 2)


def read_bytes(path: str | Path, limit: int = MAX_TABLE_BYTES, follow: bool = True) -> bytes:
    """The content of `path`, which must be a regular file of at most `limit` bytes: anything else (a fifo, a
    device, a folder; a symbolic link, unless `follow`) is refused unopened, so that no read blocks or runs
    forever, and a larger file unread; an InputError names the path and the limit. An OSError (a missing file) is
    left to the caller."""
    target = Path(path)
    _check_regular(target, os.stat(target) if follow else os.lstat(target), limit)
    # O_NONBLOCK: should the file have become a fifo since, opening it does not wait for a writer; O_NOFOLLOW:
    # nor follow a link swapped in.
    flags = os.O_RDONLY | os.O_NONBLOCK | (0 if follow else getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(os.open(target, flags), "rb") as stream:
        _check_regular(target, os.fstat(stream.fileno()), limit)
        content = stream.read(limit + 1)
    if len(content) > limit:  # it grew while read
        raise InputError(f"{target} holds more than {limit:,} bytes: {_allowed(limit)}")
    return content


def _check_regular(target: Path, status: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise InputError(f"{target} is not a regular file but {_described(status.st_mode)}: {_allowed(limit)}")
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
    except ValueError as error:  # not a decode error (its caller names those): a number of too many digits
        if type(error) is not ValueError:
            raise
        raise InputError(f"{path} holds a value too large to read: {str(error).split(';')[0]}") from None
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


def read_csv(path: str | Path, follow: bool = True) -> pd.DataFrame:
    """A table written by write_csv; empty where the file is missing or has no columns (read_bytes: `follow`)."""
    import pandas as pd

    target = Path(path)
    try:
        content = read_bytes(target, follow=follow)
    except FileNotFoundError:
        return pd.DataFrame()
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None
    if len(content) <= 1:
        return pd.DataFrame()
    try:
        return pd.read_csv(io.BytesIO(content), encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{target} is not a readable CSV table: {error}") from None


def read_map(path: str | Path, follow: bool = True):
    """A 2-D map of numbers saved by numpy (.npy, no pickled objects); an InputError names the file and what is
    wrong with it."""
    import numpy as np

    target = Path(path)
    try:
        array = np.load(io.BytesIO(read_bytes(target, follow=follow)), allow_pickle=False)
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


def read_json(path: str | Path, limit: int = MAX_TABLE_BYTES, follow: bool = True) -> object:
    """A JSON file's content (a regular file of at most `limit` bytes); a ValueError names the file and what is
    wrong with it."""
    target = Path(path)
    try:
        return parse_nested(json.loads, read_bytes(target, limit, follow).decode("utf-8"), target)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{target} is not valid JSON: {error}") from None
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None


# The types a table's column may be checked for (Table.reads), as a message names them; the last ones are numbers
# within a range, finite, as times, rates, shares and counts are.
NUMBER, INTEGER, BOOLEAN, TEXT, NUMBERS = "a number", "an integer", "True or False", "text", "numbers joined by ;"
POSITIVE, NON_NEGATIVE, SHARE = "a number > 0", "a number >= 0", "a number from 0 to 1"
COUNT, WHOLE = "an integer >= 1", "an integer >= 0"


class OneOf(tuple):
    """A column type: one of these names (as `schema.ARCH`, an architecture's), named in messages as `what`."""

    def __new__(cls, names, what: str):
        one_of = super().__new__(cls, names)
        one_of.what = what
        return one_of

    def __str__(self) -> str:
        return f"{self.what} ({', '.join(self[:-1])} or {self[-1]})"

    def accepts(self, value) -> bool:
        return value in self


_RANGES = {
    POSITIVE: (0, math.inf),
    NON_NEGATIVE: (0, math.inf),
    SHARE: (0, 1),
    COUNT: (1, math.inf),
    WHOLE: (0, math.inf),
}
# Columns that, in any of the kinds' tables that has them, hold values of one type: the identity's, a run's, a
# measurement's. A table's own `reads` may say more of a column (must be there, a narrower type).
TYPED_WHERE_PRESENT = {
    **dict.fromkeys(("seed", "epoch"), INTEGER),
    **dict.fromkeys(("ratio", "resolution", "in_channels", "num_classes", "kernel", "batch_size", "runs"), COUNT),
    **dict.fromkeys(("batch_norm", "trained", "rf_fits", "failed", "stable"), BOOLEAN),
    **dict.fromkeys(("erf_share_t50", "replknet_share_t50", "ci_low", "ci_high"), NUMBER),
    **dict.fromkeys(("img_per_s", "baseline_img_per_s", "variant_img_per_s", "density_vs_3x3"), POSITIVE),
    **dict.fromkeys(("step_ms_ci_low", "step_ms_ci_high", "gflops_ci_low", "gflops_ci_high"), POSITIVE),
    **dict.fromkeys(("epoch_s", "train_s", "compute_s", "train_img_per_s"), POSITIVE),
    **dict.fromkeys(("step_ms_iqr", "data_s", "train_loss"), NON_NEGATIVE),
    **dict.fromkeys(("train_acc", "test_acc", "val_acc"), SHARE),
    **dict.fromkeys(("params", "conv_params", "fc_params", "macs", "flops", "macs_real", "rf_px"), WHOLE),
    "validation_images": WHOLE,
    **dict.fromkeys(("train_images", "test_images", "optimizer_steps", "pairs", "erf_resolution"), COUNT),
    **dict.fromkeys(("erf_share_t50_per_model", "replknet_share_t50_per_model"), NUMBERS),
}
# The columns that name a row in a message, where a table has them.
ROW_NAMES = ("arch", "variant", "baseline", "ratio", "resolution", "mode", "batch_size", "seed", "epoch", "trained")
ROW_NAMES += ("channels", "side_px", "kernel_px")
_BOOLEANS = {True: True, False: False, "True": True, "False": False, "true": True, "false": False}


def check_columns(
    table: pd.DataFrame,
    path: str | Path,
    reads: dict[str, str],
    why: str = "",
    required: tuple[str, ...] = (),
    ordered: tuple[tuple[str, ...], ...] = (),
    rows: bool = False,
) -> pd.DataFrame:
    """`table` (read from `path`) once it has every column of `reads` (column -> type) with values of its
    type, and the columns of TYPED_WHERE_PRESENT it has too; numbers come back as numbers. A table whose
    every row is a failed trial's (an `error`, or `failed` true: a run that diverged) needs only those, and a
    failed row's numbers may be infinite (a diverged loss). Every other row fills the
    `required` columns; along each of `ordered` (an interval's low end, its median, its high end), the values a
    row has never decrease. An InputError names the file, the column, the bad value, its line (its row, where
    `rows`: rows handed over rather than a file read) and the row's identity."""
    import numpy as np

    if table.empty:
        return table
    failed = np.zeros(len(table), dtype=bool)
    if "error" in table:
        failed |= table["error"].notna().to_numpy(dtype=bool)
    if "failed" in table:
        marked = table["failed"].map(lambda value: isinstance(value, (bool, str)) and _BOOLEANS.get(value) is True)
        failed |= marked.to_numpy(dtype=bool)
    missing = [column for column in reads if column not in table]
    if missing and not failed.all():
        raise InputError(f"{path} lacks the column(s) {', '.join(missing)}{why}: is it a table vggbench wrote?")
    where = (lambda line: f"row {line + 1}") if rows else (lambda line: f"line {line + 2}")
    table = table.copy()
    for column, kind in {**TYPED_WHERE_PRESENT, **reads}.items():
        if column in table:
            table[column] = _typed(table, column, kind, path, failed, where)
    for column in required:
        empty = table[column].isna().to_numpy() & ~failed if column in table else []
        if np.any(empty):
            line = int(np.flatnonzero(empty)[0])
            raise InputError(
                f"{path} has no {column} on {where(line)}{_named(table, line)}: a row whose trial did not fail "
                "(no error) must have one"
            )
    for columns in ordered:
        present = [column for column in columns if column in table]
        for low, high in itertools.pairwise(present):
            reversed_ = (table[low] > table[high]).to_numpy()
            if reversed_.any():
                line = int(np.flatnonzero(reversed_)[0])
                raise InputError(
                    f"{path} has {low}={table[low].iloc[line]:g} above {high}={table[high].iloc[line]:g} on "
                    f"{where(line)}{_named(table, line)}: an interval must be ordered, {' <= '.join(present)}"
                )
    return table


def _named(table: pd.DataFrame, line: int, form: str = " ({})") -> str:
    """How a message names row `line` (from 0) of `table`: `form` filled with its identity (arch=vgg11
    variant=stack ...), or nothing where the table has no identity columns."""
    import pandas as pd

    row = table.iloc[line]
    named = [f"{key}={shown(row[key])}" for key in ROW_NAMES if key in table and pd.notna(row[key])]
    return form.format(" ".join(named)) if named else ""


def _typed(table: pd.DataFrame, column: str, kind: str, path: str | Path, failed, where) -> pd.Series:
    """Column `column` of `table` as `kind` (numbers as numbers); an InputError names its first bad value. The
    rows `failed` marks may hold an infinite number where the type wants a finite one."""
    import numpy as np
    import pandas as pd

    values = table[column]
    given = values.notna()
    if kind == TEXT:
        return values
    if isinstance(kind, OneOf):
        bad = given & ~values.map(kind.accepts)
        typed = values
    elif kind == BOOLEAN:
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
        if kind in (INTEGER, COUNT, WHOLE) and pd.api.types.is_numeric_dtype(typed):
            bad |= typed.notna() & (typed != np.floor(typed.where(np.isfinite(typed), 0.5)))
        if kind in _RANGES and pd.api.types.is_numeric_dtype(typed):
            least, most = _RANGES[kind]
            above = typed > least if kind == POSITIVE else typed >= least
            excused = failed & ~np.isfinite(typed)  # a diverged run's loss
            bad |= typed.notna() & ~(np.isfinite(typed) & above & (typed <= most)) & ~excused
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[line]
        raise InputError(
            f"{path} has {shown(value)} in column {column} ({where(line)}): it must hold {kind}, or be empty"
            + _named(table, line, " (the row of {})")
        )
    return typed


# Each type's kind of value, without its range: what a table reads back as (with_dtypes).
_BASE_TYPES = {POSITIVE: NUMBER, NON_NEGATIVE: NUMBER, SHARE: NUMBER, COUNT: INTEGER, WHOLE: INTEGER}


def with_dtypes(table: pd.DataFrame, path: str | Path, schema: dict[str, str]) -> pd.DataFrame:
    """`table` (read from `path`) with each column `schema` types (column -> type) as it was written: booleans as
    bool, integers as int64 and numbers as float64; where a row leaves a boolean or an integer empty, as pandas'
    nullable boolean or Int64 (a CSV reader would make them object and float64). Columns `schema` does not name
    stay as read, and so do their ranges: a value not of its column's type is an InputError (check_columns's)."""
    import numpy as np

    typed = table.copy()
    never_failed, where = np.zeros(len(table), dtype=bool), (lambda line: f"line {line + 2}")
    for column in table.columns:
        kind = _BASE_TYPES.get(schema.get(column), schema.get(column))
        if kind not in (BOOLEAN, INTEGER, NUMBER):
            continue
        values = _typed(table, column, kind, path, never_failed, where)
        if kind == NUMBER:
            typed[column] = values.astype("float64")
        elif kind == BOOLEAN:
            typed[column] = values.astype("bool" if values.notna().all() else "boolean")
        else:
            typed[column] = values.astype("int64" if values.notna().all() else "Int64")
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

"""Reading and writing a run's files: atomically (an interrupted run never leaves a half-written file), and
with errors that name the file and what was wrong with it."""

from __future__ import annotations

import json
import os
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


def read_csv(path: str | Path) -> pd.DataFrame:
    """A table written by write_csv; empty where the file is missing or has no columns."""
    import pandas as pd

    target = Path(path)
    if not target.is_file() or target.stat().st_size <= 1:
        return pd.DataFrame()
    try:
        return pd.read_csv(target)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{target} is not a readable CSV table: {error}") from None
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None


def read_json(path: str | Path) -> object:
    """A JSON file's content; a ValueError names the file and what is wrong with it."""
    target = Path(path)
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{target} is not valid JSON: {error}") from None
    except OSError as error:
        raise OSError(f"cannot read {target}: {error.strerror or error}") from None


def write_csv(table: pd.DataFrame, path: str | Path) -> None:
    _write_atomically(path, lambda stream: table.to_csv(stream, index=False))


def write_text(path: str | Path, text: str) -> None:
    _write_atomically(path, lambda stream: stream.write(text))


def write_bytes(path: str | Path, data: bytes) -> None:
    _write_atomically(path, lambda stream: stream.write(data), binary=True)

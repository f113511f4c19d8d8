"""Where a factory ('package.module:function') comes from: the function, imported as `python -m` imports a module
(the current directory first), and the digest of its source file. No torch here: the model grid checks a factory's
name and source before anything is built."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import os
import re
import sys
from pathlib import Path

from vggbench.util.validate import InputError, shown

_TARGET = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")
ALLOWED = "'package.module:function', a function called as function((channels, height, width), num_classes) that "
ALLOWED += "returns a torch.nn.Module"


def is_target(value) -> bool:
    """Whether `value` is written as a factory is ('package.module:function'), whether or not it imports."""
    return isinstance(value, str) and _TARGET.fullmatch(value) is not None


def refuse(target, why: str) -> InputError:
    return InputError(f"factory={shown(target)} is not allowed: {why} (give {ALLOWED})")


@contextlib.contextmanager
def _current_directory_first():
    """sys.path with the current directory first while importing, as `python -m` has it."""
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(here)


# The digest of the source each factory module was last imported from in this process: a module whose file has
# changed since is imported again, so that the code run is the code the run's fingerprints name.
_IMPORTED: dict[str, str] = {}


def _current(module):
    """`module`, imported again where its source file changed since this process imported it."""
    path = getattr(module, "__file__", None)
    if not path or not Path(path).is_file():
        return module
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    if _IMPORTED.setdefault(module.__name__, digest) != digest:
        module = importlib.reload(module)
        _IMPORTED[module.__name__] = digest
    return module


def function(target):
    """The function `target` names, imported; an InputError in one line where it cannot be."""
    if not is_target(target):
        raise refuse(target, "it is not written as package.module:function")
    module_name, name = target.split(":")
    try:
        with _current_directory_first():
            module = _current(importlib.import_module(module_name))
    except Exception as error:  # the module's own code runs: whatever it raises
        first = next(iter(str(error).strip().splitlines()), "")
        raise refuse(target, f"module {module_name} cannot be imported: {type(error).__name__}: {first}") from None
    found = getattr(module, name, None)
    if not callable(found):
        raise refuse(target, f"module {module_name} has no function {name}")
    return found


def source_sha256(target) -> str:
    """The digest of the source file that defines the factory `target` (imported to find it)."""
    source = inspect.getsourcefile(function(target))
    if source is None:
        raise refuse(target, "its source file cannot be found (a compiled or built-in function)")
    return hashlib.sha256(Path(source).read_bytes()).hexdigest()

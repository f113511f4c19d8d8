"""vggbench's version: the installed package's metadata, or, run from a source tree that is not installed,
the version its pyproject.toml declares; with the git commit where the package sits in a git checkout.

Nothing here imports torch: `vggbench --version` answers at once.
"""

from __future__ import annotations

import re
import subprocess
from importlib import metadata
from pathlib import Path

UNKNOWN = "unknown"
_SOURCE = Path(__file__).resolve().parents[2]  # the source tree's root, where this is one


def package_version() -> str:
    """The version number: the installed metadata's, else the source tree's pyproject.toml's, else 'unknown'."""
    try:
        return metadata.version("vggbench")
    except metadata.PackageNotFoundError:
        return _declared() or UNKNOWN


def _declared() -> str | None:
    """The `version` of the [project] table of the pyproject.toml beside the package, where there is one."""
    try:
        text = (_SOURCE / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
    found = project and re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.MULTILINE)
    return found.group(1) if found else None


def git_commit() -> str | None:
    """The short commit of the git checkout the package sits in (with '+changes' where files differ from it);
    None outside one, or without git."""

    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", *arguments],
            cwd=_SOURCE,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            check=True,
            timeout=10,
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != _SOURCE:
            return None  # the package is installed inside some other repository
        commit = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", "vggbench")
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+changes" if changed else "")


def describe() -> str:
    """What `vggbench --version` prints: 'vggbench 0.1.0', and '(git abc1234)' from a git checkout."""
    commit = git_commit()
    return f"vggbench {package_version()}" + (f" (git {commit})" if commit else "")

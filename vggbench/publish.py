"""Publishing a finished run: its tables, reports, figures and ERF maps copied into results/, and indexed."""

from __future__ import annotations

import shutil
from pathlib import Path

from vggbench.csvio import write_text
from vggbench.rundir import CLAIM_MD, REPORT, RunDir
from vggbench.study import finish

INDEX_HEADING = "## Published runs"
INDEX_HEADER = "| folder | run | device | date | commit |\n| --- | --- | --- | --- | --- |"


def publish(run_dir: str | Path, results: str | Path = "results") -> Path:
    """Copy a finished run to results/<name>-<device>-<date>/ and list it in results/README.md.

    A run whose reports are missing (an interrupted finish) is finished first.
    """
    directory = RunDir(run_dir)
    meta = directory.metadata()
    if not meta:
        raise ValueError(f"{directory.root} has no readable metadata.json: is it a `vggbench run` directory?")
    if not meta.get("ended"):
        raise ValueError(f"{directory.root} is not finished: rerun `vggbench run` with it until it ends")
    if not (directory.has(CLAIM_MD) and directory.has(REPORT)):
        finish(directory.root)
    target = Path(results) / f"{directory.root.name}-{meta['device']}-{meta['ended'][:10]}"
    for name in directory.published():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(directory.path(name), target / name)
    _index(Path(results) / "README.md", target, directory.root.name, meta)
    return target


def _index(index: Path, target: Path, run: str, meta: dict) -> None:
    """Add the published folder's row to the index; a folder published again replaces its row."""
    text = index.read_text() if index.is_file() else "# Published results\n"
    if INDEX_HEADING not in text:
        text = text.rstrip() + f"\n\n{INDEX_HEADING}\n\n{INDEX_HEADER}\n"
    date, commit = meta["ended"][:10], str(meta["git_commit"])[:7]
    row = f"| `{target.name}/` | {run} | {meta['device_name']} | {date} | {commit} |"
    kept = [line for line in text.rstrip().splitlines() if not line.startswith(f"| `{target.name}/` |")]
    write_text(index, "\n".join([*kept, row]) + "\n")

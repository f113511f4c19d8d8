"""A run directory, and every file name in it.

    RUN_DIR/.lock                     held by the run working in the folder (its pid and host)
    RUN_DIR/config.json               the configuration (refuses a run with another one; seeds may be added)
    RUN_DIR/metadata.json             versions, device, threads, commit, configuration, start and end, and
                                      each sitting's (start, end, commit, config digest, design and accuracy
                                      family: vggbench.engine.study.sitting_plan) (and `published` in a copy
                                      `vggbench publish` made, which no run may use)
    RUN_DIR/tuning.json, tuning.csv   with tuning, the search and each arm's chosen recipe; every candidate's rows
    RUN_DIR/tuning.db                 the same search as Optuna's studies (SQLite; made anew by every sitting)
    RUN_DIR/decisions.json            under a sequential design, the accuracy comparisons each look decided
                                      (judged once per round by the engine, read by the claim)
    RUN_DIR/trials/KIND/KEY.json      one file per finished trial, written atomically, last
    RUN_DIR/checkpoints/KEY.pt        trained models
    RUN_DIR/erf_maps/MODEL-STATE.npy  effective-receptive-field maps
    RUN_DIR/NAME.csv                  the tables made from the trials (static, speed, train, summary, claim, ...)
    RUN_DIR/claim.md, figures/, report.html
    RUN_DIR/reports.json              the vggbench version and commit that wrote claim.md (and claim.csv) and
                                      report.html (and figures/), and when: maybe newer code than the sittings'

A trial's file holds its rows (or its error), the fingerprint of what it ran under and
the digests of the files it wrote. It marks the trial done only when all of that is
whole and the fingerprint is the current trial's: rerunning a study skips what is done,
redoes what failed, was cut short or corrupted, or ran under another configuration, and
SIGINT or SIGKILL loses at most the trials in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from vggbench.engine.contract import Kind, Outcome, Trial
from vggbench.models.arch import HEAD_DEFAULTS, ModelSpec
from vggbench.util.csvio import (
    FILE,
    MAX_CONFIG_BYTES,
    file_type,
    read_bytes,
    read_csv,
    read_json,
    write_bytes,
    write_csv,
    write_text,
)
from vggbench.util.validate import InputError, printable, shown
from vggbench.util.version import git_commit, package_version

if TYPE_CHECKING:
    import pandas as pd

CONFIG, METADATA, LOCK, DECISIONS = "config.json", "metadata.json", ".lock", "decisions.json"
TUNING_JSON, TUNING_DB = "tuning.json", "tuning.db"
# Training keys added after runs were recorded, with what the code before them did: a config.json without one
# (results/ before issue 35) reads as that run ran, with no validation split and PyTorch's initialisation.
ADDED_TRAINING_KEYS = {"validation_images": 0, "init": "default"}
# Model keys added after runs were recorded (issue 36), at what every model had before them: VGG's head.
ADDED_MODEL_KEYS = HEAD_DEFAULTS
TRIAL_FORMAT = 1
# What a trial's file says of it.
DONE, FAILED, MISSING, INCOMPLETE, OTHER_CONFIG = "done", "failed", "missing", "incomplete or corrupt", "stale"
DAMAGED = "damaged"  # whole, but naming files trials do not write, or rows not its trial's or out of range
TRIALS, CHECKPOINTS, ERF_MAPS, FIGURES = "trials", "checkpoints", "erf_maps", "figures"
CLAIM_MD, REPORT, REPORTS = "claim.md", "report.html", "reports.json"
PUBLISHED_FOLDERS = (FIGURES, ERF_MAPS)  # not the checkpoints, nor the per-trial files
PUBLISHED_FILES = (CLAIM_MD, REPORT, REPORTS, METADATA, CONFIG, DECISIONS, TUNING_JSON)  # and every table
PUBLISHED = "published"  # metadata.json's key in a folder `vggbench publish` made: where and when
INDEX_HEADING = "## Published runs"  # the results index's (README.md beside published folders) table's heading
MAX_INPUT_BYTES = 2**33  # a checkpoint a trial reads: VGG-19's weights take 0.55 GB
MAX_INDEX_BYTES = 10_000_000  # a results index beside a folder, read to tell whether it lists the folder


def model_key(arch: str, variant: str, ratio: int, resolution: int, batch_norm: bool = False) -> str:
    """How file names call a model: vgg11-stack-r8-px32 (-bn with batch norm)."""
    return f"{arch}-{variant}-r{ratio}-px{resolution}" + ("-bn" if batch_norm else "")


def spec_key(spec: ModelSpec, variant: str | None = None) -> str:
    """model_key of `spec`; a factory's 'package.module:function' as package.module.function (no ':' in a file's
    name)."""
    arch = spec.arch.name.replace(":", ".")
    return model_key(arch, variant or spec.variant, spec.ratio, spec.resolution, spec.batch_norm)


def now() -> str:
    """The time as metadata.json has it: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def index_row(folder: str) -> str:
    """How the row of the published folder named `folder` starts in a results index (vggbench.reporting.publish)."""
    return f"| `{folder}/` |"


def checkpoint_file(trial_key: str) -> str:
    """Where a training trial's model goes, relative to the run directory."""
    return f"{CHECKPOINTS}/{trial_key}.pt"


def erf_map_name(model: str, state: str) -> str:
    """The file name (under ERF_MAPS) of the ERF map of the model keyed `model`, `state` untrained or trained."""
    return f"{model}-{state}.npy"


class RunDir:
    """The files of one run. `kinds` (the registry, vggbench.engine.registry.KINDS) judges what a trial file holds: a
    RunDir that reads the trials' state (status, rows, failures) needs it; one that reads tables only does not.
    One made to `remember` keeps each checked table it reads, so that the claim and the report, which read many of
    the same tables, read each file once."""

    def __init__(self, root: str | Path, kinds: Mapping[str, Kind] | None = None, remember: bool = False) -> None:
        self.root, self.kinds = Path(root), kinds
        self._remembered: dict[str, pd.DataFrame] | None = {} if remember else None

    def trial_path(self, kind: str, key: str) -> Path:
        return self.root / TRIALS / kind / f"{key}.json"

    def done(self, kind: str, key: str) -> bool:
        """Whether the trial has finished (or failed): what a trial that reads its files waits for."""
        return self.trial_path(kind, key).is_file()

    def _envelope(self, trial: Trial) -> dict | None:
        """The trial's file, where it is whole; None where it is missing, cut, corrupt or not a trial file."""
        try:
            envelope = read_json(self.own(f"{TRIALS}/{trial.kind}/{trial.key}.json"), follow=False)
        except (InputError, OSError):
            return None
        fields = {"format": int, "fingerprint": str, "rows": list, "files": dict}
        if not isinstance(envelope, dict) or not all(isinstance(envelope.get(k), t) for k, t in fields.items()):
            return None
        for row in envelope["rows"]:  # a model's row written before heads were a choice: VGG's head, unnamed
            if isinstance(row, dict) and "arch" in row:
                row.setdefault("head", HEAD_DEFAULTS["head"])
        return envelope

    def status(self, trial: Trial) -> str:
        """DONE, FAILED, MISSING, INCOMPLETE (its file or a file it wrote is cut or corrupt), OTHER_CONFIG or
        DAMAGED (`damage` says how)."""
        if not self.trial_path(trial.kind, trial.key).is_file():
            return MISSING
        envelope = self._envelope(trial)
        if envelope is None:
            return INCOMPLETE
        if envelope["fingerprint"] != trial.fingerprint:
            return OTHER_CONFIG
        if self.damage(trial, envelope):
            return DAMAGED
        for name, digest in envelope["files"].items():  # read only where trials write, through no link
            if not self._owned(name) or _digest((self.root / name).read_bytes()) != digest:
                return INCOMPLETE
        return FAILED if envelope.get("error") else DONE

    def damage(self, trial: Trial, envelope: dict | None = None) -> str | None:
        """What is wrong with the trial's whole file (`envelope`, where read already): files named where trials
        write none, rows that are not its trial's, or numbers outside their columns' ranges (Kind.damage); None
        where nothing is."""
        if self.kinds is None:
            raise TypeError("RunDir(root, kinds) judges trial files: give it the kinds' registry")
        envelope = envelope or self._envelope(trial)
        if envelope is None:
            return None
        strange = [name for name in envelope["files"] if not _trial_output(name)]
        if strange:
            return f"it names {shown(strange[0])}, not a file in {CHECKPOINTS}/ or {ERF_MAPS}/"
        error = envelope.get("error")
        if error is not None and not isinstance(error, str):
            return f"its error is {type(error).__name__}, not text"
        return self.kinds[trial.kind].damage(trial, envelope["rows"], error)

    def remove_unmade(self, plan: list[Trial], tables: set[str]) -> list[str]:
        """Remove what `plan` does not make: the files of other trials, the files that only they name
        (checkpoints, ERF maps) and the tables `tables` (NAME.csv); return what was removed, by its name in the
        run directory. Only regular files where this module puts them are removed, none through a link: what
        vggbench did not write stays."""
        planned = {f"{TRIALS}/{trial.kind}/{trial.key}.json" for trial in plan}
        trials = [path.relative_to(self.root).as_posix() for path in sorted((self.root / TRIALS).glob("*/*.json"))]
        unmade = [name for name in trials if name not in planned]
        kept = {output for name in trials if name in planned for output in self._outputs(name)}
        names = [*unmade, *sorted({output for name in unmade for output in self._outputs(name)} - kept)]
        removed = self.remove_files([*names, *(f"{table}.csv" for table in sorted(tables))])
        for folder in {(self.root / name).parent for name in removed if name.startswith(f"{TRIALS}/")}:
            with contextlib.suppress(OSError):  # kept where it holds other files
                folder.rmdir()
        return removed

    def remove_files(self, names: list[str]) -> list[str]:
        """Remove those of `names` that are regular files of the run itself (none through a link); give them."""
        removed = [name for name in names if self._owned(name)]
        for name in removed:
            (self.root / name).unlink()
        return removed

    def _outputs(self, name: str) -> set[str]:
        """The files that the trial file `name` says its trial wrote, of those where trials write."""
        try:
            envelope = read_json(self.own(name), follow=False)
        except (InputError, OSError):
            return set()
        files = envelope.get("files") if isinstance(envelope, dict) else None
        return {output for output in files if _trial_output(output)} if isinstance(files, dict) else set()

    def own(self, name: str) -> Path:
        """The path of `name` (relative, '/' between folders), the run's own: an InputError where it or a folder
        on its way inside the run is a symbolic link, whose target may be any file on the machine."""
        path = self.root
        for part in name.split("/"):
            path = path / part
            if path.is_symlink():
                raise InputError(f"{path} is a symbolic link: a run reads only its own files, not where a link points")
        return path

    def _owned(self, name: str) -> bool:
        """Whether `name` is a regular file in the run directory itself: neither it nor a folder on its way a
        link."""
        try:
            return self.own(name).is_file()
        except (InputError, OSError):  # OSError: a name no file can have (too long)
            return False

    def inputs(self, trial: Trial) -> dict[str, bytes]:
        """The files `trial` reads that exist, by their name in the run directory: a trial's output its own (no
        link followed), a checkpoint the user named (a path) as given."""
        found = {}
        for name in trial.reads:
            own = _trial_output(name)
            if self._owned(name) if own else (self.root / name).is_file():
                found[name] = read_bytes(self.root / name, MAX_INPUT_BYTES, follow=not own)
        return found

    def record(self, trial: Trial, outcome: Outcome) -> None:
        """Save a finished trial: its files first, then its rows, whose file marks the trial done."""
        for name, content in outcome.files.items():
            write_bytes(self.root / name, content)
        envelope = {
            "format": TRIAL_FORMAT,
            "kind": trial.kind,
            "key": trial.key,
            "fingerprint": trial.fingerprint,
            "error": outcome.error,
            "rows": outcome.rows,
            "files": {name: _digest(content) for name, content in outcome.files.items()},
        }
        write_text(self.trial_path(trial.kind, trial.key), json.dumps(envelope, default=_plain))

    def rows(self, trials: list[Trial]) -> pd.DataFrame:
        """The rows of those of `trials` that are done or failed, in their order."""
        import pandas as pd

        rows = []
        for trial in trials:
            if self.status(trial) in (DONE, FAILED):
                rows += self._envelope(trial)["rows"]
        return pd.DataFrame(rows)

    def failures(self, trials: list[Trial]) -> list[tuple[Trial, str]]:
        """Those of `trials` that failed, with their errors."""
        return [(trial, self._envelope(trial)["error"]) for trial in trials if self.status(trial) == FAILED]

    @contextlib.contextmanager
    def hold(self, report: Callable[[str], None]) -> Iterator[None]:
        """Hold the folder's lock while a run works in it; a second run is refused, naming the holder. A lock
        whose holder is no longer running on this host is stale: it is reported and taken over. A folder a run
        may not write in (`check_runnable`) is refused before anything is written in it."""
        self.check_runnable()
        self.root.mkdir(parents=True, exist_ok=True)
        path, mine = self.root / LOCK, _holder()
        while True:
            try:
                with open(path, "x", encoding="utf-8") as stream:
                    stream.write(json.dumps(mine))
                break
            except FileExistsError:
                found = file_type(path)
                if found not in (None, FILE):  # not a lock vggbench wrote: not removed
                    raise InputError(
                        f"{path} is {found}, not a lock file: remove it if no run uses {self.root}"
                    ) from None
                holder = _read_lock(path)
                if not _stale(holder):
                    raise InputError(
                        f"{self.root} is in use by {_who(holder)} ({path}): wait for that run, or remove the lock "
                        "if it is gone"
                    ) from None
                report(f"{path}: removed the stale lock of pid {shown(holder.get('pid'))}, which is no longer running")
                path.unlink(missing_ok=True)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def check_runnable(self) -> None:
        """Refuse, as a run's folder, a published folder, a folder inside one, or a results folder (one holding the
        index): what a run checks before it writes there, and its dry run before it reads there."""
        root = self.root.resolve()
        for folder in (root, *root.parents):
            published = RunDir(folder).published_as()
            if published:
                inside = "" if folder == root else f" lies inside {folder}, which"
                raise InputError(f"{self.root}{inside} is a published folder ({published}): run into another folder")
        if any(line.rstrip() == INDEX_HEADING for line in _small_text(root / "README.md").splitlines()):
            raise InputError(f"{self.root} holds a results index (README.md): publish runs there; run elsewhere")

    def in_use(self) -> str | None:
        """Who holds the folder's lock, in words, where a running process does; None where none does (no lock,
        a stale one, or one vggbench did not write)."""
        path = self.root / LOCK
        holder = _read_lock(path) if file_type(path) == FILE else {}
        return _who(holder) if holder and not _stale(holder) else None

    def adopt(self, config: dict, force: bool) -> None:
        """Make the folder the run of `config` (its plain values), or refuse one made with another. Seeds added
        to the folder's are no other configuration: each seed's trials are its own, so the new ones run."""
        if not force:
            self.check_same_config(config)
        self.root.mkdir(parents=True, exist_ok=True)
        write_text(self.root / CONFIG, json.dumps(config, indent=2))

    def check_same_config(self, config: dict) -> None:
        """Refuse a folder holding a run made with another configuration than `config` (its plain values); one
        without config.json, or with fewer seeds, is no other."""
        if (self.root / CONFIG).is_file():
            existing = self.stored_config()
            changed = sorted(key for key in config.keys() | existing.keys() if existing.get(key) != config.get(key))
            if changed and not (changed == ["seeds"] and _grown(existing.get("seeds"), config.get("seeds"))):
                raise InputError(
                    f"{self.root} holds a run with another configuration (differs in "
                    f"{', '.join(changed)}): use another RUN_DIR, or --force to reuse it"
                )

    def stored_config(self, missing_ok: bool = False) -> dict:
        """The run's configuration as config.json holds it: keys and values, not yet checked against the kinds
        (vggbench.engine.config.run_config, which every reader of a run calls, checks it). Where there is none: {} if
        `missing_ok`, else an InputError."""
        path = self.root / CONFIG
        if not path.exists():  # anything else by its name is read, or refused by read_json (a fifo, a folder)
            if missing_ok:
                return {}
            raise InputError(f"{path} is missing: is {self.root} a `vggbench run` directory?")
        config = read_json(self.own(CONFIG), MAX_CONFIG_BYTES, follow=False)
        if not isinstance(config, dict):
            raise InputError(f"{path} is not a configuration: it holds {type(config).__name__}, not keys and values")
        if "epochs" in config:  # a run that trained: written before a key of ADDED_TRAINING_KEYS, it ran without it
            config = {**ADDED_TRAINING_KEYS, **config}
        return {**ADDED_MODEL_KEYS, **config}  # every run has models: one written before the head keys had VGG's

    def metadata(self) -> dict:
        path = self.root / METADATA
        if not path.is_file():
            return {}
        metadata = read_json(self.own(METADATA), follow=False)
        if not isinstance(metadata, dict):
            raise InputError(f"{path} is not run metadata: it holds {type(metadata).__name__}, not keys and values")
        return metadata

    def write_metadata(self, metadata: dict) -> None:
        write_text(self.root / METADATA, json.dumps(metadata, indent=2))

    def record_writer(self, name: str) -> None:
        """Record in REPORTS which vggbench (version, commit, '+changes' where its files differ from it) wrote the
        report `name` (CLAIM_MD, REPORT) and when: a report made again later is made by code newer than the
        sittings' commits. An unreadable record is started afresh: it only says who wrote what is there now."""
        try:
            record = read_json(self.own(REPORTS), follow=False) if self.has(REPORTS) else {}
        except InputError:
            record = {}
        record = record if isinstance(record, dict) else {}
        record[name] = {"version": package_version(), "git_commit": git_commit(), "written": now()}
        write_text(self.root / REPORTS, json.dumps(record, indent=2))

    def decisions(self) -> object | None:
        """What decisions.json holds (vggbench.verdicts.decisions.decisions_record, not checked here); None where the
        run stored no look."""
        path = self.root / DECISIONS
        if not path.exists() and not path.is_symlink():
            return None
        return read_json(self.own(DECISIONS), follow=False)

    def write_decisions(self, record: dict) -> None:
        write_text(self.root / DECISIONS, json.dumps(record, indent=1))

    def has(self, name: str) -> bool:
        return (self.root / name).is_file()

    def table(self, name: str, checked: bool = True) -> pd.DataFrame:
        """Table `name` (NAME.csv); empty where it is missing or has no columns. A kind's table must have the
        columns it is read for, with values of their types (Table.reads): an InputError names the file and
        the column (not `checked`: the table as the file has it, for a reader that judges nothing)."""
        if checked and self._remembered is not None and name in self._remembered:
            return self._remembered[name].copy()  # a copy: a reader may change what it was given
        path = self.own(f"{name}.csv")
        table = read_csv(path, follow=False)
        if not checked:
            return table
        if self.kinds is None:
            raise TypeError("RunDir(root, kinds) checks tables against their kinds: give it the kinds' registry")
        read_for = {table.name: table for kind in self.kinds.values() for table in kind.tables if table.reads}
        table = read_for[name].checked(table, path) if name in read_for else table
        if self._remembered is not None:
            self._remembered[name] = table.copy()
        return table

    def write_table(self, name: str, table: pd.DataFrame) -> None:
        write_csv(table, self.root / f"{name}.csv")
        if self._remembered is not None:
            self._remembered.pop(name, None)  # read again as the file now has it

    def write_text(self, name: str, text: str) -> None:
        write_text(self.root / name, text)

    def path(self, name: str) -> Path:
        return self.root / name

    def published_as(self) -> str | None:
        """How the folder is known to be a copy `vggbench publish` made, not a run's, in words; None where it is
        not. Publish marks its copies' metadata.json (PUBLISHED); a folder published before it did is found
        by the results index beside it (README.md), which lists it."""
        try:
            marked = PUBLISHED in self.metadata()
        except (InputError, OSError):
            marked = False  # unreadable: no mark (the run's history is lost, not its trials)
        if marked:
            return f"{METADATA} says so"
        root = self.root.resolve()
        index = root.parent / "README.md"
        listed = any(line.startswith(index_row(root.name)) for line in _small_text(index).splitlines())
        return f"the results index {index} lists it" if listed else None

    def published(self) -> list[str]:
        """What `vggbench publish` copies: every table, the reports and their writers' record, metadata, config,
        figures and ERF maps."""
        names = [path.name for path in sorted(self.root.glob("*.csv"))]
        names += [name for name in PUBLISHED_FILES if self.has(name)]
        for folder in PUBLISHED_FOLDERS:
            names += [path.relative_to(self.root).as_posix() for path in sorted((self.root / folder).glob("*"))]
        return names


def _small_text(path: Path) -> str:
    """The text of `path` where it is a regular file of at most MAX_INDEX_BYTES; else, or unreadable, "" (a link
    is not followed, a fifo or a device not read)."""
    try:
        return read_bytes(path, MAX_INDEX_BYTES, follow=False).decode("utf-8", errors="replace")
    except (InputError, OSError):
        return ""


def _trial_output(name) -> bool:
    """Whether `name` is where a trial writes a file: directly in CHECKPOINTS or ERF_MAPS."""
    parts = name.split("/") if isinstance(name, str) else []
    return len(parts) == 2 and parts[0] in (CHECKPOINTS, ERF_MAPS) and parts[1] not in ("", ".", "..")


def _grown(before, after) -> bool:
    """Whether the seeds `after` keep every seed of `before` (a list, as config.json has it)."""
    return isinstance(before, list) and isinstance(after, list) and all(seed in after for seed in before)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _plain(value):
    """JSON for the numbers numpy and pandas put in rows."""
    return value.item() if hasattr(value, "item") else str(value)


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": datetime.now(timezone.utc).isoformat()}


def _who(holder: dict) -> str:
    """A lock's holder, in words fit for the terminal."""
    return printable(f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}")


MAX_LOCK_BYTES = 4096  # a lock holds a pid, a host name and a time


def _read_lock(path: Path) -> dict:
    try:
        holder = read_json(path, MAX_LOCK_BYTES, follow=False)
    except (OSError, ValueError):  # InputError too: a lock too large to be ours
        return {}  # cut or unreadable: a holder that cannot say who it is
    return holder if isinstance(holder, dict) else {}


MAX_PID = 2**22  # Linux's largest pid (pid_max's ceiling): above it, or below 1, no process holds the lock


def _stale(holder: dict) -> bool:
    """A lock is stale when its holder is unknown, or was a process of this host that is no longer running (or
    never could run: a pid that is not a whole number from 1 to MAX_PID, which os.kill would take for a process
    group, or all processes, or refuse)."""
    if not holder or holder.get("host") != socket.gethostname():
        return not holder
    pid = holder.get("pid")
    if isinstance(pid, bool) or not isinstance(pid, int) or not 1 <= pid <= MAX_PID:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # a process of another user: running
        return False
    return False

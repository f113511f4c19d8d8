"""A run directory, and every file name in it.

    RUN_DIR/config.json               the configuration (refuses a run with another one)
    RUN_DIR/metadata.json             versions, device, threads, commit, configuration, start and end
    RUN_DIR/trials/KIND/KEY.csv       one file per finished trial, written atomically, last
    RUN_DIR/checkpoints/KEY.pt        trained models
    RUN_DIR/erf_maps/MODEL-STATE.npy  effective-receptive-field maps
    RUN_DIR/NAME.csv                  the tables made from the trials (static, speed, train, summary, claim, ...)
    RUN_DIR/claim.md, figures/, report.html

A trial's file marks it done, so rerunning a study skips it: SIGINT or SIGKILL loses at
most the trials in flight.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from vggbench.arch import ModelSpec
from vggbench.csvio import read_csv, write_bytes, write_csv, write_text
from vggbench.kind import Outcome, Trial

CONFIG, METADATA = "config.json", "metadata.json"
TRIALS, CHECKPOINTS, ERF_MAPS, FIGURES = "trials", "checkpoints", "erf_maps", "figures"
CLAIM_MD, REPORT = "claim.md", "report.html"
PUBLISHED_FOLDERS = (FIGURES, ERF_MAPS)  # not the checkpoints, nor the per-trial files
PUBLISHED_FILES = (CLAIM_MD, REPORT, METADATA, CONFIG)  # and every table


def model_key(arch: str, variant: str, ratio: int, resolution: int, batch_norm: bool = False) -> str:
    """How file names call a model: vgg11-stack-r8-px32 (-bn with batch norm)."""
    return f"{arch}-{variant}-r{ratio}-px{resolution}" + ("-bn" if batch_norm else "")


def spec_key(spec: ModelSpec, variant: str | None = None) -> str:
    return model_key(spec.arch.name, variant or spec.variant, spec.ratio, spec.resolution, spec.batch_norm)


def checkpoint_file(trial_key: str) -> str:
    """Where a training trial's model goes, relative to the run directory."""
    return f"{CHECKPOINTS}/{trial_key}.pt"


def erf_map_name(arch: str, variant: str, ratio: int, resolution: int, state: str, batch_norm: bool = False) -> str:
    """The file of a model's ERF map, `state` untrained or trained."""
    return f"{model_key(arch, variant, ratio, resolution, batch_norm)}-{state}.npy"


def erf_map_file(spec: ModelSpec, state: str) -> str:
    return f"{ERF_MAPS}/{spec_key(spec)}-{state}.npy"


class RunDir:
    """The files of one run."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def trial_path(self, kind: str, key: str) -> Path:
        return self.root / TRIALS / kind / f"{key}.csv"

    def done(self, kind: str, key: str) -> bool:
        return self.trial_path(kind, key).is_file()

    def inputs(self, trial: Trial) -> dict[str, bytes]:
        """The files `trial` reads that exist, by their name in the run directory."""
        return {name: (self.root / name).read_bytes() for name in trial.reads if (self.root / name).is_file()}

    def record(self, trial: Trial, outcome: Outcome) -> None:
        """Save a finished trial: its files first, then its rows, whose file marks the trial done."""
        for name, content in outcome.files.items():
            write_bytes(self.root / name, content)
        write_csv(pd.DataFrame(outcome.rows), self.trial_path(trial.kind, trial.key))

    def rows(self, kind: str) -> pd.DataFrame:
        """Every finished trial's rows of `kind`."""
        files = sorted((self.root / TRIALS / kind).glob("*.csv"))
        frames = [frame for frame in map(read_csv, files) if not frame.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def adopt(self, config: dict, force: bool) -> None:
        """Make the folder the run of `config` (its plain values), or refuse one made with another."""
        path = self.root / CONFIG
        if path.is_file() and not force:
            existing = json.loads(path.read_text())
            if existing != config:
                changed = sorted(key for key in config.keys() | existing.keys() if existing.get(key) != config.get(key))
                raise ValueError(
                    f"{self.root} holds a run with another configuration (differs in "
                    f"{', '.join(changed)}): use another RUN_DIR, or --force to reuse it"
                )
        self.root.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(config, indent=2))

    def config(self) -> dict:
        path = self.root / CONFIG
        if not path.is_file():
            raise ValueError(f"{path} is missing: is {self.root} a `vggbench run` directory?")
        return json.loads(path.read_text())

    def metadata(self) -> dict:
        path = self.root / METADATA
        return json.loads(path.read_text()) if path.is_file() else {}

    def write_metadata(self, metadata: dict) -> None:
        write_text(self.root / METADATA, json.dumps(metadata, indent=2))

    def has(self, name: str) -> bool:
        return (self.root / name).is_file()

    def table(self, name: str) -> pd.DataFrame:
        """Table `name` (NAME.csv); empty where it is missing or has no columns."""
        return read_csv(self.root / f"{name}.csv")

    def write_table(self, name: str, table: pd.DataFrame) -> None:
        write_csv(table, self.root / f"{name}.csv")

    def write_text(self, name: str, text: str) -> None:
        write_text(self.root / name, text)

    def path(self, name: str) -> Path:
        return self.root / name

    def published(self) -> list[str]:
        """What `vggbench publish` copies: every table, the reports, metadata, config, figures and ERF maps."""
        names = [path.name for path in sorted(self.root.glob("*.csv"))]
        names += [name for name in PUBLISHED_FILES if self.has(name)]
        for folder in PUBLISHED_FOLDERS:
            names += [path.relative_to(self.root).as_posix() for path in sorted((self.root / folder).glob("*"))]
        return names

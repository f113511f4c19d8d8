"""The study: a grid of trials over architectures, variants, ratios, resolutions and seeds.

A run directory holds the resolved configuration (`config.json`), one file per
finished trial (`trials/<kind>/<id>.csv`, written atomically), and the tables made
from them. Rerunning with the same directory skips finished trials, so SIGINT or
SIGKILL loses at most the trial in progress; a directory made with another
configuration is refused unless forced.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from vggbench import validate
from vggbench.arch import PRESET_CONVS, VARIANTS, ModelSpec, grid
from vggbench.csvio import read_csv, write_bytes, write_csv, write_text
from vggbench.validate import one_of, positive_int

KINDS = ("static", "speed", "pairs", "train", "erf")
ERF_STATES = ("untrained", "trained")


@dataclass(frozen=True)
class StudyConfig:
    """Everything a run does; the same keys as a TOML config file."""

    archs: tuple[str, ...] = ("vgg11",)
    variants: tuple[str, ...] = tuple(VARIANTS)
    ratios: tuple[int, ...] = (8,)
    resolutions: tuple[int, ...] = (224,)
    seeds: tuple[int, ...] = (0,)
    epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    optimizer: str = "adam"
    train_limit: int | None = None
    speed_modes: tuple[str, ...] = ("infer", "train")
    speed_batch_size: int = 64
    speed_min_time_s: float = 1.0
    pairs: int = 64
    rebuilds: int = 16
    erf_images: int = 64
    device: str | None = None  # None: cuda when present
    threads: int | None = None  # None: torch's default

    def __post_init__(self) -> None:
        for name in ("archs", "variants", "ratios", "resolutions", "seeds", "speed_modes"):
            value = getattr(self, name)
            if isinstance(value, (str, int)) or not value:
                raise ValueError(f"{name}={value!r} is not allowed: give a non-empty list")
            object.__setattr__(self, name, tuple(value))
        for arch in self.archs:
            one_of("archs entry", arch, PRESET_CONVS)
        for variant in self.variants:
            one_of("variants entry", variant, VARIANTS)
        for mode in self.speed_modes:
            one_of("speed_modes entry", mode, ("infer", "train"))
        for seed in self.seeds:
            if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
                raise ValueError(f"seeds entry={seed!r} is not allowed: it must be an integer >= 0")
        for name in ("epochs", "batch_size", "speed_batch_size", "pairs", "rebuilds", "erf_images"):
            positive_int(name, getattr(self, name))
        if self.device is not None:
            validate.device(self.device)
        self.models()  # every arch x ratio x resolution must make a valid model
        self.train_config(self.seeds[0])
        self.speed_setup(self.speed_modes[0])

    @property
    def resolved_device(self) -> str:
        return self.device or validate.default_device()

    def models(self) -> list[ModelSpec]:
        return grid(self.archs, self.variants, self.ratios, self.resolutions)

    def train_config(self, seed: int):
        from vggbench.measure.train import TrainConfig

        options = {"threads": self.threads} if self.threads else {}
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            optimizer=self.optimizer,
            train_limit=self.train_limit,
            seed=seed,
            device=self.resolved_device,
            **options,
        )

    def speed_setup(self, mode: str):
        from vggbench.measure.speed import SpeedSetup

        options = {"threads": self.threads} if self.threads else {}
        return SpeedSetup(
            mode=mode,
            device=self.resolved_device,
            batch_size=self.speed_batch_size,
            min_time_s=self.speed_min_time_s,
            **options,
        )

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


PRESETS = {
    # vgg11 and vgg13 (a 5x5 against two 3x3) and vgg16 (a 7x7 against three 3x3), all
    # three variants, at 32 px, two seeds, two short epochs on a third of the data:
    # about 10 minutes on two CPU cores.
    "quick": {
        "archs": ["vgg11", "vgg13", "vgg16"],
        "ratios": [8],
        "resolutions": [32],
        "seeds": [0, 1],
        "epochs": 2,
        "train_limit": 20_000,
        "pairs": 32,
        "rebuilds": 8,
    },
    # Three width ratios, three seeds, the whole training set: hours on a CPU, minutes on a GPU.
    "claim": {
        "archs": ["vgg11", "vgg13", "vgg16"],
        "ratios": [4, 8, 16],
        "resolutions": [64],
        "seeds": [0, 1, 2],
        "epochs": 5,
    },
    # The seed's recipe, stack against single: for a GPU.
    "paper": {
        "archs": ["vgg11"],
        "variants": ["stack", "single"],
        "ratios": [8],
        "resolutions": [224],
        "seeds": [0, 1, 2],
        "epochs": 5,
    },
}


def load_config(preset: str | None = None, toml_path: str | Path | None = None, **overrides) -> StudyConfig:
    """A preset, then the TOML file's keys, then explicit overrides; unknown keys are errors."""
    values: dict = {}
    if preset is not None:
        one_of("preset", preset, PRESETS)
        values.update(PRESETS[preset])
    if toml_path is not None:
        values.update(_read_toml(Path(toml_path)))
    values.update({key: value for key, value in overrides.items() if value is not None})
    known = {field.name for field in dataclasses.fields(StudyConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown config key(s) {', '.join(unknown)}: allowed are {', '.join(sorted(known))}")
    try:
        return StudyConfig(**values)
    except TypeError as error:
        raise ValueError(f"bad config value: {error}") from None


def _read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except OSError as error:
        raise ValueError(f"config file {path} cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {path} is not valid TOML: {error}") from None


def model_key(arch: str, variant: str, ratio: int, resolution: int) -> str:
    """How file names call a model: vgg11-stack-r8-px32."""
    return f"{arch}-{variant}-r{ratio}-px{resolution}"


def erf_map_name(arch: str, variant: str, ratio: int, resolution: int, state: str) -> str:
    """The file of a model's ERF map, `state` untrained or trained."""
    return f"{model_key(arch, variant, ratio, resolution)}-{state}.npy"


@dataclass(frozen=True)
class Trial:
    """One unit of work; `key` names its result file, so a finished trial is never redone."""

    kind: str
    spec: ModelSpec
    mode: str | None = None
    seed: int | None = None

    @property
    def key(self) -> str:
        spec = self.spec
        variant = spec.variant if self.kind != "pairs" else "paired"
        parts = [model_key(spec.arch.name, variant, spec.ratio, spec.resolution)]
        if self.mode is not None:
            parts.append(self.mode)
        if self.seed is not None:
            parts.append(f"seed{self.seed}")
        return "-".join(parts)

    def needs(self, config: StudyConfig) -> list[Trial]:
        """The trials whose files this one reads: a trained ERF reads every seed's checkpoint."""
        if self.kind == "erf" and self.mode == "trained":
            return [Trial("train", self.spec, seed=seed) for seed in config.seeds]
        return []


def checkpoint_file(spec: ModelSpec, seed: int) -> str:
    """Where a training trial's model goes, relative to the run directory."""
    return f"checkpoints/{Trial('train', spec, seed=seed).key}.pt"


def erf_map_file(trial: Trial) -> str:
    spec = trial.spec
    return f"erf_maps/{erf_map_name(spec.arch.name, spec.variant, spec.ratio, spec.resolution, trial.mode)}"


@dataclass(frozen=True)
class Outcome:
    """What a trial gives back: its rows, and files for the run directory (relative path -> bytes).

    Trials return their files instead of writing them, so that a trial can run on another machine.
    """

    rows: list[dict]
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)


def trials(config: StudyConfig) -> list[Trial]:
    """Static cost and speed per model, paired speed per model group, training per seed, and the
    effective receptive field per model, untrained and trained (averaged over seeds)."""
    models = config.models()
    bases = dict.fromkeys(dataclasses.replace(spec, variant=config.variants[0]) for spec in models)
    plan = [Trial("static", spec) for spec in models]
    plan += [Trial("speed", spec, mode=mode) for spec in models for mode in config.speed_modes]
    if len(config.variants) > 1:
        plan += [Trial("pairs", base, mode=mode) for base in bases for mode in config.speed_modes]
    plan += [Trial("erf", spec, mode="untrained") for spec in models]
    plan += [Trial("train", spec, seed=seed) for seed in config.seeds for spec in models]
    plan += [Trial("erf", spec, mode="trained") for spec in models]  # after training: reads its checkpoints
    return plan


class RunDir:
    """The files of one run."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def trial_path(self, trial: Trial) -> Path:
        return self.root / "trials" / trial.kind / f"{trial.key}.csv"

    def done(self, trial: Trial) -> bool:
        return self.trial_path(trial).is_file()

    def inputs(self, trial: Trial, config: StudyConfig) -> dict[str, bytes]:
        """The files `trial` reads (see Trial.needs) that exist, by their name in the run directory."""
        names = [checkpoint_file(need.spec, need.seed) for need in trial.needs(config)]
        return {name: (self.root / name).read_bytes() for name in names if (self.root / name).is_file()}

    def record(self, trial: Trial, outcome: Outcome) -> None:
        """Save a finished trial: its files first, then its rows, whose file marks the trial done."""
        for name, content in outcome.files.items():
            write_bytes(self.root / name, content)
        write_csv(pd.DataFrame(outcome.rows), self.trial_path(trial))

    def claim(self, config: StudyConfig, force: bool) -> None:
        """Make the folder this configuration's, or refuse one made with another."""
        path = self.root / "config.json"
        wanted = config.to_dict()
        if path.is_file() and not force:
            existing = json.loads(path.read_text())
            if existing != wanted:
                changed = sorted(key for key in wanted.keys() | existing.keys() if existing.get(key) != wanted.get(key))
                raise ValueError(
                    f"{self.root} holds a run with another configuration (differs in "
                    f"{', '.join(changed)}): use another RUN_DIR, or --force to reuse it"
                )
        self.root.mkdir(parents=True, exist_ok=True)
        write_text(path, json.dumps(wanted, indent=2))

    def rows(self, kind: str) -> pd.DataFrame:
        files = sorted((self.root / "trials" / kind).glob("*.csv"))
        frames = [frame for frame in map(read_csv, files) if not frame.empty]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def metadata(config: StudyConfig, started: str, ended: str | None, executor: dict | None = None) -> dict:
    import fvcore
    import torch
    import torchvision

    from vggbench.hardware import cpu_model, device_name

    device = config.resolved_device
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "fvcore": getattr(fvcore, "__version__", "unknown"),
        "pandas": pd.__version__,
        "device": device,
        "device_name": device_name(device),
        "cpu_model": cpu_model(),
        "threads": config.threads or torch.get_num_threads(),
        "git_commit": _git_commit(),
        "config": config.to_dict(),
        "executor": executor or {"name": "local"},
        "started": started,
        "ended": ended,
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _erf_trial(trial: Trial, config: StudyConfig, inputs: dict[str, bytes], dataset_loader: Callable) -> Outcome:
    import io

    import numpy as np

    from vggbench.data import prepare
    from vggbench.measure import erf, train

    images = prepare(dataset_loader().test_images[: config.erf_images], trial.spec.resolution)
    if trial.mode == "untrained":
        row, contribution = erf.measure_untrained(trial.spec, images, config.seeds)
    else:
        names = [checkpoint_file(trial.spec, seed) for seed in config.seeds]
        missing = [name for name in names if name not in inputs]
        if missing:
            raise ValueError(f"no trained model for {', '.join(missing)}: its training trial failed")
        models = [train.load_checkpoint(inputs[name], trial.spec)[0] for name in names]
        row, contribution = erf.measure_models(trial.spec, models, images, trained=True)
    buffer = io.BytesIO()
    np.save(buffer, contribution)
    return Outcome([row], {erf_map_file(trial): buffer.getvalue()})


def failure(trial: Trial, message: str) -> Outcome:
    """The row of a trial that failed: its model, and the error instead of numbers."""
    from vggbench.measure import static

    return Outcome([{**static.spec_columns(trial.spec), "mode": trial.mode, "seed": trial.seed, "error": message}])


def run_trial(trial: Trial, config: StudyConfig, inputs: dict[str, bytes], dataset_loader: Callable) -> Outcome:
    """Run one trial, anywhere: it reads only `inputs` (RunDir.inputs) and the data set, and writes nothing.
    A trial that fails records its error instead of numbers."""
    from vggbench.measure import speed, static, train

    try:
        if trial.kind == "static":
            return Outcome([static.model_row(trial.spec)])
        if trial.kind == "speed":
            return Outcome([speed.measure(trial.spec, config.speed_setup(trial.mode))])
        if trial.kind == "pairs":
            group = [dataclasses.replace(trial.spec, variant=variant) for variant in config.variants]
            return Outcome(speed.paired(group, config.speed_setup(trial.mode), config.pairs, config.rebuilds))
        if trial.kind == "erf":
            return _erf_trial(trial, config, inputs, dataset_loader)
        rows, model = train.train(trial.spec, config.train_config(trial.seed), dataset_loader())
        return Outcome(rows, {checkpoint_file(trial.spec, trial.seed): train.checkpoint_bytes(model, trial.spec)})
    except (ValueError, RuntimeError) as error:
        return failure(trial, f"{type(error).__name__}: {error}")


def run(
    config: StudyConfig,
    run_dir: str | Path,
    force: bool = False,
    data_root: str | None = None,
    report: Callable[[str], None] = print,
    executor=None,
) -> RunDir:
    """Run every trial not yet finished in `run_dir` on `executor` (default: this process), then write the
    tables. An executor has start() -> a description for metadata.json, run(todo, config, directory,
    data_root, record) and stop(); see vggbench.executors."""
    from vggbench.executors import LocalExecutor

    executor = executor or LocalExecutor()
    directory = RunDir(run_dir)
    directory.claim(config, force)
    started = _now()
    plan = trials(config)
    todo = [trial for trial in plan if not directory.done(trial)]
    report(f"{len(plan)} trials, {len(plan) - len(todo)} already done, {len(todo)} to run")
    description = executor.start()
    try:
        write_text(directory.root / "metadata.json", json.dumps(metadata(config, started, None, description), indent=2))
        # Estimated costs weight the trials: the time left is the elapsed time scaled by them.
        rate = sustained_gflops(config)
        costs = {trial: estimate_s(trial, config, rate) for trial in todo}
        finished: list[Trial] = []
        clock = time.perf_counter()

        def record(trial: Trial, outcome: Outcome) -> None:
            directory.record(trial, outcome)
            finished.append(trial)
            elapsed = time.perf_counter() - clock
            spent = sum(costs[done] for done in finished)
            left = elapsed * (sum(costs.values()) - spent) / spent
            report(
                f"[{len(finished)}/{len(todo)}] {trial.kind} {trial.key}: {elapsed:.0f} s elapsed, "
                f"about {left:.0f} s left"
            )

        executor.run(todo, config, directory, data_root, record)
    finally:
        executor.stop()
    write_tables(directory, config)
    write_text(directory.root / "metadata.json", json.dumps(metadata(config, started, _now(), description), indent=2))
    return directory


def write_tables(directory: RunDir, config: StudyConfig) -> dict[str, pd.DataFrame]:
    """static, blocks, speed, pairs, train and summary tables from the finished trials."""
    from vggbench.measure import static

    tables = {kind: directory.rows(kind) for kind in KINDS}
    tables["blocks"] = static.block_table(config.models())
    tables["summary"] = summary(tables["static"], tables["speed"], tables["train"])
    for name, table in tables.items():
        write_csv(table, directory.root / f"{name}.csv")
    return tables


MODEL_KEYS = ["arch", "variant", "ratio", "resolution"]


def summary(static_rows: pd.DataFrame, speed_rows: pd.DataFrame, train_rows: pd.DataFrame) -> pd.DataFrame:
    """One row per model: params, MACs, receptive field, throughput, final test accuracy over seeds."""
    table = static_rows[[*MODEL_KEYS, "batch_norm", "params", "macs", "rf_px"]].copy()
    if not speed_rows.empty and "img_per_s" in speed_rows:
        throughput = speed_rows.pivot_table(index=MODEL_KEYS, columns="mode", values="img_per_s", aggfunc="median")
        throughput.columns = [f"{mode}_img_per_s" for mode in throughput.columns]
        table = table.merge(throughput.reset_index(), on=MODEL_KEYS, how="left")
    if not train_rows.empty and "test_acc" in train_rows:
        from vggbench.measure.train import MODEL_KEYS as TRAIN_KEYS
        from vggbench.measure.train import summarize

        accuracy = summarize(train_rows.dropna(subset=["test_acc"]))
        table = table.merge(
            accuracy[[*TRAIN_KEYS, "epochs", "seeds", "test_acc_mean", "test_acc_std"]], on=TRAIN_KEYS, how="left"
        )
    return table


# Share of the measured matmul peak that a small VGG reaches; only for --dry-run's estimate
# (measured here: 0.17-0.2 on two CPU cores at 224 px, 0.03-0.44 on an H100).
ESTIMATE_EFFICIENCY = 0.15


def estimate_s(trial: Trial, config: StudyConfig, gflops: float) -> float:
    """A rough duration of `trial` in seconds, from its MACs and a sustained GFLOP/s rate."""
    from vggbench.measure.static import analyze

    if trial.kind == "static":
        return 0.2
    flops = 2 * analyze(trial.spec).macs[""]
    step_s = 3 * flops * config.speed_batch_size / (gflops * 1e9)
    if trial.kind == "speed":
        return max(config.speed_min_time_s, 10 * step_s) * 1.5 + 3 * step_s
    if trial.kind == "erf":
        return 2 * flops * config.erf_images * len(config.seeds) / (gflops * 1e9)
    if trial.kind == "pairs":
        models = len(config.variants)
        block_s = max(step_s, 0.05)
        return models * (config.pairs * block_s + config.rebuilds * 3 * step_s)
    images = min(config.train_limit or 60_000, 60_000)
    return config.epochs * (3 * flops * images + flops * 10_000) / (gflops * 1e9)


def sustained_gflops(config: StudyConfig) -> float:
    """A guess at the rate a small VGG sustains: the measured matmul peak times ESTIMATE_EFFICIENCY."""
    from vggbench.measure.speed import peak_gflops

    setup = config.speed_setup("train")
    return peak_gflops(setup.device, "fp32", setup.threads, setup.tf32) * ESTIMATE_EFFICIENCY


def dry_run(config: StudyConfig) -> pd.DataFrame:
    """The trials with an estimate of each one's time."""
    rate = sustained_gflops(config)
    rows = [
        {"kind": trial.kind, "trial": trial.key, "estimate_s": estimate_s(trial, config, rate)}
        for trial in trials(config)
    ]
    return pd.DataFrame(rows)


INDEX_HEADING = "## Published runs"
PUBLISHED_FILES = [*KINDS, "blocks", "summary", "claim"]
PUBLISHED_EXTRAS = ["claim.md", "report.html", "metadata.json", "config.json"]
PUBLISHED_FOLDERS = ["figures", "erf_maps"]  # the maps are small (resolution² doubles each) and redraw the figure


def publish(run_dir: str | Path, results: str | Path = "results") -> Path:
    """Copy a finished run's tables, claim and HTML reports, figures and ERF maps to
    results/<name>-<device>-<date>/ and index it."""
    import shutil

    source = Path(run_dir)
    try:
        meta = json.loads((source / "metadata.json").read_text())
    except (OSError, ValueError):
        raise ValueError(f"{source} has no readable metadata.json: is it a `vggbench run` directory?") from None
    if not meta.get("ended") or not (source / "claim.md").is_file():
        raise ValueError(f"{source} is not finished: rerun `vggbench run` with it until it writes claim.md")
    if not (source / "report.html").is_file():
        from vggbench import report

        report.write(source)
    target = Path(results) / f"{source.name}-{meta['device']}-{meta['ended'][:10]}"
    target.mkdir(parents=True, exist_ok=True)
    for name in [f"{table}.csv" for table in PUBLISHED_FILES] + PUBLISHED_EXTRAS:
        if (source / name).is_file():
            shutil.copy2(source / name, target / name)
    for folder in PUBLISHED_FOLDERS:
        if (source / folder).is_dir():
            shutil.copytree(source / folder, target / folder, dirs_exist_ok=True)
    index = Path(results) / "README.md"
    text = index.read_text() if index.is_file() else "# Published results\n"
    if INDEX_HEADING not in text:
        header = "| folder | run | device | date | commit |\n| --- | --- | --- | --- | --- |"
        text = text.rstrip() + f"\n\n{INDEX_HEADING}\n\n{header}\n"
    date, commit = meta["ended"][:10], str(meta["git_commit"])[:7]
    row = f"| `{target.name}/` | {source.name} | {meta['device_name']} | {date} | {commit} |"
    # A folder published again (same run, device and day) replaces its earlier row.
    kept = [line for line in text.rstrip().splitlines() if not line.startswith(f"| `{target.name}/` |")]
    text = "\n".join([*kept, row]) + "\n"
    write_text(index, text)
    return target

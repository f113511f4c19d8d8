"""vggbench's Python API beyond building models: read a run's tables, measure any `nn.Module` as the kinds
measure vggbench's models, and train any CNN (a VGG, or a module or function of one's own in a ModelSpec) or measure
its effective receptive field. Every name
here is also `vggbench.NAME`; the documentation's "Python API" page (docs/api.md) shows them at work.

    load_run(path)                          a run directory or published folder: tables, config, metadata
    measure_static(model, input_shape)      parameters and MACs of any module (fvcore, one image)
    measure_speed(model, input_shape, ...)  its speed, timed and summarised as `vggbench speed` does
    train(spec, ...)                        train the model of a ModelSpec on Fashion-MNIST (or given data)
    erf(spec, models=None, ...)             its effective receptive field, trained or untrained
    load_data(...), synthetic_data(...)     Fashion-MNIST, or stand-in images of its shape

Bad values raise `vggbench.util.validate.InputError` (a ValueError) naming the value and what is allowed. Torch is
imported where a function needs it, so that reading a run's tables does not wait for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from vggbench.engine.rundir import CLAIM_MD, REPORT, RunDir
from vggbench.models.arch import FactoryArch, ModelSpec
from vggbench.util import knobs
from vggbench.util.csvio import read_bytes, with_dtypes
from vggbench.util.validate import MAX_SEED, InputError, at_most, did_you_mean, shown

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from torch import nn

    from vggbench.measure.data import FashionMNIST

# The tables a run may hold, as `vggbench run` writes them (NAME.csv).
TABLES = ("static", "blocks", "layers", "speed", "pairs", "train", "summary", "erf", "density", "claim", "failures")


@dataclass(frozen=True, eq=False)
class Run:
    """A run read from its folder: every table as a pandas DataFrame, its configuration and its metadata.

    `tables` holds each name of TABLES, an empty DataFrame where the run has no such table (a kind it did not
    run, or a folder published before the table existed), and any other NAME.csv of the folder under its
    NAME. A table reads as `run["train"]`, `run.train` or `run.tables["train"]`. Each column its table declares a
    type for (Table.schema) reads back as written: booleans as bool, integers as int64, numbers as float64; a
    boolean or integer column that some rows leave empty as pandas' nullable `boolean` or `Int64` (a filter on
    one, as `run.claim[run.claim["batch_norm"]]`, leaves the empty rows out). A folder of older code lacks some
    columns: they are simply not there. `config` is config.json
    (every key of the run, defaults included; {} where the folder has none) and `metadata` is
    metadata.json (versions, device, CPU, threads, git commit, start and end; {} where it has none).
    """

    path: Path
    tables: dict[str, pd.DataFrame] = field(repr=False)
    config: dict = field(repr=False)
    metadata: dict = field(repr=False)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, tables with rows: {', '.join(self.names) or 'none'})"

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self.tables:
            raise KeyError(f"{self.path} has no table {name!r}{did_you_mean(name, self.tables)}: it has {self.names}")
        return self.tables[name]

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def names(self) -> list[str]:
        """The tables that have rows."""
        return [name for name, table in self.tables.items() if not table.empty]

    @property
    def claim_text(self) -> str:
        """claim.md: each part of the claim with its verdict, evidence and notes ('' where there is none)."""
        if not (self.path / CLAIM_MD).is_file():
            return ""
        return read_bytes(RunDir(self.path).own(CLAIM_MD), follow=False).decode("utf-8", errors="replace")

    @property
    def report(self) -> Path | None:
        """report.html, the run's self-contained page of verdicts and figures (None where there is none)."""
        path = self.path / REPORT
        return path if path.is_file() else None


def load_run(path: str | Path) -> Run:
    """Read the run directory (`vggbench run --out`) or published folder (`results/...`) at `path`."""
    from vggbench.engine.config import run_config  # here: it imports every kind, which `import vggbench` need not

    if not isinstance(path, (str, Path)):
        raise InputError(f"path={type(path).__name__} is not allowed: give a folder's path (a str or Path)")
    directory = RunDir(path)
    if not directory.root.is_dir():
        raise InputError(f"{directory.root} is not a folder: give a run directory or a published folder")
    others = sorted(found.stem for found in directory.root.glob("*.csv") if found.stem not in TABLES)
    schemas = _schemas()
    tables = {
        name: with_dtypes(directory.table(name, checked=False), directory.path(f"{name}.csv"), schemas.get(name, {}))
        for name in (*TABLES, *others)
    }
    config = run_config(directory, missing_ok=True)
    if not config and all(table.empty for table in tables.values()):
        raise InputError(f"{directory.root} holds neither config.json nor a table: is it a vggbench run?")
    return Run(directory.root, tables, config, directory.metadata())


def _schemas() -> dict[str, dict[str, str]]:
    """Each table's column types by its name, as the kinds (and the claim) declare them (Table.schema)."""
    from vggbench.engine.registry import KINDS
    from vggbench.reporting.claim import TABLE

    declared = [TABLE, *(table for kind in KINDS.values() for table in (*kind.tables, kind.summary_table) if table)]
    return {table.name: table.schema for table in declared}


def measure_static(model: nn.Module, input_shape: Sequence[int]) -> dict:
    """The static cost of any module for one image of `input_shape` (channels, height, width; no batch
    dimension), counted as the static kind counts vggbench's models: `params` (every parameter),
    `trainable_params` (those that require gradients), `macs` (multiply-adds, counted by fvcore: convolutions,
    linear layers and norms, not activations or pooling) and `flops` (2 x macs). The module is left as it was."""
    from vggbench.measure.any_model import static_cost

    return static_cost(model, input_shape)


def measure_speed(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    mode: str = "infer",
    batch_size: int = 64,
    device: str | None = None,
    threads: int | None = None,
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    min_time_s: float = 2.0,
    target_half_width: float = 0.03,
    max_time_s: float = 10.0,
    cudnn_benchmark: bool = True,
) -> dict:
    """Time any module on random batches of `input_shape` images with the speed kind's timing and statistics
    (warm-up excluded, device synchronized, blocks of steps until the median's 95% interval is within
    ±target_half_width of it or max_time_s has passed): one row as a dict.

    mode: "infer" (eval mode, inference_mode) or "train" (forward, loss, backward, Adam step; the loss is
    cross-entropy against random labels where the output is (batch, classes), else the mean squared output).
    device: "cpu" or "cuda" (default: cuda where there is a GPU); threads: intra-op threads (default: torch's).
    The other settings are `vggbench speed`'s (its --help). A copy of the module is timed: its weights stay.

    The row: `model`, `input_shape`, `params`; the setup (`mode`, `device`, `device_name`, `batch_size`,
    `precision`, `channels_last`, `compiled`, `threads`, ...); `img_per_s`; `step_ms_median`, `step_ms_iqr`,
    `step_ms_ci_low`, `step_ms_ci_high`; `ci_half_width` (share of the median), `stable`, `other_cores`; `runs`
    and `steps_per_run`; `macs` (fvcore, one image), `step_flops_per_image` (torch's count, backward included
    in train mode), `achieved_gflops`, `peak_gflops` (the device's measured matmul rate), `mfu`; `peak_mem_bytes`
    (CUDA) or `rss_peak_increase_bytes` (CPU); `error` ('oom' where it ran out of memory, else None).
    """
    from vggbench.measure.any_model import measure_speed as timed
    from vggbench.measure.setups import SpeedSetup

    machine = {key: value for key, value in (("device", device), ("threads", threads)) if value is not None}
    setup = _setup(
        SpeedSetup,
        mode=mode,
        batch_size=batch_size,
        precision=precision,
        channels_last=channels_last,
        compiled=compile,
        min_time_s=min_time_s,
        target_half_width=target_half_width,
        max_time_s=max_time_s,
        cudnn_benchmark=cudnn_benchmark,
        **machine,
    )
    return timed(model, input_shape, setup)


def load_data(data_root: str | Path | None = None, download: bool = True) -> FashionMNIST:
    """Fashion-MNIST, found as the command line finds it (`data_root`, VGGBENCH_DATA, the user cache, Debian's
    dataset-fashion-mnist, then torchvision's download unless `download` is False) and checked."""
    from vggbench.measure import data

    return data.load(data_root, download)


def synthetic_data(train_images: int = 2000, test_images: int = 500, seed: int = 0) -> FashionMNIST:
    """Stand-in images of Fashion-MNIST's shape (uint8, 28 x 28, labels 0-9) for trying the API without the data
    set: faint noise and a bright 6 x 6 patch whose place is the label's, so that a model learns them within an
    epoch. They say nothing about Fashion-MNIST."""
    import torch

    from vggbench.measure.data import COUNTS, FashionMNIST

    at_most("train_images", train_images, COUNTS["train"], "Fashion-MNIST's training images")
    at_most("test_images", test_images, COUNTS["test"], "Fashion-MNIST's test images")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"seed={shown(seed)} is not allowed: it must be an integer from 0 to {MAX_SEED:,}")
    generator = torch.Generator().manual_seed(seed)

    def split(count: int) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(0, 10, (count,), generator=generator)
        images = torch.randint(0, 40, (count, 28, 28), dtype=torch.uint8, generator=generator)
        rows, columns = (labels // 5) * 14 + 4, (labels % 5) * 5 + 1
        for down in range(6):
            for across in range(4):
                images[torch.arange(count), rows + down, columns + across] = 220
        return images, labels

    return FashionMNIST(*split(train_images), *split(test_images), source=None)


class Training(NamedTuple):
    """What `train` gives back."""

    table: pd.DataFrame  # one row per seed and epoch, as train.csv
    summary: pd.DataFrame  # one row per model over its seeds, as summary.csv's training columns
    models: list[nn.Module]  # the trained models, in the order of the seeds, on the CPU


def train(
    spec: ModelSpec,
    *,
    seeds: Sequence[int] = (0,),
    data: FashionMNIST | None = None,
    data_root: str | Path | None = None,
    report: Callable[[str], None] | None = None,
    **settings,
) -> Training:
    """Train the model `spec` describes once per seed, as `vggbench train` does, on `data` (default:
    Fashion-MNIST, from `data_root` as `load_data` finds it); `report` (e.g. print) gets a line per epoch.

    `settings` are `vggbench train`'s settings by name (default: the book's recipe, from d2l.ai's VGG chapter):
    epochs, batch_size, lr, optimizer, lr_schedule, momentum, weight_decay, init, validation_images, train_limit,
    subset_per_seed, normalize, failure_loss_ratio, plateau_gain, channels_last, precision, compile, seed_batch,
    seed_lanes, device, threads. Seeds train `seed_batch` at a time (a factory's model: one at a time); a seed's
    numbers are the same alone or grouped. `validation_images` (default 10,000) of `data`'s training images are held
    out: fewer than it has.

    Any CNN trains through its ModelSpec: `ModelSpec(module_or_function, variant, resolution=28)`, where a function
    is called as a factory is, once per seed after the seed is set, and a module is copied for each seed with its
    parameters drawn again (reset_parameters). Its variants other than the stack are its torch.fx twins."""
    import pandas as pd

    from vggbench.measure import data as fashion
    from vggbench.measure.setups import TrainConfig
    from vggbench.measure.train import train_seeds
    from vggbench.measure.training_rules import summarize

    _check_spec(spec, "train")
    if report is not None and not callable(report):
        raise InputError(f"report={type(report).__name__} is not allowed: give a function of one line (e.g. print)")
    seeds = _seeds(seeds)
    allowed = [option.name for option in fields(TrainConfig) if option.name not in ("seed", "seeds")]
    for name in settings:
        if name not in allowed:
            raise InputError(f"{name} is not a training setting{did_you_mean(name, allowed)}: use {', '.join(allowed)}")
    config = _setup(TrainConfig, **settings)
    fashion.check_fits(spec.in_channels, spec.num_classes)
    data = _data(data, data_root, "train_images", "test_images")
    rows, models = [], []
    together = config.seeds_together(spec)
    for start in range(0, len(seeds), together):
        found, trained = train_seeds(spec, config, seeds[start : start + together], data, report)
        rows += found
        models += trained
    table = pd.DataFrame(rows).sort_values(["epoch", "seed"], key=_in_order(seeds), kind="stable")
    return Training(table.reset_index(drop=True), summarize(table), models)


def _check_spec(spec, verb: str) -> None:
    if isinstance(spec, ModelSpec):
        return
    hint = " (for a module or function: ModelSpec(it, resolution=28))" if callable(spec) else ""
    raise InputError(f"spec={type(spec).__name__} is not allowed: {verb} needs a vggbench.ModelSpec{hint}")


def _setup(cls, **arguments):
    """`cls(**arguments)`, a setup checked as the command line checks it; an InputError names the argument given
    (its field), not the config key or the option the command line knows it by (erf_images, --images: images)."""
    try:
        return cls(**arguments)
    except InputError as error:
        message = str(error)
        for option in knobs.options(cls):
            if option.key and option.key != option.name and message.startswith(f"{option.key}"):
                message = option.name + message.removeprefix(option.key)
        raise InputError(re.sub(r" \(--[a-z-]+\)(?=:)", "", message, count=1)) from None


def _seeds(seeds) -> tuple[int, ...]:
    """`seeds` as a tuple, checked as a study's seeds are (integers from 0, each once)."""
    from vggbench.engine.config import Scope

    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise InputError(f"seeds={shown(seeds)} is not allowed: give a non-empty list of integers >= 0")
    return Scope(seeds=tuple(seeds)).seeds


def _data(data, data_root, *parts: str) -> FashionMNIST:
    """`data`, a FashionMNIST with images in each of `parts` (default: Fashion-MNIST, as load_data finds it)."""
    from vggbench.measure import data as fashion

    if data is None:
        return fashion.load(data_root)
    if not isinstance(data, fashion.FashionMNIST):
        raise InputError(
            f"data={type(data).__name__} is not allowed: give a vggbench FashionMNIST (load_data or synthetic_data)"
        )
    empty = [part for part in parts if len(getattr(data, part)) == 0]
    if empty:
        raise InputError(f"data is not allowed: it has no {' and no '.join(empty)}")
    return data


def _shapes(model: nn.Module | ModelSpec) -> dict:
    """The shapes of a model's weights by name (of `spec`'s model where given a ModelSpec, built without storage)."""
    import torch

    from vggbench.models.factory import build_model

    if isinstance(model, ModelSpec):
        with torch.device("meta"):
            model = build_model(model)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _in_order(seeds: tuple[int, ...]):
    """A sort key that puts seeds in the order given."""
    rank = {seed: index for index, seed in enumerate(seeds)}
    return lambda column: column.map(rank) if column.name == "seed" else column


def erf(
    spec: ModelSpec,
    models: Sequence[nn.Module] | None = None,
    *,
    images: int = 64,
    resolution: int | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    resamples: int = 200,
    data: FashionMNIST | None = None,
    data_root: str | Path | None = None,
) -> tuple[dict, np.ndarray]:
    """The effective receptive field of the model `spec` describes (a VGG, or any CNN as `train` takes it), as
    `vggbench erf` measures it: of `models` (trained models of that spec, e.g. `train(spec).models`), or, without
    them, of fresh models
    initialised with each of `seeds` (untrained). Over the first `images` test images of `data` (default:
    Fashion-MNIST), resized to `resolution` (default: the smallest side at which the whole theoretical field
    fits), with `resamples` bootstrap draws for the intervals.

    Returns (the erf.csv row as a dict, the mean contribution map as a resolution x resolution array). Models are
    the unit of `erf_share_t50`'s interval: give at least 2 (5 is the study's default)."""
    import dataclasses

    from torch import nn

    from vggbench.engine.kinds.erf import ErfSetup
    from vggbench.measure import data as fashion
    from vggbench.measure import erf as effective
    from vggbench.measure.memory import check_fits, needed_bytes
    from vggbench.models.vgg import VGG

    _check_spec(spec, "erf")
    if models is not None and (not isinstance(models, Sequence) or not models):
        raise InputError("models is not allowed: give a non-empty list of models, or None for fresh ones")
    kind = nn.Module if isinstance(spec.arch, FactoryArch) else VGG
    if models is not None and not all(isinstance(model, kind) for model in models):
        raise InputError(f"models is not allowed: give {spec.arch.name}'s trained models (e.g. train(spec).models)")
    expected = _shapes(spec) if models is not None else None  # the spec's model built once, without storage
    if models is not None and any(_shapes(model) != expected for model in models):
        raise InputError("models is not allowed: its models' weights do not have the shapes of spec's model")
    _setup(ErfSetup, images=images, resolution=resolution, resamples=resamples)
    side = resolution or effective.fitting_resolution(spec)
    dataclasses.replace(spec, resolution=side)  # a side the model can take
    check_fits(needed_bytes(spec, images, True, False, side), "cpu", f"erf of {images} image(s) at resolution={side}")
    fashion.check_fits(spec.in_channels)
    data = _data(data, data_root, "test_images")
    if images > len(data.test_images):
        raise InputError(f"images={images:,} is not allowed: data has {len(data.test_images):,} test images")
    batch = fashion.prepare(data.test_images[:images], side)
    if models is None:
        return effective.measure_untrained(spec, batch, _seeds(seeds), resamples)
    return effective.measure_models(spec, list(models), batch, True, resamples)

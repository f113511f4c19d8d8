"""Shared fixtures: a synthetic Fashion-MNIST written as real IDX files, and a tiny study run to its end."""

import gzip
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from vggbench.measure.data import FILES, IMAGE_MAGIC, LABEL_MAGIC, load


def write_idx(path: Path, magic: int, array: torch.Tensor, compress: bool = False) -> Path:
    """An IDX file: big-endian magic, one 4-byte size per dimension, then the uint8 data."""
    header = magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in array.shape)
    payload = header + array.to(torch.uint8).contiguous().numpy().tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb", compresslevel=1) as stream:
            stream.write(payload)
    else:
        path.write_bytes(payload)
    return path


def synthetic_split(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Learnable images: faint noise, and a bright 8x8 patch whose place depends on the label."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=generator)
    images = torch.randint(0, 40, (count, 28, 28), generator=generator, dtype=torch.uint8)
    rows, columns = (labels // 5) * 14 + 3, (labels % 5) * 5 + 1
    for offset_row in range(8):
        for offset_column in range(4):
            images[torch.arange(count), rows + offset_row, columns + offset_column] = 220
    return images, labels


def hand_built_cnn(kernels, widths, in_channels: int = 1, batch_norm: bool = False) -> torch.nn.Sequential:
    """A small CNN written out layer by layer, as tests' independent expectation of what vggbench builds: per block
    of `kernels` (a list per block), each conv (to the next of `widths`, padded to keep the side) followed by its
    batch norm if asked and a ReLU, then a 2x2 max-pool; then global average pooling and one linear layer to 10."""
    nn = torch.nn
    layers, channels, widths = [], in_channels, iter(widths)
    for block in kernels:
        for kernel in block:
            width = next(widths)
            layers += [nn.Conv2d(channels, width, kernel, padding=kernel // 2)]
            layers += [nn.BatchNorm2d(width)] * batch_norm + [nn.ReLU()]
            channels = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def write_dataset(folder: Path, compress: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for split, count, seed in (("train", 60_000, 1), ("test", 10_000, 2)):
        images, labels = synthetic_split(count, seed)
        write_idx(folder / FILES[f"{split}_images"], IMAGE_MAGIC, images, compress)
        write_idx(folder / FILES[f"{split}_labels"], LABEL_MAGIC, labels, compress)
    return folder


# Fixtures that run a whole study or start a Ray cluster: a test that uses one, directly or through another
# fixture, is marked slow (the small_run fixture of test_reliability.py is a function that runs a study, and each
# test asking for it calls it).
SLOW_FIXTURES = frozenset({"finished_run", "two_seed_run", "small_run", "ray_cluster"})


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def synthetic_root(tmp_path_factory) -> Path:
    """A folder holding a full-size synthetic data set (60,000 + 10,000 images), uncompressed."""
    return write_dataset(tmp_path_factory.mktemp("fashion"))


@pytest.fixture(scope="session")
def dataset(synthetic_root):
    """The synthetic data set, loaded (tensors: read them, do not change them)."""
    return load(synthetic_root)


# Two variants, one model, two seeds, one short epoch: a whole study in seconds.
TINY_STUDY = {
    "archs": ["vgg11"],
    "variants": ["stack", "single"],
    "ratios": [64],
    "resolutions": [32],
    "seeds": [0, 1],
    "epochs": 1,
    "batch_size": 32,
    "train_limit": 128,
    "failure_loss_ratio": 1.1,  # four steps do not leave chance: only a loss above ln 10 (or NaN) fails here
    "speed_modes": ["infer"],
    "speed_batch_size": 2,
    "speed_min_time_s": 0.0,
    "speed_max_time_s": 0.0,  # no sampling past the minimum: tests check rows, not the machine's noise
    "pairs": 4,
    "rebuilds": 2,
    "density_channels": [4],
    "density_sides": [8],
    "density_pairs": 4,
    "density_rebuilds": 2,
    "device": "cpu",
    "threads": 1,
}

# A tiny tuning run of real training: 1 arm, 4 candidates of 2 epochs in 2 rounds, pruned by the median. With batch
# norm at ratio 16 it learns within 2 epochs at some of the learning rates asked (not all: some are pruned).
TINY_TUNING = {
    **{key: TINY_STUDY[key] for key in ("archs", "resolutions", "batch_size", "device", "threads")},
    "variants": ["stack"],
    "ratios": [16],
    "batch_norm": [True],
    "kinds": ["train"],
    "seeds": [0],
    "epochs": 2,
    "train_limit": 512,
    "validation_images": 500,
    "failure_loss_ratio": 1.1,
    "tune_candidates": 4,
    "tune_per_round": 2,
    "tune_seeds": [100],
    "tune_space": ["lr=log(1e-4,1e-1)"],
    "tune_prune": "median",
}


@pytest.fixture(autouse=True)
def short_noise_probe(monkeypatch):
    """Every study starts with an A/A noise probe of about three seconds; tests run many tiny studies, and
    check what the probe records, not how finely this machine times: 4 pairs over 2 builds do for them."""
    from vggbench.measure import speed

    monkeypatch.setattr(speed, "PROBE_PAIRS", 4)
    monkeypatch.setattr(speed, "PROBE_REBUILDS", 2)


@pytest.fixture
def quick_rates(monkeypatch):
    """The dry run's calibration (a few training steps of each model: minutes for the paper preset's 224 px
    models on a CPU) replaced by fixed rates; the runs it was asked to time are kept."""
    from vggbench.engine import study
    from vggbench.engine._estimate import Rates

    asked = []

    def rates(runs, device, threads):
        asked.extend(runs)
        return Rates({run.spec: 10.0 for run in runs if run.spec is not None}, 50.0)

    monkeypatch.setattr(study, "measure_rates", rates)
    return asked


@pytest.fixture
def tiny_study() -> dict:
    """The keys of a tiny study configuration (a fresh copy: change it freely)."""
    return dict(TINY_STUDY)


@dataclass(frozen=True)
class FinishedRun:
    root: Path
    progress: list[str]  # the lines `study.run` reported


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, synthetic_root) -> FinishedRun:
    """TINY_STUDY run to its end, as `vggbench run` leaves it (tables, claim, report). Read it, do not change it."""
    from vggbench.engine import study
    from vggbench.engine.config import load_config
    from vggbench.reporting.finish import write_reports

    progress: list[str] = []
    root = tmp_path_factory.mktemp("finished") / "run"
    study.run(load_config(**TINY_STUDY), root, data_root=str(synthetic_root), report=progress.append)
    write_reports(root)
    return FinishedRun(root, progress)

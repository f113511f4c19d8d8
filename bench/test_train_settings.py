"""The training step per setting and per number of seeds trained together, as ratios in one process.

vgg13 stack at ratio 8, 32 px, batch 64 (the quick preset's training), Adam, one optimizer
step of the trainer per call. Every setting is timed in alternation with the others
(speed.interleaved_times: fresh builds, blocks of steps in forward and reverse order),
with the CPU's threads (in lanes: shared out among the lanes),
and compared with plain fp32 NCHW training of one seed as a ratio of images per second
(K seeds train K images per image of batch), with a two-stage bootstrap 95% interval.
The table goes to runs/train-settings-DEVICE.csv, beside the main job's study: a run of the suites measures this
machine, and the published table (results/train-settings-cpu.csv, from which the trainer's defaults per device in
vggbench/measure/setups.py, DEVICE_DEFAULTS, were chosen) changes only when it is copied there on purpose.
"""

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from conftest import DEVICE

from vggbench import ModelSpec
from vggbench.measure import data, speed, train
from vggbench.measure.hardware import device_name
from vggbench.measure.setups import SpeedSetup, TrainConfig

SPEC = ModelSpec("vgg13", "stack", ratio=8, resolution=32)
BATCH = 64
OUT = Path(__file__).parents[1] / "runs" / f"train-settings-{DEVICE}.csv"
# (name, settings); the first is the reference.
SETTINGS = [
    ("fp32", {"channels_last": False, "precision": "fp32"}),
    ("channels-last", {"channels_last": True, "precision": "fp32"}),
    ("bf16", {"channels_last": False, "precision": "bf16"}),
    ("bf16 channels-last", {"channels_last": True, "precision": "bf16"}),
    ("compile", {"channels_last": False, "precision": "fp32", "compile": True}),
    *((f"channels-last, {k} seeds", {"channels_last": True, "precision": "fp32", "seed_batch": k}) for k in (2, 4, 8)),
    # Lanes: the seeds split over threads that train at once, each with its share of the intra-op threads.
    *(
        (
            f"channels-last, {k} seeds in 2 lanes",
            {"channels_last": True, "precision": "fp32", "seed_batch": k, "seed_lanes": 2},
        )
        for k in (2, 4)
    ),
]


def _dataset() -> data.FashionMNIST:
    """Shapes and types of Fashion-MNIST; the contents do not matter for timing."""
    images = torch.randint(0, 256, (1024, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (1024,))
    return data.FashionMNIST(images, labels, images[:512], labels[:512], source=None)


def _step(options: dict, dataset):
    config = TrainConfig(**{"device": DEVICE, "batch_size": BATCH, "seed_batch": 1, "seed_lanes": 1, **options})
    return train.training_step(SPEC, config, tuple(range(config.seed_batch)), dataset)


def test_training_step_per_setting(benchmark):
    dataset = _dataset()
    makers = [functools.partial(_step, options, dataset) for _, options in SETTINGS]
    timing = SpeedSetup(device=DEVICE, min_time_s=0)
    times = benchmark.pedantic(speed.interleaved_times, args=(makers, timing, 24, 3), rounds=1)
    seeds = np.array([options.get("seed_batch", 1) for _, options in SETTINGS])
    speedups = times[..., :1] * seeds / times  # images per second, relative to the first setting
    rows = []
    for index, (name, options) in enumerate(SETTINGS):
        low, high = speed.ratio_interval(speedups[..., index])
        rows.append(
            {
                "setting": name,
                "channels_last": options["channels_last"],
                "precision": options["precision"],
                "compiled": options.get("compile", False),
                "seed_batch": int(seeds[index]),
                "seed_lanes": options.get("seed_lanes", 1),
                "img_per_s": float(np.median(BATCH * seeds[index] / times[..., index])),
                "speedup_vs_fp32": float(np.median(speedups[..., index])),
                "ci_low": low,
                "ci_high": high,
                "pairs": speedups[..., index].size,
                "model": "vgg13 stack r8 32 px",
                "batch_size": BATCH,
                "device": DEVICE,
                "device_name": device_name(DEVICE),
                "threads": torch.get_num_threads(),
                "torch_version": torch.__version__,
            }
        )
    table = pd.DataFrame(rows)
    OUT.parent.mkdir(exist_ok=True)
    table.to_csv(OUT, index=False)
    benchmark.extra_info["speedups"] = dict(zip(table["setting"], table["speedup_vs_fp32"].round(3), strict=True))
    assert (table["img_per_s"] > 0).all()

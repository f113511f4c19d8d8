"""vggbench from Python in under a minute on a CPU, without the data set or the network.

    python examples/quickstart.py

1. Any nn.Module: small nets of your own, a stem conv then either two 3x3 convs or one 5x5 (the same receptive
   field; 18C² against 25C² weights), counted (params, MACs) and timed as vggbench counts and times its models.
2. A vggbench model: vgg11 at width ratio 16 and 32 px, stack against single, trained for one short epoch
   (on Fashion-MNIST where it is on this machine, else on stand-in images of its shape), then its effective
   receptive field.
3. A published run's tables, where this is a clone of the repository.
"""

from pathlib import Path

import pandas as pd
from torch import nn

import vggbench
from vggbench.measure.data import DataError

SHAPE = (1, 28, 28)  # one image: channels, height, width
TIMING = {"batch_size": 32, "device": "cpu", "min_time_s": 0.25, "max_time_s": 1.0}  # short: a quick look


def small_net(kernels: list[int], width: int = 16) -> nn.Sequential:
    """A 3x3 stem conv to `width` channels, then width-to-width convs of the given kernel sizes ('same' padding,
    a ReLU after each), a 2x2 max-pool and a linear head."""
    layers = [nn.Conv2d(SHAPE[0], width, 3, padding=1), nn.ReLU()]
    for kernel in kernels:
        layers += [nn.Conv2d(width, width, kernel, padding=kernel // 2), nn.ReLU()]
    return nn.Sequential(*layers, nn.MaxPool2d(2), nn.Flatten(), nn.Linear(width * 14 * 14, 10))


def any_module() -> None:
    rows = []
    for name, kernels in (("two 3x3", [3, 3]), ("one 5x5", [5])):
        net = small_net(kernels)
        cost = vggbench.measure_static(net, SHAPE)
        speed = vggbench.measure_speed(net, SHAPE, mode="infer", **TIMING)
        rows.append({"net": name, **{key: cost[key] for key in ("params", "macs")}, "img_per_s": speed["img_per_s"]})
        rows[-1].update(step_ms=speed["step_ms_median"], ci_half_width=speed["ci_half_width"], threads=speed["threads"])
    print("1. Your own modules (MACs for one image; images per second at batch 32, inference):")
    print(pd.DataFrame(rows).to_string(index=False), "\n")


def fashion_or_stand_in():
    try:
        return vggbench.load_data(download=False), {"train_limit": 2000}, "Fashion-MNIST (its first 2,000 images)"
    except DataError:  # not on this machine: stand-in images of its shape, which say nothing about it
        return vggbench.synthetic_data(train_images=1000, test_images=500), {}, "stand-in images (no Fashion-MNIST)"


def vggbench_model() -> None:
    data, limit, source = fashion_or_stand_in()
    print(f"2. vgg11 at ratio 16 and 32 px, with batch norm, one epoch on {source}:")
    rows = []
    for variant in ("stack", "single"):
        spec = vggbench.ModelSpec("vgg11", variant, ratio=16, resolution=32, batch_norm=True)
        cost = vggbench.measure_static(vggbench.build_spec(spec), (1, 32, 32))
        # Nothing is chosen here, so no training images are held out for validation (validation_images=0).
        result = vggbench.train(spec, seeds=(0,), data=data, epochs=1, batch_size=32, validation_images=0, **limit)
        final = result.table.iloc[-1]
        row, _ = vggbench.erf(spec, result.models, images=8, data=data, resamples=20)
        rows.append({"variant": variant, "params": cost["params"], "macs": cost["macs"], "test_acc": final.test_acc})
        rows[-1].update(train_img_per_s=final.train_img_per_s, erf_share_t50=row["erf_share_t50"])
    print(pd.DataFrame(rows).to_string(index=False))
    print("(erf_share_t50: the share of the image, at its side of 160 px, whose pixels hold half the input gradient)\n")


def published_run() -> None:
    folder = Path(__file__).resolve().parent.parent / "results" / "quick-erf5-cpu-2026-11-30"
    if not folder.is_dir():
        return
    run = vggbench.load_run(folder)
    print(f"3. A published run, {folder.name}: tables {', '.join(run.names)}")
    print(f"   on {run.metadata.get('device_name')} with {run.config.get('threads')} threads; its verdicts:")
    print(pd.crosstab(run.claim["claim"], run.claim["verdict"]).to_string())


if __name__ == "__main__":
    any_module()
    vggbench_model()
    published_run()

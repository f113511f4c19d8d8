"""vggbench: does a stack of 3x3 convolutions beat one large kernel? Measure it.

>>> import vggbench
>>> net = vggbench.build("vgg11", variant="single", ratio=8)
>>> vggbench.model_table(vggbench.grid(["vgg11"], ratios=[8]))  # pandas DataFrame
>>> vggbench.measure_static(net, (1, 224, 224))["macs"]  # any nn.Module, one image
>>> vggbench.load_run("results/quick-erf5-cpu-2026-11-30").claim  # a run's tables, config and metadata

The rest of the API (`measure_speed`, `train`, `erf`, `load_data`, `synthetic_data`) is in vggbench.api.
"""

import importlib

from vggbench.models.arch import VARIANTS, ArchSpec, ModelSpec, custom, grid, preset

# The names that need torch, and their modules: imported on first use (PEP 562), so that importing
# the package (as the command line does, to answer --help) does not import torch.
_ON_FIRST_USE = {
    "Run": "vggbench.api",
    "Training": "vggbench.api",
    "VGG": "vggbench.models.vgg",
    "erf": "vggbench.api",
    "load_data": "vggbench.api",
    "load_run": "vggbench.api",
    "measure_speed": "vggbench.api",
    "measure_static": "vggbench.api",
    "synthetic_data": "vggbench.api",
    "train": "vggbench.api",
    "block_table": "vggbench.measure.static",
    "build": "vggbench.models.vgg",
    "build_spec": "vggbench.models.vgg",
    "layer_table": "vggbench.measure.static",
    "model_table": "vggbench.measure.static",
    "vgg": "vggbench.models.vgg",
    "vgg_block": "vggbench.models.vgg",
}

__all__ = [
    "VARIANTS",
    "VGG",
    "ArchSpec",
    "ModelSpec",
    "Run",
    "Training",
    "block_table",
    "build",
    "build_spec",
    "custom",
    "erf",
    "grid",
    "layer_table",
    "load_data",
    "load_run",
    "measure_speed",
    "measure_static",
    "model_table",
    "preset",
    "synthetic_data",
    "train",
    "vgg",
    "vgg_block",
]


def __getattr__(name: str):
    if name == "__version__":
        from vggbench.util.version import package_version

        return package_version()
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""vggbench: does a stack of 3x3 convolutions beat one large kernel? Measure it.

>>> import vggbench
>>> net = vggbench.build("vgg11", variant="single", ratio=8)
>>> vggbench.model_table(vggbench.grid(["vgg11"], ratios=[8]))  # pandas DataFrame
"""

import importlib

from vggbench.arch import VARIANTS, ArchSpec, ModelSpec, custom, grid, preset

# The names that need torch, and their modules: imported on first use (PEP 562), so that importing
# the package (as the command line does, to answer --help) does not import torch.
_ON_FIRST_USE = {
    "VGG": "vggbench.models",
    "block_table": "vggbench.measure.static",
    "build": "vggbench.models",
    "build_spec": "vggbench.models",
    "layer_table": "vggbench.measure.static",
    "model_table": "vggbench.measure.static",
    "vgg": "vggbench.models",
    "vgg_block": "vggbench.models",
}

__all__ = [
    "VARIANTS",
    "VGG",
    "ArchSpec",
    "ModelSpec",
    "block_table",
    "build",
    "build_spec",
    "custom",
    "grid",
    "layer_table",
    "model_table",
    "preset",
    "vgg",
    "vgg_block",
]


def __getattr__(name: str):
    if name == "__version__":
        from vggbench.version import package_version

        return package_version()
    if name not in _ON_FIRST_USE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_ON_FIRST_USE[name]), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

"""vggbench: does a stack of 3x3 convolutions beat one large kernel? Measure it.

>>> import vggbench
>>> net = vggbench.build("vgg11", variant="single", ratio=8)
>>> vggbench.model_table(vggbench.grid(["vgg11"], ratios=[8]))  # pandas DataFrame
"""

from vggbench.arch import VARIANTS, ArchSpec, ModelSpec, custom, grid, preset
from vggbench.measure.static import block_table, layer_table, model_table
from vggbench.models import VGG, build, build_spec, vgg, vgg_block

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

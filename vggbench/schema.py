"""The row schema shared by every table: which columns say what was measured, and how tables join.

Every row of every table starts with `identity(spec)`, so rows of different kinds join
on MODEL_KEYS; GROUP_KEYS are the same without the variant, which the claim compares.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vggbench.arch import ModelSpec

if TYPE_CHECKING:
    import pandas as pd

NAME_KEYS = ("arch", "variant", "ratio", "resolution")  # how the terminal names a model; rows carry all MODEL_KEYS
MODEL_KEYS = (*NAME_KEYS, "in_channels", "num_classes", "batch_norm", "convs_per_block", "widths", "kernel")
GROUP_KEYS = tuple(key for key in MODEL_KEYS if key != "variant")
# The columns of a paired comparison, in the order the table shows them.
PAIRED_COLUMNS = (
    "arch",
    "ratio",
    "resolution",
    "mode",
    "device",
    "batch_size",
    "baseline",
    "variant",
    "baseline_img_per_s",
    "variant_img_per_s",
    "time_ratio_median",
    "ci_low",
    "ci_high",
    "ci_half_width",
    "stable",
    "pairs",
)


def identity(spec: ModelSpec) -> dict:
    """The columns that identify a model, on every row of every table."""
    return {
        "arch": spec.arch.name,
        "variant": spec.variant,
        "ratio": spec.ratio,
        "resolution": spec.resolution,
        "in_channels": spec.in_channels,
        "num_classes": spec.num_classes,
        "batch_norm": spec.batch_norm,
        "convs_per_block": "-".join(map(str, spec.arch.convs_per_block)),
        "widths": "-".join(map(str, spec.widths)),
        "kernel": spec.arch.kernel,
    }


def keys_in(table: pd.DataFrame, keys=MODEL_KEYS) -> list[str]:
    """The `keys` that `table` has (a hand-made table may carry fewer identity columns)."""
    return [key for key in keys if key in table]

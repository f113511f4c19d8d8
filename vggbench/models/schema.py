"""The row schema shared by every table: which columns say what was measured, and how tables join.

Every row of every table starts with `identity(spec)`, so rows of different kinds join
on MODEL_KEYS; GROUP_KEYS are the same without the variant, which the claim compares.
`spec_from_identity` reads the model back from those columns.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from vggbench.models._source import is_target
from vggbench.models.arch import (
    ARCH_NAMES,
    FC_HIDDEN,
    HEAD_DEFAULTS,
    PRESET_CONVS,
    ArchSpec,
    FactoryArch,
    ModelSpec,
    joined_widths,
    preset,
)
from vggbench.util.csvio import OneOf
from vggbench.util.validate import InputError, shown

if TYPE_CHECKING:
    import pandas as pd


class _Arch(OneOf):
    """The type of a table's `arch` column: an architecture's name, or a factory's ('package.module:function')."""

    def accepts(self, value) -> bool:
        return value in self or is_target(value)


ARCH = _Arch(ARCH_NAMES, "an architecture's name or a factory (package.module:function)")  # (Table.reads)
NAME_KEYS = ("arch", "variant", "ratio", "resolution")  # how the terminal names a model; rows carry all MODEL_KEYS
_PLAN_KEYS = ("convs_per_block", "widths", "kernel", "head")  # a VGG's plan and head
MODEL_KEYS = (*NAME_KEYS, "in_channels", "num_classes", "batch_norm", *_PLAN_KEYS)
# A training run's schedule length, the budget axis (`epochs` as a list): runs of one model and seed with other
# schedules are other runs, compared apart. Not the `epoch` a row reached, nor a model's identity.
SCHEDULE = "schedule_epochs"
# The recipe a training run trained at: TUNED, its arm's chosen recipe (tuning.json), or SHARED, the config's own;
# a table without the column is all SHARED. Runs of one model and seed at the two are other runs, compared apart.
RECIPE, TUNED, SHARED = "recipe", "tuned", "shared"
RUN_KEYS = (*MODEL_KEYS, SCHEDULE, RECIPE)  # what tells runs of a seed apart, where a table has them
GROUP_KEYS = tuple(key for key in RUN_KEYS if key != "variant")
# What tells a model's rows apart beside its name where a run holds several: the input's side, the training schedule
# (a run of several budgets) and the recipe (tuned runs with the shared recipe kept beside); labels name them.
BESIDE_MODEL = ("resolution", SCHEDULE, RECIPE)
# A row that stands for more models than its identity names says which (its `stands_for`): an untrained effective
# field measured once for the models with and without batch norm, whose initial weights are the same
# (vggbench.engine.kinds.erf says why).
STANDS_FOR, BOTH_NORMS = "stands_for", "with and without batch norm"
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
    """The columns that identify a model, on every row of every table; a factory's model has no plan or head of
    vggbench's: those columns are empty."""
    if isinstance(spec.arch, FactoryArch):
        shape = {key: getattr(spec, key) for key in ("variant", "ratio", "resolution", "in_channels", "num_classes")}
        return {"arch": spec.arch.target, **shape, "batch_norm": False, **dict.fromkeys(_PLAN_KEYS)}
    return {
        "arch": spec.arch.name,
        "variant": spec.variant,
        "ratio": spec.ratio,
        "resolution": spec.resolution,
        "in_channels": spec.in_channels,
        "num_classes": spec.num_classes,
        "batch_norm": spec.batch_norm,
        "convs_per_block": "-".join(map(str, spec.arch.convs_per_block)),
        "widths": joined_widths(spec.conv_widths),
        "kernel": spec.arch.kernel,
        "head": head_name(spec),
    }


def head_name(spec: ModelSpec) -> str:
    """The identity's `head`, of the head as built: 'gap'; 'fc' for VGG's (4096 units divided by the ratio,
    dropout 0.5), the column a table made before heads were a choice lacks; else 'fc' with its hidden units
    (after the ratio, as the widths) and '-d' its dropout where not 0.5: 'fc256', 'fc-d0.2', 'fc256-d0.0'."""
    if spec.arch.head != "fc":
        return spec.arch.head
    units = "" if spec.fc_hidden_units == FC_HIDDEN // spec.ratio else str(spec.fc_hidden_units)
    dropout = "" if spec.arch.dropout == HEAD_DEFAULTS["dropout"] else f"-d{spec.arch.dropout!r}"
    return f"fc{units}{dropout}"


def _head_options(name, ratio: int) -> dict:
    """The ArchSpec head options that `head_name` wrote as `name` (absent, NaN: the default head)."""
    if not given(name):
        return {}
    if name == "gap":
        return {"head": "gap"}
    found = re.fullmatch(r"fc(\d*)(?:-d(.+))?", str(name))
    if found is None:
        raise InputError(f"head={shown(name)} is not allowed in a table: it names gap, fc, or fc256-d0.2 and the like")
    units, dropout = found.groups()
    options = {"head": "fc"} | ({"fc_hidden": int(units) * ratio} if units else {})
    return options | ({"dropout": float(dropout)} if dropout else {})


def keys_in(table: pd.DataFrame, keys=RUN_KEYS) -> list[str]:
    """The `keys` that `table` has (a hand-made table, or one of a kind without a schedule, carries fewer), but for
    those it leaves empty (a factory's models have no plan): rows grouped on them would be dropped."""
    return [key for key in keys if key in table and (table.empty or table[key].notna().any())]


def given(value) -> bool:
    """Whether a table's cell holds a value: not None, not NaN (an empty CSV cell)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _numbers(joined) -> list[int]:
    """'2-2-3' (or 2, where a CSV reader took a one-block plan for a number) as [2, 2, 3]."""
    return [int(part) for part in str(joined).split("-")]


def _widths(joined, ratio: int) -> list:
    """'16/32-64' as [(16, 32), 64], times `ratio`: the identity's widths are after the ratio, and times it
    they divide back to themselves."""
    blocks = [[int(width) * ratio for width in block.split("/")] for block in str(joined).split("-")]
    return [block[0] if len(block) == 1 else tuple(block) for block in blocks]


def spec_from_identity(row: dict) -> ModelSpec | None:
    """The model a row's identity columns name, or None where they name none (no arch or resolution, or a custom
    arch without convs_per_block, widths and kernel). Columns a hand-made table (or one made before heads were a
    choice, without `head`) leaves out take ModelSpec's defaults."""
    if not (given(row.get("arch")) and given(row.get("resolution"))):
        return None
    ratio = int(row["ratio"]) if given(row.get("ratio")) else 1
    arch, head = row["arch"], _head_options(row.get("head"), ratio)
    if arch in PRESET_CONVS:
        arch = preset(arch, **head)
    else:
        if not all(given(row.get(key)) for key in ("convs_per_block", "widths", "kernel")):
            return None
        widths = _widths(row["widths"], ratio)
        arch = ArchSpec(arch, _numbers(row["convs_per_block"]), widths, int(row["kernel"]), **head)
    options = {key: int(row[key]) for key in ("in_channels", "num_classes") if given(row.get(key))}
    if given(row.get("batch_norm")):
        options["batch_norm"] = bool(row["batch_norm"])
    return ModelSpec(arch, row.get("variant", "stack"), ratio, resolution=int(row["resolution"]), **options)

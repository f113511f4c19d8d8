"""Static cost: parameters, MACs and theoretical receptive field, once per model; and the per-block
and per-layer tables, which follow from the models alone."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vggbench.engine.contract import Kind, Outcome, Table, Trial
from vggbench.engine.rundir import spec_key
from vggbench.models.schema import ARCH, NAME_KEYS, keys_in
from vggbench.util.csvio import INTEGER, NUMBER, TEXT, WHOLE

if TYPE_CHECKING:
    import pandas as pd

MODEL_COLUMNS = (
    *NAME_KEYS,
    "in_channels",
    "num_classes",
    "batch_norm",
    "params",
    "conv_params",
    "fc_params",
    "macs",
    "flops",
    "rf_px",
)
BLOCK_COLUMNS = (
    "arch",
    "ratio",
    "block",
    "variant",
    "kernels_px",
    "relus",
    "block_in_channels",
    "block_out_channels",
    "params",
    "params_vs_stack",
    "params_vs_stack_if_in_eq_out",
    "macs",
    "macs_vs_stack",
    "conv_rf_px",
    "rf_px",
    "map_px",
    "largest_kernel_px",
    "padding_tap_share",
)
LAYER_COLUMNS = (
    "arch",
    "variant",
    "ratio",
    "module",
    "layer_type",
    "kernel_px",
    "stride_px",
    "padding_px",
    "out_px",
    "params",
    "macs",
    "rf_px",
    "jump_px",
    "start_px",
    "padding_tap_share",
)


class Static(Kind):
    name = "static"
    tables = (
        Table(
            "static",
            "Static cost per model (one image; macs as counted by fvcore)",
            MODEL_COLUMNS,
            help="write the per-model table as CSV",
            reads=(("arch", ARCH), ("variant", TEXT), ("params", WHOLE), ("macs", WHOLE), ("rf_px", WHOLE)),
        ),
        Table(
            "blocks",
            "Per-block comparison of the variants",
            BLOCK_COLUMNS,
            flag="--blocks",
            help="also show the per-block comparison of the variants with stack; with FILE.csv also write it",
            on_request=True,
            reads=(
                ("arch", ARCH),
                ("variant", TEXT),
                ("block", INTEGER),
                ("num_convs", INTEGER),
                *((column, NUMBER) for column in ("params_vs_stack", "params_vs_stack_if_in_eq_out", "macs_vs_stack")),
            ),
        ),
        Table(
            "layers",
            "Per-layer geometry and cost",
            LAYER_COLUMNS,
            flag="--layers",
            help="also show the per-layer table (window, output side, receptive field, jump, start); "
            "with FILE.csv also write it",
            on_request=True,
            # empty where a layer has none (a pooling layer's channels, the head's block): integers all the same
            types=(
                *((column, WHOLE) for column in ("block", "layer_in_channels", "layer_out_channels", "padding_px")),
                *((column, WHOLE) for column in ("kernel_px", "stride_px", "dilation", "out_px", "jump_px")),
                ("start_px", NUMBER),
            ),
        ),
    )
    help = "parameters, MACs/FLOPs and theoretical receptive field of each model"
    description = (
        "Parameters, MACs (fvcore; flops = 2 x macs) for one image, and theoretical receptive field of each "
        "model. With no options: the book's model (d2l.ai's VGG chapter: vgg11, ratio 8, 1 channel, 10 classes, "
        "224 px) in all three variants."
    )

    def plan(self, config) -> list[Trial]:
        return [Trial(self.name, spec, spec_key(spec)) for spec in config.models()]

    def run(self, trial, inputs, load_data, report) -> Outcome:
        from vggbench.measure import static

        return Outcome([static.model_row(trial.spec)])

    def estimate_s(self, trial, gflops) -> float:
        return 0.2

    def describe(self, rows) -> str:
        return f"{rows[0]['params']:,} params, {rows[0]['macs']:,} MACs"

    def make_tables(self, rows, config) -> dict[str, pd.DataFrame]:
        import pandas as pd

        from vggbench.measure import static

        models = config.models()
        if config.grid.factory is not None:  # a factory's net has layers but no blocks of vggbench's
            blocks = pd.DataFrame()
            blocks.attrs["why"] = "vggbench knows no blocks in a factory's net; --layers lists its layers"
            return {"static": rows, "blocks": blocks, "layers": static.layer_table(models)}
        return {"static": rows, "blocks": static.block_table(models), "layers": static.layer_table(models)}

    def summarize(self, rows):
        if "params" not in rows:  # every static trial failed
            return None
        return rows[[*keys_in(rows), "params", "macs", "rf_px"]]

    def judge(self, tables, rules) -> list[dict]:
        from vggbench.verdicts import static as static_verdicts

        return static_verdicts.claims(tables["static"])

    def figures(self):
        from vggbench.figures import static as static_figures

        return static_figures.FIGURES


KIND = Static()

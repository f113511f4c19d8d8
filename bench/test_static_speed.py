"""How long the static tables take: `vggbench static` with no options should answer in under 10 s (a quality target).

Run with `nox -s bench` or `pytest bench`. The count is recomputed each round (the
per-spec cache is cleared), so a round is the work of one command-line call less
the interpreter's start-up and imports.
"""

import pytest

from vggbench import block_table, grid, layer_table, model_table
from vggbench.measure.static import analyze

SEED_MODELS = grid(["vgg11"], ratios=[8])  # the default of `vggbench static`


def _fresh(table_function, specs):
    analyze.cache_clear()
    return table_function(specs)


@pytest.mark.parametrize("table_function", [model_table, block_table, layer_table], ids=lambda f: f.__name__)
def test_seed_models_static_tables(benchmark, quality, table_function):
    table = benchmark.pedantic(_fresh, args=(table_function, SEED_MODELS), rounds=5, warmup_rounds=1)
    assert len(table) > 0
    benchmark.extra_info["models"] = len(SEED_MODELS)
    median_s = benchmark.stats.stats.median
    quality(f"static {table_function.__name__}", median_s, 10, "<", "median seconds per table, the book's models")


def test_vgg19_ratio_1_model_table(benchmark):
    specs = grid(["vgg19"], ratios=[1], in_channels=3)
    table = benchmark.pedantic(_fresh, args=(model_table, specs), rounds=3, warmup_rounds=1)
    benchmark.extra_info["macs_stack"] = int(table.loc[0, "macs"])

"""The book's model (d2l.ai's VGG chapter: vgg11, ratio 8, 1 channel, 224 px, batch 64), stack and single, infer
and train.

Also an A/A check of the paired timing on the CPU: the same model against itself should
give a 95% interval of the time ratio narrow enough to resolve a 5% difference on two
shared cores (a quality target: a half-width under 0.05). (On a GPU this small model is
bound by kernel launches, and its A/A interval says more about the host than about the
device.)
"""

import pytest
from conftest import DEVICE

from vggbench import ModelSpec
from vggbench.measure import speed
from vggbench.measure.flops import step_flops
from vggbench.measure.setups import SpeedSetup
from vggbench.measure.static import model_row

SEED_BATCH = 64


@pytest.mark.parametrize("mode", ["infer", "train"])
@pytest.mark.parametrize("variant", ["stack", "single"])
def test_seed_model(timed, variant, mode):
    spec = ModelSpec("vgg11", variant, ratio=8)
    step, _ = speed.make_step(spec, SpeedSetup(mode=mode, device=DEVICE, batch_size=SEED_BATCH))
    macs = model_row(spec)["macs"] * SEED_BATCH
    median_s = timed(
        step,
        flops=step_flops(spec, mode) * SEED_BATCH,
        rounds=5,
        warmup_rounds=1,
        variant=variant,
        mode=mode,
        batch_size=SEED_BATCH,
        macs=macs,
    )
    assert median_s > 0


def test_paired_timing_resolves_five_percent(benchmark, quality):
    # A/A: the same spec against itself, built afresh as paired() does for variants.
    spec = ModelSpec("vgg11", "stack", ratio=8)
    setup = SpeedSetup(mode="infer", device="cpu", batch_size=SEED_BATCH, min_time_s=0)
    rows = benchmark.pedantic(speed.paired, args=([spec, spec], setup), rounds=1)
    row = rows[0]
    benchmark.extra_info.update({key: row[key] for key in ["time_ratio_median", "ci_low", "ci_high", "pairs"]})
    benchmark.extra_info["contains_1"] = bool(row["ci_low"] <= 1 <= row["ci_high"])
    half_width = max(row["time_ratio_median"] - row["ci_low"], row["ci_high"] - row["time_ratio_median"])
    what = "half-width of the 95% interval of the time ratio, the book's model against itself"
    quality("paired timing, A/A interval", half_width, 0.05, "<", what)

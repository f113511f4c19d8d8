"""examples/your-network.toml: a user's own small CNN and its single twin, a short study from one file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import TINY_STUDY, hand_built_cnn

from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.models.vgg import build_spec
from vggbench.reporting.finish import write_reports

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "your-network.toml"


def test_the_example_describes_the_users_net_whatever_the_preset_under_it():
    for preset in ("quick", None):  # `vggbench run --config` puts it over quick, the default preset
        config = load_config(preset, EXAMPLE)
        assert (config.archs, config.ratios, config.resolutions) == (("custom",), (1,), (28,))
        stack, single = config.models()
        assert (stack.variant, single.variant) == ("stack", "single")
    count = {model.variant: sum(p.numel() for p in build_spec(model).parameters()) for model in config.models()}
    stack_net = hand_built_cnn([[3, 3], [3, 3]], [16, 32, 64, 64], batch_norm=True)
    # Each pair's field, 5 px, in one conv from the block's input to the block's last width.
    single_net = hand_built_cnn([[5], [5]], [32, 64], batch_norm=True)
    assert count == {
        "stack": sum(p.numel() for p in stack_net.parameters()),
        "single": sum(p.numel() for p in single_net.parameters()),
    }


def test_the_example_study_runs_and_judges_its_accuracy(tmp_path, synthetic_root):
    tiny = {key: TINY_STUDY[key] for key in ("batch_size", "device", "threads", "failure_loss_ratio")}
    config = load_config(None, EXAMPLE, seeds=[0, 1], epochs=1, train_limit=128, validation_images=100, **tiny)
    study.run(config, tmp_path, data_root=str(synthetic_root), report=lambda _: None)
    write_reports(tmp_path)  # as `vggbench run` ends
    static = pd.read_csv(tmp_path / "static.csv").set_index("variant")
    assert static.loc["single", "rf_px"] == static.loc["stack", "rf_px"]  # the twin keeps the receptive field
    claim = pd.read_csv(tmp_path / "claim.csv")
    accuracy = claim[claim["claim"] == "higher accuracy"]
    assert set(accuracy["arch"]) == {"custom"}
    assert set(zip(accuracy["variant"], accuracy["baseline"], strict=True)) == {("stack", "single")}
    assert "higher accuracy" in (tmp_path / "claim.md").read_text()


def test_the_preset_keeps_its_models_only_where_no_own_net_is_described():
    assert load_config("quick").archs == ("vgg11", "vgg13", "vgg16")
    own = load_config("quick", convs=[1, 1], widths=[8, 16])
    assert (own.archs, own.ratios) == (("custom",), (1,))
    halved = load_config("quick", convs=[1, 1], widths=[8, 16], ratios=[2])
    assert [model.widths for model in halved.models()] == [(4, 8)] * len(halved.variants)
    both = load_config("quick", convs=[1, 1, 1, 1, 1], widths=[8] * 5, archs=["vgg11", "custom"], ratios=[8])
    assert {model.arch.name for model in both.models()} == {"vgg11", "custom"}
    with_factory = load_config("quick", factory="examples.small_cnn:build")
    assert (with_factory.archs, with_factory.ratios) == (None, (1,))

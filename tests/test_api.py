"""The Python API: a run's tables by name, any nn.Module's static cost and speed, training and the effective
field from Python, and the quickstart example that shows them."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

import vggbench
from vggbench.util.validate import InputError

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "results" / "quick-erf5-cpu-2026-11-30"


def test_load_run_reads_a_published_folders_tables_config_and_metadata():
    run = vggbench.load_run(PUBLISHED)
    assert set(vggbench.api.TABLES) <= set(run.tables)
    assert all(isinstance(table, pd.DataFrame) for table in run.tables.values())
    assert run.names == ["static", "blocks", "layers", "speed", "pairs", "train", "summary", "erf", "density", "claim"]
    assert run.failures.empty  # no trial failed: its table is there, without rows
    assert run["train"] is run.train is run.tables["train"]
    assert len(run.static) == 9 and {"params", "macs", "rf_px"} <= set(run.static.columns)
    assert run.train.groupby(["arch", "variant"])["seed"].nunique().eq(2).all()  # the quick preset's two seeds
    assert run.config["archs"] == ["vgg11", "vgg13", "vgg16"] and run.config["epochs"] == 2
    assert run.metadata["device"] == "cpu" and run.metadata["threads"] == 2 and run.metadata["git_commit"]
    assert run.claim_text.startswith("#") and run.report == PUBLISHED / "report.html"
    with pytest.raises(KeyError, match="no table 'trian' \\(did you mean 'train'\\?\\)"):
        run["trian"]


def test_load_run_refuses_an_unknown_config_key_in_a_fresh_process(tmp_path):
    # In a fresh process nothing but vggbench itself is imported: what is checked may not depend on import order.
    (tmp_path / "config.json").write_text('{"epoch": 3}')
    probe = f"import vggbench; vggbench.load_run({str(tmp_path)!r})"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "unknown config key(s) epoch (did you mean 'epochs'?)" in result.stderr


def test_load_run_leaves_missing_tables_empty_and_refuses_what_is_no_run(tmp_path):
    pd.DataFrame({"arch": ["vgg11"], "time_ratio_median": [0.9]}).to_csv(tmp_path / "pairs.csv", index=False)
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "extra.csv", index=False)
    run = vggbench.load_run(tmp_path)
    assert run.names == ["pairs", "extra"] and run.static.empty and run.config == {} and run.metadata == {}
    assert run.claim_text == "" and run.report is None
    with pytest.raises(InputError, match="is not a folder"):
        vggbench.load_run(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=r"holds neither config\.json nor a table"):
        vggbench.load_run(empty)


def _small_conv_net() -> nn.Sequential:
    # On a 1 x 14 x 14 image: 3x3 conv to 4 channels (with bias), 5x5 conv to 8 (without), pool to 7 x 7, linear.
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(4, 8, 5, padding=2, bias=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 7 * 7, 10),
    )


def test_the_static_cost_of_any_module_counts_by_hand():
    net = _small_conv_net()
    net[0].bias.requires_grad_(False)
    cost = vggbench.measure_static(net, (1, 14, 14))
    assert cost["params"] == sum(parameter.numel() for parameter in net.parameters()) == 40 + 800 + 3930
    assert cost["trainable_params"] == cost["params"] - 4
    # Multiply-adds per output value: in channels x kernel taps (biases, ReLU and pooling are not counted).
    by_hand = 4 * 14 * 14 * (1 * 3 * 3) + 8 * 14 * 14 * (4 * 5 * 5) + 10 * (8 * 7 * 7)
    assert cost["macs"] == by_hand == 167_776 and cost["flops"] == 2 * by_hand
    assert net.training  # put back as it was
    with pytest.raises(InputError, match=r"input_shape=\[1, 14, 14.0\] is not allowed: give one image's shape"):
        vggbench.measure_static(net, [1, 14, 14.0])
    with pytest.raises(InputError, match=r"give a torch\.nn\.Module"):
        vggbench.measure_static("vgg11", (1, 14, 14))


def test_a_vggbench_model_costs_the_same_measured_as_any_module():
    spec = vggbench.ModelSpec("vgg11", "single", ratio=8, resolution=32)
    cost = vggbench.measure_static(vggbench.build_spec(spec), (1, 32, 32))
    row = vggbench.model_table([spec]).iloc[0]
    assert (cost["params"], cost["macs"]) == (row["params"], row["macs"])


@pytest.mark.parametrize("mode", ["infer", "train"])
def test_the_speed_of_any_module_is_timed_as_the_speed_kind_times(mode):
    net = _small_conv_net()
    before = [parameter.detach().clone() for parameter in net.parameters()]
    row = vggbench.measure_speed(
        net, (1, 14, 14), mode=mode, batch_size=8, device="cpu", threads=1, min_time_s=0.05, max_time_s=0.2
    )
    assert row["error"] is None and row["img_per_s"] > 0
    assert (row["mode"], row["batch_size"], row["device"], row["threads"], row["input_shape"]) == (
        mode,
        8,
        "cpu",
        1,
        (1, 14, 14),
    )
    assert row["img_per_s"] == pytest.approx(8 / (row["step_ms_median"] / 1e3))
    assert row["step_ms_ci_low"] <= row["step_ms_median"] <= row["step_ms_ci_high"] and row["runs"] >= 10
    # torch's count: forward 2 x MACs; training adds the weights' gradients (as much again) and the inputs'
    # gradients, which the first conv does not need (as much again, less that conv's forward).
    forward, first_conv = 2 * 167_776, 2 * 4 * 14 * 14 * 9
    assert row["macs"] == 167_776
    assert row["step_flops_per_image"] == (3 * forward - first_conv if mode == "train" else forward)
    assert row["achieved_gflops"] > 0 and row["rss_peak_increase_bytes"] is not None
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))  # a copy was stepped


def test_training_and_the_effective_field_from_python():
    spec = vggbench.ModelSpec("vgg11", "stack", ratio=16, resolution=32, batch_norm=True)
    data = vggbench.synthetic_data(train_images=96, test_images=32)
    result = vggbench.train(spec, seeds=(3, 1), data=data, epochs=1, batch_size=32, threads=1, seed_batch=1)
    assert list(result.table["seed"]) == [3, 1] and (result.table["optimizer_steps"] == 3).all()
    assert len(result.summary) == 1 and result.summary.loc[0, "seeds"] == 2 and len(result.models) == 2
    row, mean_map = vggbench.erf(spec, result.models, images=4, resolution=64, data=data, resamples=10)
    assert row["trained"] and row["models"] == 2 and row["images"] == 4 and mean_map.shape == (64, 64)
    untrained, _ = vggbench.erf(spec, images=4, resolution=64, seeds=(0, 1), data=data, resamples=10)
    assert not untrained["trained"] and 0 < untrained["erf_share_t50"] <= 1
    with pytest.raises(InputError, match="epoch is not a training setting \\(did you mean 'epochs'\\?\\)"):
        vggbench.train(spec, data=data, epoch=1)


def test_the_quickstart_example_runs_on_the_cpu():
    example = ROOT / "examples" / "quickstart.py"
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "1. Your own modules" in result.stdout and "two 3x3" in result.stdout and "one 5x5" in result.stdout
    assert "2. vgg11 at ratio 16 and 32 px" in result.stdout and "erf_share_t50" in result.stdout
    assert "3. A published run, quick-erf5-cpu-2026-11-30" in result.stdout


def test_the_map_long_example_is_the_maps_deeper_nets_at_three_times_the_budget():
    from vggbench.engine.config import load_config
    from vggbench.engine.study import trials

    base, config = load_config("map"), load_config("map", ROOT / "examples" / "map-long.toml")
    arms = {(trial.spec.arch.name, trial.spec.variant, trial.spec.batch_norm) for trial in trials(config)}
    models = {(arch, variant) for arch in ("vgg13", "vgg16") for variant in ("stack", "single-fits")}
    assert arms == {(*model, normed) for model in models for normed in (False, True)}
    assert {trial.kind for trial in trials(config)} == {"train"}
    long, short = config.to_dict(), base.to_dict()
    assert long["epochs"] == 3 * short["epochs"]
    same = ("lr_schedule", "train_limit", "subset_per_seed", "design", "seeds_per_round", "max_seeds", "ratios")
    assert all(long[key] == short[key] for key in same)

"""The Python API: a run's tables by name, any nn.Module's static cost and speed, training and the effective
field from Python, and the quickstart example that shows them."""

import collections
import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

import vggbench
from vggbench.engine.registry import KINDS
from vggbench.reporting import claim
from vggbench.util import csvio
from vggbench.util.csvio import write_csv
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


# What each declared type reads back as (csvio's types, ranges aside).
DTYPE_OF = {
    **dict.fromkeys((csvio.BOOLEAN,), pd.api.types.is_bool_dtype),
    **dict.fromkeys((csvio.INTEGER, csvio.COUNT, csvio.WHOLE), pd.api.types.is_integer_dtype),
    **dict.fromkeys((csvio.NUMBER, csvio.POSITIVE, csvio.NON_NEGATIVE, csvio.SHARE), pd.api.types.is_float_dtype),
}


def _declared() -> dict[str, dict[str, str]]:
    """Each table's column types, as each kind (and the claim) declares them."""
    tables = [claim.TABLE, *(table for kind in KINDS.values() for table in (*kind.tables, kind.summary_table) if table)]
    return {table.name: table.schema for table in tables}


def test_a_runs_tables_read_back_with_the_dtypes_their_kinds_declare(finished_run):
    run = vggbench.load_run(finished_run.root)
    declared, checked = _declared(), collections.Counter()
    for name in run.names:
        for column, kind in declared.get(name, {}).items():
            if column in run[name] and kind in DTYPE_OF:
                assert DTYPE_OF[kind](run[name][column]), (name, column, kind, run[name][column].dtype)
                checked[name] += 1
    assert {"static", "train", "summary", "claim"} <= set(checked)
    assert run.train["batch_norm"].dtype == bool and run.summary["failed"].dtype == "int64"  # a count, there
    assert run.claim["seeds_variant"].dtype.kind == "i" and run.claim["significant_holm"].dtype.kind == "b"


def test_blank_booleans_and_integers_read_back_nullable_and_an_older_claim_still_loads(tmp_path):
    claims = pd.DataFrame({"claim": ["a", "b", "c"], "batch_norm": [True, False, None], "look": [3, None, None]})
    write_csv(claims, tmp_path / "claim.csv")
    run = vggbench.load_run(tmp_path)
    assert str(run.claim["batch_norm"].dtype) == "boolean" and str(run.claim["look"].dtype) == "Int64"
    assert list(run.claim[run.claim["batch_norm"]]["claim"]) == ["a"]  # a filter leaves the blank row out
    assert run.claim["look"].sum() == 3
    # A claim of older code (no significant_holm: the published map's as first written) with rows of no model: its
    # batch_norm is boolean too.
    older = pd.read_csv(ROOT / "results" / "map-cpu-2026-11-30" / "claim.csv")
    (tmp_path / "older").mkdir()
    older.drop(columns=["significant_holm", "equivalent_holm"]).to_csv(tmp_path / "older" / "claim.csv", index=False)
    published = vggbench.load_run(tmp_path / "older").claim
    assert str(published["batch_norm"].dtype) == "boolean" and "significant_holm" not in published
    assert published["batch_norm"].isna().any() and published["ratio"].dtype == "int64"
    write_csv(claims.assign(batch_norm=["True", "maybe", None]), tmp_path / "claim.csv")
    with pytest.raises(InputError, match=r"claim\.csv has 'maybe' in column batch_norm \(line 3\)"):
        vggbench.load_run(tmp_path)


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


@pytest.mark.slow
def test_training_and_the_effective_field_from_python():
    spec = vggbench.ModelSpec("vgg11", "stack", ratio=16, resolution=32, batch_norm=True)
    data = vggbench.synthetic_data(train_images=128, test_images=32)
    settings = {"epochs": 1, "batch_size": 32, "threads": 1, "seed_batch": 1}
    result = vggbench.train(spec, seeds=(3, 1), data=data, validation_images=32, **settings)  # 96 left to train on
    assert list(result.table["seed"]) == [3, 1] and (result.table["optimizer_steps"] == 3).all()
    assert (result.table["validation_images"] == 32).all() and result.table["val_acc"].between(0, 1).all()
    with pytest.raises(InputError, match="validation_images=10000 is not allowed with a data set of 128 training"):
        vggbench.train(spec, data=data, **settings)  # the default split holds out more than these stand-in images
    assert len(result.summary) == 1 and result.summary.loc[0, "seeds"] == 2 and len(result.models) == 2
    row, mean_map = vggbench.erf(spec, result.models, images=4, resolution=64, data=data, resamples=10)
    assert row["trained"] and row["models"] == 2 and row["images"] == 4 and mean_map.shape == (64, 64)
    untrained, _ = vggbench.erf(spec, images=4, resolution=64, seeds=(0, 1), data=data, resamples=10)
    assert not untrained["trained"] and 0 < untrained["erf_share_t50"] <= 1
    with pytest.raises(InputError, match="epoch is not a training setting \\(did you mean 'epochs'\\?\\)"):
        vggbench.train(spec, data=data, epoch=1)


def _printed_table(lines: list[str], title: str, rows: int, name_words: int = 1) -> dict[str, dict[str, float]]:
    """The `rows` rows printed under the line that starts with `title` (a header, then a name of `name_words`
    words and numbers), by name and column."""
    at = next(number for number, line in enumerate(lines) if line.startswith(title))
    header = lines[at + 1].split()[1:]
    table = {}
    for line in lines[at + 2 : at + 2 + rows]:
        words = line.split()
        table[" ".join(words[:name_words])] = dict(zip(header, map(float, words[name_words:]), strict=True))
    return table


def _macs_by_hand(net: nn.Module, shape: tuple[int, ...]) -> int:
    """Each conv's outputs times its taps, each linear layer's weights, and 2 per batch norm output (the
    normalization and the affine step), as vggbench counts them: from the shapes a forward pass meets."""
    counts = []

    def count(layer, _, output):
        if isinstance(layer, nn.Conv2d):
            counts.append(output.numel() * layer.in_channels // layer.groups * layer.weight[0, 0].numel())
        elif isinstance(layer, nn.Linear):
            counts.append(layer.weight.numel())
        elif isinstance(layer, nn.BatchNorm2d):
            counts.append(2 * output.numel())

    hooks = [layer.register_forward_hook(count) for layer in net.modules()]
    with torch.no_grad():
        net.eval()(torch.zeros(1, *shape))
    for hook in hooks:
        hook.remove()
    return sum(counts)


@pytest.mark.slow
def test_the_quickstart_example_prints_its_nets_costs_and_the_published_runs_verdicts():
    example = ROOT / "examples" / "quickstart.py"
    result = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()

    # 1. Counted by hand: a 3x3 stem 1->16 (160 weights and biases; 16 * 9 * 28 * 28 MACs), then two 3x3 16->16
    # (2 * 2,320; 2 * 2,304 * 784) or one 5x5 (6,416; 6,400 * 784), and the head 16 * 14 * 14 -> 10 (31,370; 31,360).
    own = _printed_table(lines, "1. Your own modules", rows=2, name_words=2)
    assert {name: (row["params"], row["macs"]) for name, row in own.items()} == {
        "two 3x3": (160 + 4_640 + 31_370, 112_896 + 3_612_672 + 31_360),
        "one 5x5": (160 + 6_416 + 31_370, 112_896 + 5_017_600 + 31_360),
    }
    for row in own.values():  # images per second are the batch of 32 over the median step
        assert row["img_per_s"] == pytest.approx(32 / (row["step_ms"] / 1e3), rel=1e-4) and row["ci_half_width"] >= 0

    # 2. The vggbench models: their parameters and a forward pass's MACs, counted from the built nets.
    source = "Fashion-MNIST (its first 2,000 images)" if _has_fashion_mnist() else "stand-in images (no Fashion-MNIST)"
    models = _printed_table(lines, f"2. vgg11 at ratio 16 and 32 px, with batch norm, one epoch on {source}:", rows=2)
    assert list(models) == ["stack", "single"]
    for variant, row in models.items():
        net = vggbench.build_spec(vggbench.ModelSpec("vgg11", variant, ratio=16, resolution=32, batch_norm=True))
        assert row["params"] == sum(parameter.numel() for parameter in net.parameters())
        assert row["macs"] == _macs_by_hand(net, (1, 32, 32))
        assert 0 <= row["test_acc"] <= 1 and 0 < row["erf_share_t50"] <= 1
        if source.startswith("Fashion-MNIST"):  # 2,000 real images teach either net well past chance (0.1)
            assert row["test_acc"] > 0.3

    # 3. The published run, read back from its files: the tables with rows, the machine, the verdicts' counts.
    with_rows = [path.stem for path in PUBLISHED.glob("*.csv") if len(path.read_text().splitlines()) > 1]
    (tables,) = [line for line in lines if line.startswith(f"3. A published run, {PUBLISHED.name}: tables ")]
    assert sorted(tables.split(": tables ")[1].split(", ")) == sorted(with_rows)
    metadata, config = (json.loads((PUBLISHED / name).read_text()) for name in ("metadata.json", "config.json"))
    assert f"   on {metadata['device_name']} with {config['threads']} threads; its verdicts:" in lines
    with open(PUBLISHED / "claim.csv", newline="") as stream:  # a row without a verdict (sensitivity) counts nowhere
        rows = [row for row in csv.DictReader(stream) if row["verdict"]]
    counted = collections.Counter((row["claim"], row["verdict"]) for row in rows)
    verdicts = sorted({verdict for _, verdict in counted})
    at = lines.index(tables) + 2
    assert re.split(r"\s{2,}", lines[at].strip()) == ["verdict", *verdicts] and lines[at + 1].split() == ["claim"]
    printed = {}
    for line in lines[at + 2 :]:
        claim, numbers = re.fullmatch(r"(.+?)\s+(\d+(?:\s+\d+)*)", line).groups()
        printed[claim] = [int(number) for number in numbers.split()]
    claims = sorted({claim for claim, _ in counted})
    assert printed == {claim: [counted[claim, verdict] for verdict in verdicts] for claim in claims}


def _has_fashion_mnist() -> bool:
    from vggbench.measure.data import DataError

    try:
        vggbench.load_data(download=False)
    except DataError:
        return False
    return True


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

"""Architectures a user writes (issue 36): per-conv widths, the head as a choice, and the ratio's defaults, the same
in a TOML config, on the command line and in Python."""

import json

import pandas as pd
import pytest
import torch
from conftest import hand_built_cnn
from torch import nn

import vggbench
from vggbench.cli import main
from vggbench.engine.config import StudyConfig, load_config, run_config
from vggbench.engine.rundir import CONFIG, RunDir
from vggbench.measure.checkpoints import checkpoint_bytes, load_checkpoint
from vggbench.measure.memory import shapes
from vggbench.models.arch import spec_to_dict
from vggbench.models.schema import identity, spec_from_identity

# The user's CNN: 4 convs, widths 16-32-64-64, 28 px, 1 channel, 10 classes, global average pooling.
SMALL_CNN_TOML = """
archs = ["custom"]
convs = [2, 2]
widths = [[16, 32], [64, 64]]
head = "gap"
resolutions = [28]
variants = ["stack", "single"]
device = "cpu"
threads = 1
"""
SMALL_CNN = vggbench.custom(convs_per_block=(2, 2), widths=((16, 32), (64, 64)), head="gap")
CUSTOM_ARGS = ["static", "--convs", "2", "2", "--widths", "16/32", "64/64", "--head", "gap", "--resolution", "28"]


def _layers(model: nn.Module) -> list[str]:
    return [repr(layer) for layer in model.modules() if next(layer.children(), None) is None]


def _shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(parameter.shape) for parameter in model.parameters()]


def test_the_small_cnn_from_a_toml_file_is_the_model_written_out_and_its_single_twin_has_5x5_convs(tmp_path):
    path = tmp_path / "small.toml"
    path.write_text(SMALL_CNN_TOML)
    stack, single = load_config(toml_path=path).models()
    assert stack.ratio == 1 and stack.arch == SMALL_CNN  # explicit widths taken as given
    model = vggbench.build_spec(stack)
    params = 1 * 16 * 9 + 16 + 16 * 32 * 9 + 32 + 32 * 64 * 9 + 64 + 64 * 64 * 9 + 64 + 64 * 10 + 10
    assert params == 60_874 == sum(p.numel() for p in model.parameters()) == shapes(stack)[0]
    assert _layers(model) == _layers(hand_built_cnn([[3, 3], [3, 3]], [16, 32, 64, 64]))
    convs = [(16, 1, 3, 3), (16,), (32, 16, 3, 3), (32,), (64, 32, 3, 3), (64,), (64, 64, 3, 3), (64,)]
    assert _shapes(model) == [*convs, (10, 64), (10,)]
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    twin = vggbench.build_spec(single)
    assert _shapes(twin) == [(32, 1, 5, 5), (32,), (64, 32, 5, 5), (64,), (10, 64), (10,)]
    assert sum(p.numel() for p in twin.parameters()) == shapes(single)[0]


def test_the_command_line_python_and_toml_give_the_same_model(tmp_path, capsys):
    out = tmp_path / "static.csv"
    assert main([*CUSTOM_ARGS, "--variant", "stack", "--out", str(out)]) == 0
    assert "become" not in capsys.readouterr().err
    row = pd.read_csv(out).iloc[0]
    assert (row["ratio"], row["widths"], row["head"], row["params"]) == (1, "16/32-64", "gap", 60_874)
    path = tmp_path / "small.toml"
    path.write_text(SMALL_CNN_TOML)
    spec = vggbench.ModelSpec(SMALL_CNN, resolution=28)
    assert spec_from_identity(row.to_dict()) == spec == load_config(toml_path=path).models()[0]


def test_a_toml_width_may_mix_a_blocks_number_and_a_list():
    config = StudyConfig({"archs": ["custom"], "convs": [1, 2], "widths": [16, [32, 64]], "resolutions": [8]})
    assert config.grid.widths == (16, (32, 64)) and config.to_dict()["widths"] == [16, [32, 64]]
    assert StudyConfig(config.to_dict()).to_dict() == config.to_dict()
    spec = config.models()[0]
    assert [layer.out_channels for layer in vggbench.build_spec(spec).modules() if isinstance(layer, nn.Conv2d)] == [
        16,
        32,
        64,
    ]


@pytest.mark.parametrize(
    ("variant", "widths"),
    [
        ("linear-stack", [16, 32, 64, 64]),
        ("dilated", [32, 64]),
        ("depthwise", [1, 32, 32, 64]),  # the depthwise conv keeps its input's channels, the 1x1 maps to the last
    ],
)
def test_variants_that_replace_a_blocks_convs_map_its_input_to_its_last_width(variant, widths):
    model = vggbench.build(SMALL_CNN, variant, resolution=28)
    assert [layer.out_channels for layer in model.modules() if isinstance(layer, nn.Conv2d)] == widths
    assert (
        sum(p.numel() for p in model.parameters()) == shapes(vggbench.ModelSpec(SMALL_CNN, variant, resolution=28))[0]
    )


def test_batch_norm_follows_each_conv_at_its_own_width():
    model = vggbench.build(SMALL_CNN, resolution=28, batch_norm=True)
    assert [layer.num_features for layer in model.modules() if isinstance(layer, nn.BatchNorm2d)] == [16, 32, 64, 64]


def test_explicit_widths_keep_their_channels_and_a_ratio_above_one_says_what_they_become(tmp_path, capsys):
    custom = ["static", "--arch", "custom", "--convs", "1", "1", "--widths", "32", "64", "--resolution", "8"]
    out = tmp_path / "custom.csv"
    assert main([*custom, "--variant", "stack", "--out", str(out)]) == 0
    assert "become" not in capsys.readouterr().err
    assert pd.read_csv(out)[["ratio", "widths"]].values.tolist() == [[1, "32-64"]]
    assert main([*custom, "--variant", "stack", "--ratio", "8", "--out", str(out)]) == 0
    noted = [line for line in capsys.readouterr().err.splitlines() if "become" in line]
    assert noted == [
        "widths 32 64 become 4 8 at ratio 8 (every width divided by the ratio; ratio 1 keeps them as given)"
    ]
    assert pd.read_csv(out)[["ratio", "widths"]].values.tolist() == [[8, "4-8"]]


def test_the_presets_still_default_to_ratio_8_and_a_grid_of_both_asks_for_a_ratio(tmp_path, capsys):
    out = tmp_path / "vgg11.csv"
    assert main(["static", "--variant", "stack", "--resolution", "32", "--out", str(out)]) == 0
    assert "become" not in capsys.readouterr().err
    assert pd.read_csv(out)[["ratio", "widths", "head"]].values.tolist() == [[8, "8-16-32-64-64", "fc"]]
    assert StudyConfig({"archs": ["vgg16"]}).grid.ratios == (8,)
    assert StudyConfig({"convs": [1], "widths": [4], "resolutions": [2]}).grid.ratios == (1,)
    with pytest.raises(ValueError, match=r"needs --ratio .* 8 for the VGG presets and 1 for custom widths"):
        StudyConfig({"archs": ["vgg11", "custom"], "convs": [1] * 5, "widths": [4] * 5, "resolutions": [32]})
    assert vggbench.ModelSpec("vgg11").ratio == 1  # Python builds the model as written


def test_python_builds_vgg11_as_torchvision_does():
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        ours, theirs = vggbench.build("vgg11", in_channels=3), torchvision.models.vgg11()
    relu = repr(nn.ReLU(inplace=True))  # torchvision's ReLUs work in place, ours not: the same function
    assert [layer.replace("ReLU()", relu) for layer in _layers(ours.features)] == _layers(theirs.features)
    assert _shapes(ours.features) == _shapes(theirs.features)


def test_a_gap_head_for_a_preset_and_the_fc_heads_options():
    gap = vggbench.build(vggbench.preset("vgg11", head="gap"), ratio=8, resolution=32)
    assert _layers(gap.head) == _layers(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)))
    fc = vggbench.build(vggbench.preset("vgg11", fc_hidden=1024, dropout=0.2), ratio=8, resolution=32)
    assert [layer.out_features for layer in fc.head if isinstance(layer, nn.Linear)] == [128, 128, 10]
    assert [layer.p for layer in fc.head if isinstance(layer, nn.Dropout)] == [0.2, 0.2]
    config = StudyConfig({"archs": ["vgg11"], "head": "fc", "fc_hidden": 1024, "dropout": 0.2, "resolutions": [32]})
    assert config.models()[0].arch == vggbench.preset("vgg11", fc_hidden=1024, dropout=0.2)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"widths": [[16, 32, 48], 64]}, "widths entry=[16, 32, 48] is not allowed: block 1 has 2 conv(s), so give"),
        ({"widths": [[16, [32]], 64]}, "widths entry=[16, [32]] is not allowed: it must be an integer, or a non-empty"),
        ({"widths": [[], 64]}, "widths entry=[] is not allowed: it must be an integer, or a non-empty list of such"),
        ({"head": "avg"}, "head='avg' is not allowed: choose one of fc, gap"),
        ({"head": "gpa"}, "head='gpa' is not allowed: choose one of fc, gap (did you mean 'gap'?)"),
        ({"dropout": 1.0}, "dropout=1.0 is not allowed: it must be a number >= 0 and < 1"),
        ({"dropout": -0.1}, "dropout=-0.1 is not allowed: it must be a number >= 0 and < 1"),
        ({"head": "gap", "fc_hidden": 512}, "fc_hidden=512 is not allowed with head='gap': it applies only with"),
        ({"head": "gap", "dropout": 0.2}, "dropout=0.2 is not allowed with head='gap': it applies only with head='fc'"),
    ],
)
def test_bad_input_names_the_value_and_what_is_allowed(values, message):
    base = {"archs": ["custom"], "convs": [2, 2], "widths": [[16, 32], 64], "resolutions": [28]}
    with pytest.raises(ValueError) as refused:
        StudyConfig({**base, **values})
    assert message in str(refused.value)


def test_python_refuses_the_same_input_and_tells_each_head():
    with pytest.raises(ValueError, match=r"widths entry=\[16\] is not allowed: block 1 has 2 conv\(s\)"):
        vggbench.custom((2,), ([16],))
    with pytest.raises(ValueError, match=r"head='avg' is not allowed: choose one of fc, gap .*gap = global average"):
        vggbench.custom((2,), (16,), head="avg")


def test_a_bad_per_conv_width_on_the_command_line_is_one_line(capsys):
    assert main(["static", "--convs", "2", "--widths", "16/32/64", "--resolution", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert "widths entry=[16, 32, 64] is not allowed: block 1 has 2 conv(s)" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "spec",
    [
        vggbench.ModelSpec(SMALL_CNN, "single", resolution=28),
        vggbench.ModelSpec(vggbench.custom((2, 3), ((16, 32), 64), fc_hidden=1000, dropout=0.0), ratio=8),
        vggbench.ModelSpec(vggbench.preset("vgg13", head="gap"), ratio=4, resolution=32, batch_norm=True),
        vggbench.ModelSpec(vggbench.preset("vgg11", dropout=0.25), ratio=8, resolution=32),
    ],
)
def test_the_identity_reads_back_the_model_it_names(spec):
    row = identity(spec)
    back = spec_from_identity(json.loads(json.dumps(row)))
    assert identity(back) == row and vggbench.build_spec(back).state_dict().keys() == (
        vggbench.build_spec(spec).state_dict().keys()
    )
    assert _shapes(vggbench.build_spec(back)) == _shapes(vggbench.build_spec(spec))


def test_existing_identities_and_spec_dicts_are_unchanged_and_a_row_without_head_is_vggs():
    spec = vggbench.ModelSpec("vgg11", ratio=8, resolution=32)
    row = identity(spec)
    assert (row["widths"], row["head"]) == ("8-16-32-64-64", "fc")
    assert list(spec_to_dict(spec)) == [
        "arch",
        "convs_per_block",
        "widths",
        "kernel",
        "fc_hidden",
        "variant",
        "ratio",
        "in_channels",
        "num_classes",
        "resolution",
        "batch_norm",
    ]
    assert spec_from_identity({key: value for key, value in row.items() if key != "head"}) == spec
    assert identity(vggbench.ModelSpec(vggbench.preset("vgg11", dropout=0.2), ratio=8))["head"] == "fc-d0.2"
    assert identity(vggbench.ModelSpec(vggbench.preset("vgg11", fc_hidden=1024), ratio=8))["head"] == "fc128"


def test_a_checkpoint_keeps_per_conv_widths_and_the_head():
    spec = vggbench.ModelSpec(SMALL_CNN, resolution=28)
    assert spec_to_dict(spec)["widths"] == [[16, 32], 64] and spec_to_dict(spec)["head"] == "gap"
    model, loaded = load_checkpoint(checkpoint_bytes(vggbench.build_spec(spec), spec))
    assert loaded == spec and _shapes(model) == _shapes(vggbench.build_spec(spec))


def test_seeds_trained_together_pool_each_seeds_channels_alone():
    from vggbench.measure._seedgroup import SeedGroup

    spec = vggbench.ModelSpec(vggbench.custom((2, 1), ((4, 8), 8), head="gap"), resolution=8)
    models = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        models.append(vggbench.build_spec(spec).eval())
    group = SeedGroup(spec, models).eval()
    images = torch.rand(3, 1, 8, 8)
    together = group(images.repeat(1, 2, 1, 1))
    assert all(torch.allclose(together[k], models[k](images), atol=1e-6) for k in range(2))


def test_a_run_recorded_before_the_head_keys_resumes_as_it_was(tmp_path):
    config = load_config(archs=["vgg11"], resolutions=[32], kinds=["static"], device="cpu", threads=1)
    recorded = config.to_dict()
    assert {key: recorded[key] for key in ("head", "fc_hidden", "dropout")} == {
        "head": "fc",
        "fc_hidden": 4096,
        "dropout": 0.5,
    }
    old = {key: value for key, value in recorded.items() if key not in ("head", "fc_hidden", "dropout")}
    (tmp_path / CONFIG).write_text(json.dumps(old))
    directory = RunDir(tmp_path)
    assert run_config(directory) == recorded
    directory.adopt(recorded, force=False)  # the same configuration: no --force needed


def test_a_trial_file_written_before_heads_were_a_choice_counts_as_done(tmp_path):
    """Rows written by earlier code lack the `head` column: they are VGG's head, done, not redone."""
    from vggbench.engine import study
    from vggbench.engine.registry import KINDS
    from vggbench.engine.rundir import DONE

    config = load_config(archs=["vgg11"], resolutions=[32], variants=["stack"], kinds=["static"], threads=1)
    study.run(config, tmp_path, report=lambda _: None)
    (path,) = (tmp_path / "trials" / "static").glob("*.json")
    envelope = json.loads(path.read_text())
    for row in envelope["rows"]:
        del row["head"]
    path.write_text(json.dumps(envelope))
    directory = RunDir(tmp_path, KINDS)
    (trial,) = KINDS["static"].plan(config)
    assert directory.status(trial) == DONE
    written = path.read_text()
    study.run(config, tmp_path, report=lambda _: None)
    assert path.read_text() == written  # not measured again
    assert set(pd.read_csv(tmp_path / "static.csv")["head"]) == {"fc"}

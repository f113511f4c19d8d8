"""Any module through the kinds (issue 36): a net a user's factory builds, 'package.module:function', studied as a VGG
is (static, train, erf, claim), resumed, refused once its source changed, and refused in one line where it cannot be
built; VGGs' fingerprints stay as they were. Its theoretical field, followed along its traced graph, against VGG's walk
and fields computed by hand (a small CNN, ResNet-18)."""

import json
import re
import sys

import pytest
import torch
import torchvision
from torch import nn

import vggbench
from vggbench.api import load_run
from vggbench.cli import main
from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.contract import Trial
from vggbench.measure import erf as effective
from vggbench.measure._receptive_field import Geometry, walk
from vggbench.measure.checkpoints import load_checkpoint
from vggbench.measure.feature_map import feature_graph, field
from vggbench.models.arch import ModelSpec, spec_to_dict
from vggbench.models.factory import build_model
from vggbench.models.schema import identity
from vggbench.reporting.finish import write_reports
from vggbench.util.validate import InputError

# Two blocks of two 3x3 convs, global average pooling: `single` puts one 5x5 in place of each pair.
SOURCE = """
from torch import nn


def build(input_shape, num_classes):
    channels = input_shape[0]
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes),
    )


def one_conv(input_shape, num_classes):
    return nn.Sequential(nn.Conv2d(input_shape[0], 4, 3, padding=1), nn.Flatten(), nn.LazyLinear(num_classes))


def upsampled(input_shape, num_classes):
    channels = input_shape[0]
    return nn.Sequential(
        nn.Conv2d(channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
        nn.Upsample(scale_factor=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes),
    )


def broken(input_shape, num_classes):
    raise RuntimeError("no GPU here")


def no_module(input_shape, num_classes):
    return 42
"""
STUDY = {
    "factory": "user_nets:build",
    "variants": ["stack", "single"],
    "resolutions": [16],
    "seeds": [0, 1],
    "epochs": 2,
    "batch_size": 32,
    "lr": 0.01,
    "train_limit": 256,
    "validation_images": 100,
    "failure_loss_ratio": 1.1,
    "kinds": ["static", "train"],
    "device": "cpu",
    "threads": 1,
}


@pytest.fixture
def user_nets(tmp_path, monkeypatch):
    """The factory's module, written into tmp_path and importable as user_nets; returns its path."""
    folder = tmp_path / "code"
    folder.mkdir()
    path = folder / "user_nets.py"
    path.write_text(SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, "user_nets", raising=False)
    return path


def _trial_files(root) -> dict:
    return {path.relative_to(root): path.read_bytes() for path in sorted((root / "trials").rglob("*.json"))}


def test_a_factory_study_runs_static_train_and_claim_and_resumes_with_its_trial_files_unchanged(
    user_nets, tmp_path, synthetic_root
):
    progress: list[str] = []
    root = tmp_path / "run"
    study.run(load_config(**STUDY), root, data_root=str(synthetic_root), report=progress.append)
    assert any("single at 16 px" in line for line in progress)  # the twins' chain table
    assert any("one seed at a time" in line for line in progress)
    run = load_run(root)
    static = run.static.set_index("variant")
    assert static.loc["stack", "params"] == 8 * 9 + 8 + 8 * 8 * 9 + 8 + 8 * 16 * 9 + 16 + 16 * 16 * 9 + 16 + 170
    assert static.loc["single", "params"] < static.loc["stack", "params"]
    assert (static["rf_px"] == 16).all()  # both variants' fields: see test_the_field_of_a_small_cnn_...
    assert set(run.train["arch"]) == {"user_nets:build"} and set(run.train["seed_batch"]) == {1}
    assert run.train[["convs_per_block", "widths", "kernel", "head"]].isna().all().all()
    assert run.blocks.empty and run.layers.groupby("variant").size().to_dict() == {"stack": 13, "single": 9}
    metadata = json.loads((root / "metadata.json").read_text())
    assert metadata["factory"]["target"] == "user_nets:build" and len(metadata["factory"]["source_sha256"]) == 64
    write_reports(root)
    claim = load_run(root).claim
    parts = set(claim.loc[claim["baseline"] == "single", "claim"])
    assert {"fewer parameters", "fewer MACs", "higher accuracy"} <= parts
    (field,) = claim.loc[claim["claim"] == "same receptive field"].to_dict("records")
    assert field["baseline_value"] == field["variant_value"] == 16 and field["note"].startswith("equal by construction")

    before = _trial_files(root)
    again: list[str] = []
    study.run(load_config(**STUDY), root, data_root=str(synthetic_root), report=again.append)
    assert "6 trials, 6 already done, 0 to run" in again
    assert _trial_files(root) == before


def test_a_run_whose_factory_source_changed_is_refused_in_one_line_and_force_redoes_it(
    user_nets, tmp_path, synthetic_root
):
    config = {**STUDY, "kinds": ["static"]}
    root = tmp_path / "run"
    study.run(load_config(**config), root, report=lambda line: None)
    user_nets.write_text(SOURCE.replace("Conv2d(16, 16, 3, padding=1)", "Conv2d(16, 16, 3, padding=1, bias=False)"))
    with pytest.raises(InputError, match="factory user_nets:build whose source changed since") as refused:
        study.run(load_config(**config), root, report=lambda line: None)
    assert "\n" not in str(refused.value) and "--force" in str(refused.value)
    progress: list[str] = []
    study.run(load_config(**config), root, force=True, report=progress.append)
    assert any("2 made under another config" in line for line in progress)
    # Measured from the source as it is now (imported again in this process): 16 biases fewer in the stack.
    params = load_run(root).static.set_index("variant")["params"]
    assert params["stack"] == 8 * 9 + 8 + 8 * 8 * 9 + 8 + 16 * 8 * 9 + 16 + 16 * 16 * 9 + 16 * 10 + 10


def test_a_checkpoint_of_a_factory_model_reloads_through_the_factory_and_is_refused_once_its_source_changed(
    user_nets, tmp_path, synthetic_root
):
    root = tmp_path / "run"
    config = {**STUDY, "kinds": ["train"], "seeds": [0], "variants": ["single"], "epochs": 1}
    study.run(load_config(**config), root, data_root=str(synthetic_root), report=lambda line: None)
    (checkpoint,) = (root / "checkpoints").iterdir()
    model, spec = load_checkpoint(checkpoint)
    assert spec == load_config(**config).models()[0]
    assert model(torch.zeros(2, 1, 16, 16)).shape == (2, 10)
    user_nets.write_text(SOURCE + "\n# edited\n")
    with pytest.raises(InputError, match="factory user_nets:build's source changed"):
        load_checkpoint(checkpoint)


@pytest.mark.parametrize(
    ("factory", "says"),
    [
        ("user_nets", "it is not written as package.module:function"),
        ("no_such_module_here:build", "module no_such_module_here cannot be imported: ModuleNotFoundError"),
        ("user_nets:missing", "module user_nets has no function missing"),
        ("user_nets:broken", "calling it with (1, 16, 16), 10 raises RuntimeError: no GPU here"),
        ("user_nets:no_module", "calling it with (1, 16, 16), 10 returns int"),
    ],
)
def test_a_factory_that_cannot_be_used_is_refused_in_one_line(user_nets, factory, says):
    with pytest.raises(InputError) as refused:
        load_config(**{**STUDY, "factory": factory})
    message = str(refused.value)
    assert says in message and f"factory={factory!r}" in message and "\n" not in message


def test_vgg_keys_and_a_variant_that_changes_nothing_are_refused_with_a_factory(user_nets):
    with pytest.raises(InputError, match="archs, head, ratios cannot be given with factory='user_nets:build'"):
        load_config(**{**STUDY, "archs": ["vgg11"], "head": "gap", "ratios": [2]})
    with pytest.raises(InputError, match="batch_norm cannot be given"):
        load_config(**{**STUDY, "batch_norm": [True]})
    with pytest.raises(InputError, match="single changes nothing in user_nets:one_conv at 16 px: one conv"):
        load_config(**{**STUDY, "factory": "user_nets:one_conv"})


def test_the_current_directory_is_searched_first_as_python_m_does(monkeypatch):
    monkeypatch.chdir(__file__.rsplit("/tests/", 1)[0])
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", ".")])
    (stack, single) = load_config(**{**STUDY, "factory": "examples.small_cnn:build"}).models()
    assert identity(stack)["arch"] == "examples.small_cnn:build" and single.variant == "single"


def test_a_vgg_spec_dict_and_trial_fingerprint_are_unchanged_and_a_factory_fingerprint_names_its_source(user_nets):
    vgg = ModelSpec("vgg11", ratio=8, resolution=32)
    assert spec_to_dict(vgg) == {
        "arch": "vgg11",
        "convs_per_block": [1, 1, 2, 2, 2],
        "widths": [64, 128, 256, 512, 512],
        "kernel": 3,
        "fc_hidden": 4096,
        "variant": "stack",
        "ratio": 8,
        "in_channels": 1,
        "num_classes": 10,
        "resolution": 32,
        "batch_norm": False,
    }
    assert Trial("static", vgg, "vgg11-stack-r8-px32").fingerprint == "f91459dfa411792c"  # as before factories
    (spec, _) = load_config(**STUDY).models()
    described = spec_to_dict(spec)
    assert described["arch"] == "user_nets:build" and described["source_sha256"] == spec.arch.source_sha256
    before = Trial("static", spec, "k").fingerprint
    user_nets.write_text(SOURCE + "\n# edited\n")
    (edited, _) = load_config(**STUDY).models()
    assert Trial("static", edited, "k").fingerprint != before


def test_a_factory_is_timed_alone_and_paired_and_is_estimated_by_the_dry_run(user_nets, tmp_path):
    timing = {"speed_modes": ["infer"], "speed_batch_size": 2, "speed_min_time_s": 0.0, "speed_max_time_s": 0.0}
    config = {**STUDY, **timing, "kinds": ["speed", "pairs"], "pairs": 4, "rebuilds": 2}
    study.run(load_config(**config), tmp_path / "run", report=lambda line: None)
    run = load_run(tmp_path / "run")
    assert set(run.speed["variant"]) == {"stack", "single"} and (run.speed["img_per_s"] > 0).all()
    (pair,) = run.pairs.to_dict("records")
    assert pair["arch"] == "user_nets:build" and pair["variant"] == "single" and pair["time_ratio_median"] > 0
    planned = study.dry_run(load_config(**{**config, "kinds": ["static", "train", "speed"]}))
    assert (
        planned.table["estimate_s"].notna().all() and "train user_nets.build-stack-r1-px16-seed0" in planned.lines()[2]
    )


# The effective field of a factory's net: its feature map's units placed by the theoretical field, as a VGG's are.
ERF_STUDY = {**STUDY, "kinds": ["static", "train", "erf"], "epochs": 1}
ERF_STUDY |= {"erf_images": 16, "erf_untrained_models": 2, "erf_resamples": 20}


def test_a_factory_study_measures_the_effective_field_untrained_and_trained_in_a_vgg_s_columns(
    user_nets, tmp_path, synthetic_root
):
    root = tmp_path / "run"
    study.run(load_config(**ERF_STUDY), root, data_root=str(synthetic_root), report=lambda line: None)
    write_reports(root)
    run = load_run(root)
    erf = run.erf
    assert sorted(zip(erf["variant"], erf["trained"], strict=True)) == [
        ("single", False),
        ("single", True),
        ("stack", False),
        ("stack", True),
    ]
    # A 16 px field, units 4 px apart from 1.5: the central unit of a 20 px image's 5 x 5 map sees 9.5 +- 7.5, the
    # first side, a multiple of 4, at which that lies inside the image.
    assert (erf["erf_resolution"] == 20).all() and (erf["rf_px"] == 16).all() and (erf["centre_px"] == 9.5).all()
    assert (erf["erf_share_t50_models"] == 2).all() and erf["erf_share_t50"].between(0, 1).all()
    assert len(list((root / "erf_maps").glob("*.npy"))) == 4
    vgg = ModelSpec("vgg11", ratio=64, resolution=32)
    images = torch.rand(4, 1, 32, 32)
    (vgg_row, _) = effective.measure_untrained(vgg, images, (0, 1), resamples=5)
    assert set(vgg_row) <= set(erf.columns)  # the same figures, where a VGG's own columns stay empty
    claim = load_run(root).claim
    compared = claim.loc[(claim["claim"] == "same effective receptive field") & (claim["baseline"] == "single")]
    assert set(compared["mode"]) == {"trained", "untrained"}


def test_erf_and_the_static_field_say_which_node_of_a_factory_s_net_they_cannot_follow(user_nets, tmp_path):
    config = {**STUDY, "factory": "user_nets:upsampled"}
    with pytest.raises(InputError, match="erf cannot measure user_nets:upsampled stack") as refused:
        load_config(**{**config, "kinds": ["erf"]})
    assert "node _4 (Upsample) cannot be followed" in str(refused.value) and "\n" not in str(refused.value)
    assert "erf" not in load_config(**{**config, "kinds": None}).kinds  # left out where no kinds are named
    assert "erf" in load_config(**{**STUDY, "kinds": None}).kinds
    study.run(load_config(**{**config, "kinds": ["static"]}), tmp_path / "run", report=lambda line: None)
    write_reports(tmp_path / "run")
    run = load_run(tmp_path / "run")
    assert run.static["rf_px"].isna().all()
    assert run.static["rf_note"].str.startswith("not computed: node _4 (Upsample) cannot be followed").all()
    assert "same receptive field" not in set(run.claim["claim"])


def _vgg_field(spec):
    model, side = vggbench.build_spec(spec), spec.resolution
    return list(walk(model, side).values())[-1][1], feature_graph(model, (1, side, side))


@pytest.mark.parametrize("variant", ["stack", "single"])
def test_the_field_of_a_traced_vgg_is_the_one_its_walk_gives(variant):
    walked, features = _vgg_field(ModelSpec("vgg11", variant=variant, ratio=8, resolution=32))
    assert field(features, 32) == walked  # its last pool leaves 1 x 1: the walk's last layer
    assert field(features, 64) == _vgg_field(ModelSpec("vgg11", variant=variant, ratio=8, resolution=64))[0]


def test_the_field_of_a_small_cnn_is_computed_by_hand_and_its_cut_graph_is_the_net_before_global_pooling(user_nets):
    import user_nets as nets

    net = nets.build((1, 16, 16), 10).eval()
    features = feature_graph(net, (1, 16, 16))
    # Two 3x3 convs: 3, 5 px; 2x2 pool: 6 px, units 2 px apart; two 3x3 convs: 6 + 2 x 2 + 2 x 2 = 14 px; 2x2 pool:
    # 14 + 1 x 2 = 16 px, units 4 px apart. The first unit's centre: 0, 0 + 0.5 (first pool), 0.5 + 0.5 x 2 = 1.5.
    assert field(features, 16) == Geometry(out_px=4, rf_px=16, jump_px=4, start_px=1.5)
    image = torch.rand(2, 1, 16, 16)
    assert torch.equal(features(image), net[:10](image))
    # Its single twin: 5x5 (5 px), pool (6 px), 5x5 (6 + 4 x 2 = 14 px), pool (16 px).
    twin = build_model(load_config(**STUDY).models()[1])
    assert field(feature_graph(twin, (1, 16, 16)), 16).rf_px == 16


def test_a_factory_s_layer_table_counts_each_layer_and_follows_the_field_up_to_the_head(user_nets):
    from vggbench.measure.static import layer_table, model_table

    stack = load_config(**STUDY).models()[0]
    layers = layer_table([stack])
    assert layers["block"].isna().all()  # vggbench knows no blocks in another's net
    assert list(layers["layer_type"]) == [*["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"] * 2, "AdaptiveAvgPool2d",
                                          "Flatten", "Linear"]  # fmt: skip
    convs = layers[layers["layer_type"] == "Conv2d"]
    # By hand at 16 px: 3x3 convs padded 1 keep the side; the fields as in the test of the small CNN's field.
    channels = [(1, 8), (8, 8), (8, 16), (16, 16)]
    sides = [16, 16, 8, 8]
    assert list(zip(convs["layer_in_channels"], convs["layer_out_channels"], strict=True)) == channels
    assert list(convs["out_px"]) == sides and list(convs["rf_px"]) == [3, 5, 10, 14]
    assert list(convs["jump_px"]) == [1, 1, 2, 2]
    assert list(convs["params"]) == [9 * cin * cout + cout for cin, cout in channels]
    assert list(convs["macs"]) == [side**2 * 9 * cin * cout for (cin, cout), side in zip(channels, sides, strict=True)]
    # A 3x3 padded by 1 on an n px map: (3n - 2) of each row's and column's 3n taps fall on real pixels.
    shares = [1 - ((3 * side - 2) / (3 * side)) ** 2 for side in sides]
    assert convs["padding_tap_share"].tolist() == pytest.approx(shares)
    head = layers.iloc[-3:]  # global pooling, flatten, linear: past the feature map, no unit has a place
    assert head[["kernel_px", "out_px", "rf_px"]].isna().all().all() and head["params"].iloc[-1] == 16 * 10 + 10
    assert layers["macs"].sum() == model_table([stack])["macs"].iloc[0]  # every counted layer has its row
    # The single twin: each pair of 3x3 convs is one 5x5 (its module named as the rewrite names it).
    single = layer_table([load_config(**STUDY).models()[1]])
    fives = single[single["layer_type"] == "Conv2d"]
    assert list(fives["kernel_px"]) == [5, 5] and list(fives["rf_px"]) == [5, 14]


def test_static_prints_a_factory_s_layers_and_says_why_it_has_no_blocks(user_nets, capsys):
    assert main(["static", "--factory", "user_nets:build", "--resolution", "16", "--blocks", "--layers"]) == 0
    out = capsys.readouterr().out
    assert "(no rows: vggbench knows no blocks in a factory's net; --layers lists its layers)" in out
    layers = out.split("Per-layer")[1]
    assert "AdaptiveAvgPool2d" in layers and "Linear" in layers


def test_the_field_of_resnet_18_is_computed_by_hand_through_its_residual_joins():
    net = torchvision.models.resnet18(num_classes=10)
    stem_and_stage_1 = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool, net.layer1)
    # 7x7 stride 2 (7 px, units 2 apart); 3x3 max-pool stride 2 (7 + 2 x 2 = 11 px, 4 apart); layer1's four 3x3 convs
    # (11 + 4 x 2 x 4 = 43 px), each block's add joining its input's smaller field, centred alike (start 0).
    assert field(feature_graph(stem_and_stage_1, (3, 64, 64)), 64) == Geometry(16, 43, 4, 0.0)
    # Each later stage: a 3x3 stride-2 conv (+2 x jump) and three 3x3 convs at twice the jump (+3 x 2 x 2 jump); its
    # 1x1 stride-2 shortcut keeps the smaller field: 43 + 8 + 48 = 99, 99 + 16 + 96 = 211, 211 + 32 + 192 = 435.
    assert field(feature_graph(net, (3, 64, 64)), 64) == Geometry(2, 435, 32, 0.0)  # before its global pooling


class _Strides(nn.Module):
    """Two branches of one 16 px map, both 16 px: one a stride-1 conv, one a stride-2 conv padded back to 16 px."""

    def __init__(self) -> None:
        super().__init__()
        self.near, self.far = nn.Conv2d(1, 4, 1), nn.Conv2d(1, 4, 1, stride=2, padding=8)

    def forward(self, image):
        return self.near(image) + self.far(image)


def test_a_join_of_maps_whose_units_lie_apart_differently_is_not_followed():
    with pytest.raises(ValueError, match=r"node add \(add\) cannot be followed: it joins maps of sides \[16\] px "):
        field(feature_graph(_Strides(), (1, 16, 16)), 16)


@pytest.mark.parametrize(
    ("norm", "followed"),
    [
        (nn.LocalResponseNorm(2), True),  # mixes channels at each pixel
        (nn.GroupNorm(2, 4), False),  # its statistics span the map
        (nn.InstanceNorm2d(4), False),
        (nn.LayerNorm([4, 8, 8]), False),
    ],
)
def test_a_norm_is_followed_where_it_acts_on_each_pixel_and_named_where_its_statistics_span_the_map(norm, followed):
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), norm, nn.Conv2d(4, 4, 3, padding=1), nn.Flatten())
    features = feature_graph(net, (1, 8, 8))
    if followed:
        assert field(features, 8).rf_px == 5  # two 3x3 convs, as without the norm
        return
    with pytest.raises(ValueError, match=rf"{type(norm).__name__} normalises with statistics over the whole map"):
        field(features, 8)


def test_the_python_api_takes_a_factory_by_name_in_a_model_spec(user_nets):
    import vggbench

    spec = ModelSpec("user_nets:build", "single", resolution=16)
    assert spec == load_config(**STUDY).models()[1]  # the model the config names
    data = vggbench.synthetic_data(train_images=300, test_images=100)
    trained = vggbench.train(spec, seeds=(0,), data=data, epochs=1, validation_images=100, batch_size=32, threads=1)
    assert list(trained.table["arch"]) == ["user_nets:build"] and len(trained.models) == 1
    with pytest.raises(InputError, match=re.escape("factory's 'package.module:function'")):
        ModelSpec("user_nets")


def test_the_python_api_takes_a_module_object_or_a_function_and_trains_each_seed_from_its_own_draw(user_nets):
    import user_nets as written

    data = vggbench.synthetic_data(train_images=300, test_images=100)
    module = written.build((1, 16, 16), 10)
    before = {name: tensor.clone() for name, tensor in module.state_dict().items()}
    settings = {"seeds": (0, 1), "data": data, "epochs": 1, "validation_images": 100, "batch_size": 32, "threads": 1}
    trained = {
        given: vggbench.train(ModelSpec(arch, "single", resolution=16), **settings)
        for given, arch in (("name", "user_nets:build"), ("function", written.build), ("module", module))
    }
    # Two seeds in one call: a factory's model trains one seed at a time (no SeedGroup for it), as in a run.
    assert [len(result.models) for result in trained.values()] == [2, 2, 2]
    # A module is copied per seed and its layers reset after the seed is set: torch draws the weights in the order
    # the layers were made, so each seed starts where the factory called after that seed starts.
    columns = ["seed", "epoch", "train_loss", "val_acc", "test_acc"]
    for given in ("function", "module"):
        assert trained[given].table[columns].equals(trained["name"].table[columns])
    first, second = (next(model.parameters()) for model in trained["module"].models)
    assert not torch.equal(first, second)  # the seeds' own draws
    assert set(trained["module"].table["arch"]) == {"torch.nn.modules.container.Sequential object"}
    assert all(torch.equal(before[name], tensor) for name, tensor in module.state_dict().items())  # left as it was
    # The trained models' effective field, as erf measures a VGG's: the same numbers from either spec.
    rows = [
        vggbench.erf(ModelSpec(arch, "single", resolution=16), trained[given].models, images=8, resamples=20, data=data)
        for given, arch in (("name", "user_nets:build"), ("module", module))
    ]
    assert rows[0][0]["erf_share_t50"] == rows[1][0]["erf_share_t50"]
    with pytest.raises(InputError, match=r"give user_nets:build's trained models"):
        vggbench.erf(ModelSpec("user_nets:build", resolution=16), [42], data=data)


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.scale = nn.Parameter(torch.ones(1))  # no layer of its own draws it again

    def forward(self, images):
        return (self.conv(images) * self.scale).mean(dim=(2, 3))


def test_a_module_object_whose_parameter_no_layer_resets_is_refused_and_a_bare_module_is_pointed_to_model_spec():
    data = vggbench.synthetic_data(train_images=300, test_images=100)
    with pytest.raises(InputError, match=r"_Scaled's parameter scale cannot be drawn again for each seed"):
        vggbench.train(ModelSpec(_Scaled(), resolution=16), data=data, epochs=1, validation_images=100)
    with pytest.raises(InputError, match=re.escape("for a module or function: ModelSpec(it, resolution=28)")):
        vggbench.train(_Scaled(), data=data)
    with pytest.raises(InputError, match="cannot be saved or fingerprinted: give its factory by name"):
        spec_to_dict(ModelSpec(_Scaled(), resolution=16))

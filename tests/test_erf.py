"""Effective receptive field: known kernels, the square search, and the command line."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import vggbench
from vggbench.cli import main
from vggbench.measure import checkpoints, erf


def _ones(*kernels: int) -> nn.Sequential:
    """Convs of ones with 'same' padding: linear, every input pixel in the field contributes."""
    layers = []
    for kernel in kernels:
        conv = nn.Conv2d(1, 1, kernel, padding=kernel // 2, bias=False)
        nn.init.ones_(conv.weight)
        layers.append(conv)
    return nn.Sequential(*layers)


@pytest.mark.parametrize("kernel", [1, 3, 5, 7])
def test_a_kernel_of_ones_gives_a_flat_square(kernel):
    features = _ones(kernel)
    contribution = erf.contribution_map(features, torch.rand(3, 1, 15, 15) + 0.1)
    assert erf.central_unit_centre(features, 15) == 7
    inside = contribution[7 - kernel // 2 : 8 + kernel // 2, 7 - kernel // 2 : 8 + kernel // 2]
    assert np.allclose(inside, 1.0) and contribution.sum() == pytest.approx(kernel * kernel)
    squares = erf.smallest_squares(contribution, 7)
    assert squares[0.99] == (kernel, kernel * kernel)


def test_two_stacked_3x3_concentrate_more_than_one_5x5():
    images = torch.rand(2, 1, 15, 15) + 0.1
    stacked = erf.smallest_squares(erf.contribution_map(_ones(3, 3), images), 7)
    single = erf.smallest_squares(erf.contribution_map(_ones(5), images), 7)
    assert stacked[0.99][0] == single[0.99][0] == 5  # the same theoretical field
    assert stacked[0.5][0] == 3 and single[0.5][0] == 5  # 49/81 of the stack's weight is in the central 3x3


def test_square_search_on_hand_made_maps():
    point = np.zeros((9, 9))
    point[4, 4] = 1.0
    assert {t: side for t, (side, _) in erf.smallest_squares(point, 4).items()} == dict.fromkeys(erf.THRESHOLDS, 1)
    uniform = np.ones((10, 10))
    squares = erf.smallest_squares(uniform, 4.5)  # a pixel corner: even sides
    assert squares[0.2] == (6, 36) and squares[0.5] == (8, 64) and squares[0.99] == (10, 100)
    corner = np.ones((8, 8))  # centred at the edge: squares are clipped, at most covering the image
    side, area = erf.smallest_squares(corner, 0)[0.99]
    assert side == erf.covering_side(0, 8) == 15 and area == 64
    with pytest.raises(ValueError, match="zero everywhere"):
        erf.smallest_squares(np.zeros((5, 5)), 2)


@pytest.mark.slow
def test_cli_untrained_and_checkpoint(tmp_path, synthetic_root, capsys):
    spec = vggbench.ModelSpec("vgg11", "single", ratio=16, resolution=32)
    torch.manual_seed(0)  # a fixed initialisation whose ReLUs let some gradient through
    checkpoint, dead = tmp_path / "model.pt", tmp_path / "dead.pt"
    model = vggbench.build_spec(spec)
    checkpoints.save_checkpoint(checkpoint, model, spec)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    checkpoints.save_checkpoint(dead, model, spec)
    out, maps = tmp_path / "erf.csv", tmp_path / "maps"
    argv = [
        "erf",
        "--arch",
        "vgg11",
        "--variant",
        "stack",
        "single",
        "--ratio",
        "64",
        "--resolution",
        "32",
        "--images",
        "4",
        "--init-seeds",
        "0",
        "1",
        "--untrained-models",
        "3",
        "--data-root",
        str(synthetic_root),
        "--out",
        str(out),
        "--save-maps",
        str(maps),
    ]
    assert main(argv) == 0
    table = pd.read_csv(out)
    columns = [
        "arch",
        "variant",
        "ratio",
        "resolution",
        "trained",
        "images",
        *(f"erf_side_t{t}" for t in (20, 30, 50, 99)),
        *(f"erf_area_ratio_t{t}" for t in (20, 30, 50, 99)),
        "rf_px",
    ]
    assert set(columns) <= set(table.columns) and list(table["models"]) == [3, 3]
    assert (table["erf_side_t20"] <= table["erf_side_t99"]).all() and (table["erf_area_ratio_t99"] <= 1).all()
    assert len(list(maps.glob("*-untrained.npy"))) == 2
    assert main(["erf", "--checkpoint", str(checkpoint), "--images", "2", "--data-root", str(synthetic_root)]) == 0
    assert "single" in capsys.readouterr().out
    assert main(["erf", "--checkpoint", str(dead), "--images", "2", "--data-root", str(synthetic_root)]) == 2
    assert "the contribution map is zero everywhere" in capsys.readouterr().err
    assert main(["erf", "--images", "0", "--data-root", str(synthetic_root)]) == 2


ONE_BLOCK = vggbench.ModelSpec(vggbench.custom(convs_per_block=[1], widths=[2], fc_hidden=4), resolution=10)


def test_a_uniform_map_gives_the_uniform_baseline_and_no_spread():
    maps = np.ones((2, 3, 10, 10))  # two models, three images, every pixel alike
    row = erf.erf_row(ONE_BLOCK, maps, vggbench.build_spec(ONE_BLOCK), trained=False, resamples=20)
    for t in (20, 30, 50, 99):
        assert row[f"erf_side_t{t}"] == row[f"uniform_side_t{t}"]
        assert row[f"erf_side_t{t}_low"] == row[f"erf_side_t{t}"] == row[f"erf_side_t{t}_high"]
        assert row[f"erf_area_ratio_t{t}_se"] == pytest.approx(0, abs=1e-12)
    # A uniform 10 x 10 map around a pixel corner: 36 of 100 pixels hold 20%, 64 hold 50%.
    assert (row["uniform_side_t20"], row["uniform_side_t50"], row["uniform_area_ratio_t50"]) == (6, 8, 0.64)
    assert (row["images"], row["models"], row["erf_resolution"]) == (3, 2, 10)


def test_a_known_map_gives_replknets_area_ratios():
    # The central 2x2 pixels drive 99 each, the twelve around them 9 each. RepLKNet's log10(1 + x) makes
    # them 2 and 1, divided by the maximum 1 and 0.5: the centre holds 4/10 of the total, the 4x4 square
    # all of it. On the raw map the centre holds 396/504 > 50%.
    contribution = np.zeros((10, 10))
    contribution[3:7, 3:7] = 9.0
    contribution[4:6, 4:6] = 99.0
    assert np.allclose(erf.replknet_map(contribution)[3:7, 3:7].sum(), 4 * 1.0 + 12 * 0.5)
    model = vggbench.build_spec(ONE_BLOCK)
    assert erf.central_unit_centre(model, 10) == 4.5
    row = erf.erf_row(ONE_BLOCK, contribution[None, None], model, trained=True, resamples=5)
    assert [row[f"replknet_side_t{t}"] for t in (20, 30, 50, 99)] == [2, 2, 4, 4]
    assert row["replknet_area_ratio_t50"] == pytest.approx(16 / 100)
    assert [row[f"erf_side_t{t}"] for t in (20, 30, 50, 99)] == [2, 2, 2, 4]
    assert row["erf_area_ratio_t50"] == pytest.approx(4 / 100)


@pytest.mark.parametrize("arch", ["vgg11", "vgg16"])
def test_the_fitting_resolution_holds_the_whole_theoretical_field(arch):
    from test_receptive_field import _gradient_support

    spec = vggbench.ModelSpec(arch, ratio=64, resolution=32)
    side = erf.fitting_resolution(spec)
    rf_px = vggbench.model_table([spec]).loc[0, "rf_px"]
    assert side % 32 == 0 and side >= rf_px
    model = vggbench.build(arch, ratio=64, resolution=side)
    assert _gradient_support(model, side)[0] == rf_px  # nothing of the field is cut off
    smaller = vggbench.build(arch, ratio=64, resolution=side - 32)
    assert _gradient_support(smaller, side - 32)[0] < rf_px  # one step smaller, the image cuts it


def test_the_interpolated_share_by_hand():
    # A uniform map holds area / 100 in any square: half of it lies in 50 of 100 pixels, between the 6x6 and
    # 8x8 squares the integer sides jump across.
    assert erf.interpolated_share(np.ones((1, 10, 10)), 4.5) == pytest.approx([0.5])
    # 99 in each central pixel, 9 in the twelve around: half of the 504 is 252, which takes 252 / 99 pixels
    # at the centre's density, inside the 2x2 square that holds 396.
    contribution = np.zeros((10, 10))
    contribution[3:7, 3:7] = 9.0
    contribution[4:6, 4:6] = 99.0
    assert erf.interpolated_share(contribution[None], 4.5) == pytest.approx([252 / 99 / 100])
    # The same map: 30% (151.2) in 151.2 / 99 px; 90% (453.6) is 57.6 beyond the centre's 396, at 9 a pixel.
    assert erf.interpolated_share(contribution[None], 4.5, 0.9) == pytest.approx([(4 + 57.6 / 9) / 100])


def _flat_squares(sides, images=3, size=10):
    """Per model, `images` maps flat on a centred square of that side (a pixel corner at 4.5), scaled at random
    per image: each model's mean map is flat there, so half of it lies in half the square."""
    rng = np.random.default_rng(0)
    maps = np.zeros((len(sides), images, size, size))
    for model, side in enumerate(sides):
        low = 5 - side // 2
        maps[model, :, low : low + side, low : low + side] = rng.uniform(0.5, 2, images)[:, None, None]
    return maps


def test_the_interval_is_a_t_interval_over_models():
    from scipy import stats

    sides = [2, 4, 6, 6, 8]
    row = erf.erf_row(ONE_BLOCK, _flat_squares(sides), vggbench.build_spec(ONE_BLOCK), trained=True, resamples=5)
    shares = np.array(sides) ** 2 / 2 / 100
    low, high = stats.t.interval(0.95, len(shares) - 1, loc=shares.mean(), scale=stats.sem(shares))
    assert row["erf_share_t50"] == pytest.approx(shares.mean()) and row["erf_share_t50_models"] == 5
    assert (row["erf_share_t50_low"], row["erf_share_t50_high"]) == pytest.approx((low, high))
    assert [float(value) for value in row["erf_share_t50_per_model"].split(";")] == pytest.approx(shares)
    one = erf.erf_row(ONE_BLOCK, _flat_squares([4]), vggbench.build_spec(ONE_BLOCK), trained=True, resamples=5)
    assert one["erf_share_t50"] == pytest.approx(0.08) and np.isnan(one["erf_share_t50_high"])


def test_the_option_measures_each_model_at_its_training_side_beside_the_fitting_one():
    from vggbench.engine import study
    from vggbench.engine.config import StudyConfig

    config = {"kinds": ("erf",), "archs": ("vgg11",), "variants": ("stack",), "ratios": (64,), "resolutions": (32,)}
    (fitting,) = study.trials(StudyConfig(config))
    both = study.trials(StudyConfig({**config, "erf_at_training_resolution": True}))
    assert fitting.setup.resolution == 160
    assert sorted(trial.setup.resolution for trial in both) == [32, 160] and len({t.key for t in both}) == 2


def test_the_untrained_field_takes_at_least_five_initialisations_the_trained_seeds_first():
    from vggbench.engine import study
    from vggbench.engine.config import StudyConfig

    config = {
        "kinds": ("erf", "train"),
        "archs": ("vgg11",),
        "variants": ("stack",),
        "ratios": (64,),
        "resolutions": (32,),
    }
    trials = {t.key: t for t in study.trials(StudyConfig({**config, "seeds": (7, 2)})) if t.kind == "erf"}
    assert trials["vgg11-stack-r64-px32-untrained"].setup.seeds == (7, 2, 0, 1, 3)
    assert trials["vgg11-stack-r64-px32-trained"].setup.seeds == (7, 2)  # the trained models are the seeds'
    many = study.trials(StudyConfig({**config, "kinds": ("erf",), "seeds": tuple(range(8))}))
    assert many[0].setup.seeds == tuple(range(8))  # never fewer than the seeds every model trains
    two = study.trials(StudyConfig({**config, "kinds": ("erf",), "seeds": (5,), "erf_untrained_models": 2}))
    assert two[0].setup.seeds == (5, 0)


def test_untrained_models_with_and_without_batch_norm_have_the_same_field():
    # What measuring them once rests on: from one seed, the same conv weights; with eps = 0 batch norm at
    # initialisation is the identity (in eval mode), so the maps are equal.
    models = []
    for batch_norm in (False, True):
        torch.manual_seed(3)
        models.append(vggbench.build("vgg11", "stack", ratio=8, resolution=32, batch_norm=batch_norm))
    convs = [[layer for layer in model.modules() if isinstance(layer, nn.Conv2d)] for model in models]
    assert all(torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias) for a, b in zip(*convs, strict=True))
    for layer in models[1].modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.eps = 0.0
    images = torch.rand(2, 1, 160, 160)  # the side at which vgg11's field fits
    plain, normed = (erf.contribution_map(model.features, images) for model in models)
    assert plain.sum() > 0 and np.array_equal(plain, normed)


def test_two_conditions_sharing_untrained_models_give_one_effective_field_row():
    from types import SimpleNamespace

    from vggbench.engine import study
    from vggbench.engine.config import StudyConfig
    from vggbench.engine.registry import KINDS

    config = {
        "kinds": ("erf", "train"),
        "archs": ("vgg11",),
        "variants": ("stack",),
        "ratios": (8,),
        "resolutions": (32,),
        "batch_norm": (False, True),
        "seeds": (0,),
        "erf_images": 2,
        "erf_untrained_models": 2,
        "erf_resamples": 2,
    }
    trials = [trial for trial in study.trials(StudyConfig(config)) if trial.kind == "erf"]
    keys = {"vgg11-stack-r8-px32-untrained", "vgg11-stack-r8-px32-trained", "vgg11-stack-r8-px32-bn-trained"}
    assert {trial.key for trial in trials} == keys and KINDS["erf"].count(StudyConfig(config)) == 3
    (shared,) = (trial for trial in trials if not trial.setup.trained)
    images = torch.randint(0, 256, (2, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    outcome = KINDS["erf"].run(shared, {}, lambda: SimpleNamespace(test_images=images), None)
    (row,) = outcome.rows
    assert row["batch_norm"] is False and row["stands_for"] == "with and without batch norm"
    assert KINDS["erf"].damage(shared, outcome.rows, None) is None  # the row its trial gives
    # A condition alone is measured as itself, and its row stands for nothing else.
    (alone,) = study.trials(StudyConfig({**config, "kinds": ("erf",), "batch_norm": (True,)}))
    assert alone.key == "vgg11-stack-r8-px32-bn-untrained" and "stands_for" not in alone.identity()


def test_the_map_of_a_row_standing_for_both_norms_says_so(tmp_path):
    from vggbench.figures.erf import erf_maps

    np.save(tmp_path / "map.npy", np.ones((8, 8)))
    row = {"arch": "vgg11", "variant": "stack", "ratio": 8, "resolution": 32, "batch_norm": False, "trained": False}
    row.update(erf_resolution=8, centre_px=3.5, erf_side_t50=6, erf_side_t99=8)
    row["stands_for"] = "with and without batch norm"
    figure = erf_maps(pd.DataFrame([row]), tmp_path, ["stack"], lambda model, state: "map.npy")
    assert "stack, untrained, bn or not" in figure.axes[0].get_title()

"""Issue 35's recipe knobs: the validation split held out of every seed's training, the initialisations, SGD as the
VGG paper trained, and configurations recorded before these knobs."""

import json
import math
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import vggbench
from vggbench.engine.config import StudyConfig, load_config, run_config
from vggbench.engine.rundir import RunDir
from vggbench.measure import _train_setup as train_setup
from vggbench.measure import train, validation
from vggbench.measure.data import prepare
from vggbench.measure.setups import TrainConfig
from vggbench.models.vgg import initialize
from vggbench.util.validate import InputError

TOTAL = 60_000
CPU = {"device": "cpu", "threads": 1}
SMALL = vggbench.ModelSpec(vggbench.custom(convs_per_block=[1, 1], widths=[8, 16], fc_hidden=64), resolution=16)
PUBLISHED = Path(__file__).resolve().parent.parent / "results" / "map-cpu-2026-11-30"


def _held_out(count: int) -> set[int]:
    return set(validation.split(TOTAL, count)[0].tolist())


@pytest.mark.parametrize(("per_seed", "limit"), [(False, None), (False, 20_000), (True, 20_000)])
def test_no_seed_trains_on_a_held_out_image(per_seed, limit):
    config = TrainConfig(validation_images=10_000, train_limit=limit, subset_per_seed=per_seed, **CPU)
    held = _held_out(10_000)
    rest = sorted(set(range(TOTAL)) - held)  # the images left, worked out apart from the code
    assert len(held) == 10_000
    subsets = train_setup.subsets(TOTAL, tuple(range(6)), config)
    for subset in subsets:
        chosen = subset.tolist()
        assert len(chosen) == (limit or 50_000) == len(set(chosen)) and held.isdisjoint(chosen)
        if not per_seed:
            assert chosen == rest[: limit or 50_000]  # the first train_limit of the images left
    if per_seed:
        assert len({tuple(subset.tolist()) for subset in subsets}) == 6  # each seed its own draw


def test_the_split_is_the_same_for_every_run_and_a_smaller_one_lies_within():
    assert _held_out(10_000) == _held_out(10_000) and _held_out(2_000) < _held_out(10_000)
    assert validation.record(10_000) == validation.record(10_000)
    assert validation.record(10_000)["held_out_sha256"] != validation.record(2_000)["held_out_sha256"]
    assert not _held_out(0) and validation.split(TOTAL, 0)[1].tolist() == list(range(TOTAL))


def test_train_limit_above_the_images_left_is_refused():
    refused = "train_limit=55000 is not allowed with validation_images=10000: it must be at most 50,000"
    with pytest.raises(InputError, match=refused):
        TrainConfig(train_limit=55_000, **CPU)
    assert TrainConfig(train_limit=50_000, **CPU).training_pool == 50_000
    assert TrainConfig(train_limit=60_000, validation_images=0, **CPU).train_limit == 60_000
    with pytest.raises(InputError, match="validation_images=60000 is not allowed"):
        TrainConfig(validation_images=60_000, **CPU)
    with pytest.raises(InputError, match="validation_images=500 is not allowed with a data set of 96 training"):
        train_setup.subsets(96, (0,), TrainConfig(validation_images=500, **CPU))


def test_each_epoch_reports_accuracy_on_the_held_out_images(dataset):
    config = TrainConfig(epochs=2, batch_size=32, train_limit=256, validation_images=1_000, **CPU)
    rows, model = train.train(SMALL, config, dataset)
    assert [row["epoch"] for row in rows] == [1, 2] and all(row["validation_images"] == 1_000 for row in rows)
    held = validation.split(TOTAL, 1_000)[0]
    model.eval()
    with torch.inference_mode():
        predicted = model(prepare(dataset.train_images[held], SMALL.resolution)).argmax(-1)
    expected = (predicted == dataset.train_labels[held]).float().mean().item()
    assert rows[-1]["val_acc"] == pytest.approx(expected, abs=2e-3)  # batched apart from the trainer's: rare ties
    unsplit = TrainConfig(epochs=1, batch_size=32, train_limit=256, validation_images=0, **CPU)
    without, _ = train.train(SMALL, unsplit, dataset)
    assert math.isnan(without[0]["val_acc"]) and without[0]["validation_images"] == 0


def _layers() -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(64, 128, 3), nn.BatchNorm2d(128), nn.Linear(1024, 512))


def test_kaiming_is_torchvisions_vgg_initialisation():
    torch.manual_seed(0)
    conv, norm, linear = initialize(_layers(), "kaiming")
    # Kaiming-normal over fan-out (out_channels x kernel area) with ReLU's gain; the sample's std is within 1%
    # (its relative standard error is 1 / sqrt(2 x 73,728 weights), 0.26%).
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / (128 * 9)), rel=0.01)
    assert abs(conv.weight.mean().item()) < 3 * math.sqrt(2 / (128 * 9)) / math.sqrt(conv.weight.numel())
    assert linear.weight.std().item() == pytest.approx(0.01, rel=0.01)
    assert not conv.bias.any() and not linear.bias.any()
    assert torch.equal(norm.weight, torch.ones(128)) and not norm.bias.any()


def test_xavier_is_glorot_and_bengios_uniform_initialisation():
    torch.manual_seed(0)
    conv, _, linear = initialize(_layers(), "xavier")
    for layer, fan_in, fan_out in ((conv, 64 * 9, 128 * 9), (linear, 1024, 512)):
        bound = math.sqrt(6 / (fan_in + fan_out))
        weights = layer.weight.abs()
        assert weights.max().item() <= bound and weights.max().item() > 0.99 * bound  # uniform over the bound
        assert layer.weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.01)
        assert not layer.bias.any()


def _same_weights(first: nn.Module, second: nn.Module) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first.parameters(), second.parameters(), strict=True))


def test_the_default_keeps_pytorchs_weights_and_each_seed_its_own():
    torch.manual_seed(0)
    built = _layers()
    torch.manual_seed(0)
    assert _same_weights(built, initialize(_layers(), "default"))
    first, second = (train_setup.initial_models(SMALL, (3, 4), "kaiming") for _ in range(2))
    assert _same_weights(first[0], second[0])  # the seed's
    assert not torch.equal(first[0].fc[-1].weight, first[1].fc[-1].weight)
    default = train_setup.initial_models(SMALL, (3,), "default")[0]
    assert not torch.equal(default.fc[-1].weight, first[0].fc[-1].weight)
    for refused in (lambda: initialize(_layers(), "he"), lambda: TrainConfig(init="he", **CPU)):
        with pytest.raises(InputError, match="init='he' is not allowed: choose one of default, kaiming, xavier"):
            refused()


def test_the_vgg_papers_sgd_is_expressible():
    config = load_config(kinds=["train"], optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=5e-4, **CPU)
    (setup,) = config.setups(TrainConfig, seed=0)
    built = train_setup.optimizer(nn.Linear(2, 2), setup)
    assert isinstance(built, torch.optim.SGD)
    group = built.param_groups[0]
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.01, 0.9, 5e-4, False)


def test_a_config_recorded_before_the_knobs_reads_as_what_it_ran(tmp_path):
    copy = tmp_path / "map"
    copy.mkdir()
    shutil.copy(PUBLISHED / "config.json", copy)
    recorded = json.loads((copy / "config.json").read_text())
    assert "validation_images" not in recorded and "init" not in recorded
    config = run_config(RunDir(copy))
    assert (config["validation_images"], config["init"]) == (0, "default")
    assert {key: config[key] for key in recorded} == recorded
    with pytest.raises(InputError, match=r"another configuration \(differs in validation_images\)"):
        RunDir(copy).adopt(StudyConfig({**config, "validation_images": 10_000}).to_dict(), force=False)
    RunDir(copy).adopt(StudyConfig(config).to_dict(), force=False)  # resumed as it ran
    (tmp_path / "speed").mkdir()
    (tmp_path / "speed" / "config.json").write_text(json.dumps({"kinds": ["static"]}))  # trained nothing
    assert "validation_images" not in RunDir(tmp_path / "speed").stored_config()
    (copy / "config.json").write_text(json.dumps({**recorded, "validation_images": 500, "init": "xavier"}))
    assert (run_config(RunDir(copy))["validation_images"], run_config(RunDir(copy))["init"]) == (500, "xavier")

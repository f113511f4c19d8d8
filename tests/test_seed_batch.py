"""Many seeds at once: a SeedGroup trains K seeds as one network, each exactly as it would train alone."""

import dataclasses

import pytest
import torch

import vggbench
from vggbench.measure import _seedgroup as seedgroup
from vggbench.measure import train
from vggbench.measure._seedgroup import SeedGroup
from vggbench.measure.flops import step_flops
from vggbench.measure.setups import TrainConfig

SMALL = vggbench.ModelSpec(vggbench.custom(convs_per_block=[2, 1], widths=[8, 16], fc_hidden=32), resolution=16)
UNTIMED = ["seed", "epoch", "train_loss", "train_acc", "test_acc", "failed"]


def _config(**options):
    values = {"epochs": 1, "batch_size": 32, "train_limit": 96, "device": "cpu", "threads": 1, **options}
    return TrainConfig(**values)


def _lone(spec, seed):
    torch.manual_seed(seed)
    return vggbench.build_spec(spec)


@pytest.mark.parametrize("variant", vggbench.VARIANTS)
@pytest.mark.parametrize("batch_norm", [False, True])
def test_a_group_holds_each_seeds_initial_weights_and_gives_them_back(batch_norm, variant):
    spec = vggbench.ModelSpec(SMALL.arch, variant, resolution=16, batch_norm=batch_norm)
    seeds = (3, 5, 8)
    group = SeedGroup(spec, [_lone(spec, seed) for seed in seeds])
    for seed, model in zip(seeds, group.models(), strict=True):
        expected = _lone(spec, seed).state_dict()
        assert all(torch.equal(tensor, expected[name]) for name, tensor in model.state_dict().items())
    images = torch.rand(4, 1, 16, 16)
    group.eval()
    together = group(images.repeat(1, len(seeds), 1, 1))  # every seed sees the same images here
    for index, seed in enumerate(seeds):
        alone = _lone(spec, seed).eval()(images)
        assert torch.allclose(together[index], alone, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("variant", "seeds"), [("stack", (0, 1)), ("dilated", (0, 1, 2, 3)), ("depthwise", (0, 1, 2, 3))]
)
def test_seeds_trained_together_follow_their_lone_runs(dataset, variant, seeds):
    # Each seed has its own initial weights, data order and dropout masks, alone or in the group, so the
    # runs differ only by the order in which a grouped conv adds up the same products: single-precision
    # rounding, which training carries forward but does not blow up over a few steps. 1e-4 of the loss
    # is a thousand times that rounding and a hundred times smaller than a step's change of the loss.
    spec, config = dataclasses.replace(SMALL, variant=variant), _config()
    together, models = train.train_seeds(spec, config, seeds, dataset)
    for seed, model in zip(seeds, models, strict=True):
        alone, lone_model = train.train(spec, TrainConfig(**{**_fields(config), "seed": seed}), dataset)
        row = next(row for row in together if row["seed"] == seed)
        assert row["train_loss"] == pytest.approx(alone[0]["train_loss"], rel=1e-4)
        assert row["test_acc"] == pytest.approx(alone[0]["test_acc"], abs=2e-4)  # at most two of 10,000 flip
        for name, tensor in model.state_dict().items():
            assert torch.allclose(tensor, lone_model.state_dict()[name], atol=1e-4), name
    assert {row["seed_batch"] for row in together} == {len(seeds)}


def _fields(config: TrainConfig) -> dict:
    return {field.name: getattr(config, field.name) for field in dataclasses.fields(config)}


@pytest.mark.slow
def test_a_group_is_deterministic_on_the_cpu(dataset):
    first, _ = train.train_seeds(SMALL, _config(), (4, 7), dataset)
    second, _ = train.train_seeds(SMALL, _config(), (4, 7), dataset)
    assert [[row[key] for key in UNTIMED] for row in first] == [[row[key] for key in UNTIMED] for row in second]


@pytest.mark.slow
def test_one_seed_is_the_plain_path(dataset, monkeypatch):
    def no_group(*args):
        raise AssertionError("one seed must not be trained as a group")

    monkeypatch.setattr(train, "SeedGroup", no_group)
    rows, model = train.train(SMALL, _config(seed=2), dataset)
    assert isinstance(model, vggbench.VGG) and rows[0]["seed_batch"] == 1


def test_dropout_masks_come_from_the_runs_own_stream():
    values = torch.ones(4, 6)
    first = seedgroup.seeded_dropout(values, 0.5, torch.Generator().manual_seed(1))
    again = seedgroup.seeded_dropout(values, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(first, again) and set(first.unique().tolist()) <= {0.0, 2.0}


def test_the_training_flops_are_counted_and_the_forward_count_is_fvcores():
    for spec in (SMALL, vggbench.ModelSpec("vgg13", "single", ratio=16, resolution=32)):
        macs = vggbench.model_table([spec]).loc[0, "macs"]  # fvcore: convs and linear layers, no batch norm here
        assert step_flops(spec, "infer") == 2 * macs
        assert 2 * step_flops(spec, "infer") < step_flops(spec, "train") <= 3 * step_flops(spec, "infer")


@pytest.mark.slow
def test_lanes_train_at_once_and_each_gives_what_its_seeds_give_alone(dataset):
    # Two lanes of one seed each, one intra-op thread per lane: each lane does exactly the arithmetic of
    # a lone one-thread run of its seed, so the numbers are equal, not merely close.
    rows, models = train.train_seeds(SMALL, _config(threads=2, seed_lanes=2), (0, 1), dataset)
    assert [(row["seed"], row["seed_lanes"], row["seed_batch"]) for row in rows] == [(0, 2, 1), (1, 2, 1)]
    for seed, model in zip((0, 1), models, strict=True):
        alone, lone_model = train.train(SMALL, _config(seed=seed), dataset)
        row = next(row for row in rows if row["seed"] == seed)
        assert [row[key] for key in UNTIMED] == [alone[0][key] for key in UNTIMED]
        assert all(torch.equal(tensor, lone_model.state_dict()[name]) for name, tensor in model.state_dict().items())


def test_more_lanes_than_threads_is_refused():
    with pytest.raises(ValueError, match="seed_lanes=3 is more than threads=2: each lane needs one"):
        _config(threads=2, seed_lanes=3)
    assert _config(threads=1).seed_lanes == 1 and _config(threads=2).seed_lanes == 2  # the CPU default, capped


@pytest.mark.slow
def test_with_subset_per_seed_each_seed_trains_on_its_own_draw_alone_or_grouped(dataset):
    # The subset comes from the seed's own stream: a seed grouped with others trains on the images it trains
    # on alone, so the grouped run still follows the lone one (to rounding, as above).
    config = _config(subset_per_seed=True)
    together, _ = train.train_seeds(SMALL, config, (0, 1), dataset)
    for seed in (0, 1):
        alone, _ = train.train(SMALL, _config(subset_per_seed=True, seed=seed), dataset)
        row = next(row for row in together if row["seed"] == seed)
        assert row["train_loss"] == pytest.approx(alone[0]["train_loss"], rel=1e-4)
        assert row["subset_per_seed"] and row["train_images"] == 96
    first_images, _ = train.train(SMALL, _config(seed=0), dataset)
    assert together[0]["train_loss"] != pytest.approx(first_images[0]["train_loss"], rel=1e-4)
    assert not first_images[0]["subset_per_seed"]

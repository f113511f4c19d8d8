"""Training on a synthetic, learnable data set: determinism, learning, rows, checkpoints, CLI."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import vggbench
from vggbench.cli import main
from vggbench.engine import study
from vggbench.engine.config import StudyConfig
from vggbench.measure import _train_setup as train_setup
from vggbench.measure import checkpoints, train, training_rules
from vggbench.measure.data import prepare
from vggbench.measure.setups import CandidateConfig, TrainConfig
from vggbench.models.arch import spec_to_dict
from vggbench.stats import correctness
from vggbench.util.validate import InputError

SMALL = vggbench.ModelSpec(vggbench.custom(convs_per_block=[1, 1], widths=[8, 16], fc_hidden=64), resolution=16)
TIMES = ["epoch_s", "train_s", "train_img_per_s", "train_gflops", "data_s", "compute_s"]


def _config(**options):
    return TrainConfig(
        **{"epochs": 2, "batch_size": 32, "train_limit": 512, "device": "cpu", "threads": 1, "seed": 0, **options}
    )


@pytest.mark.slow
def test_same_seed_same_numbers(dataset):
    first, _ = train.train(SMALL, _config(), dataset)
    second, _ = train.train(SMALL, _config(), dataset)
    untimed = [{k: v for k, v in row.items() if k not in TIMES} for row in first]
    assert untimed == [{k: v for k, v in row.items() if k not in TIMES} for row in second]
    other, _ = train.train(SMALL, _config(seed=1), dataset)
    assert other[-1]["train_loss"] != first[-1]["train_loss"]


@pytest.mark.slow
def test_loss_falls_and_rows_are_complete(dataset):
    single = vggbench.ModelSpec(SMALL.arch, "single", resolution=16)
    rows, model = train.train(single, _config(epochs=3, lr=3e-3), dataset)
    assert [row["epoch"] for row in rows] == [1, 2, 3]
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]
    assert rows[-1]["test_acc"] > 0.5  # ten classes: chance is 0.1
    for row in rows:
        assert row["train_images"] == 512 and row["test_images"] == 10_000
        assert 0 < row["data_s"] + row["compute_s"] <= row["train_s"] <= row["epoch_s"]
        assert row["train_img_per_s"] == pytest.approx(512 / row["train_s"])
        assert row["device"] == "cpu" and row["device_name"]
    assert not model.training  # left in eval mode by the last evaluation


@pytest.mark.slow
def test_sgd_and_normalization(dataset):
    rows, _ = train.train(SMALL, _config(optimizer="sgd", lr=0.05, momentum=0.9, normalize=True, epochs=1), dataset)
    assert rows[0]["optimizer"] == "sgd" and rows[0]["train_loss"] > 0


def test_summary_over_seeds_counts_failed_runs_apart():
    # Seeds 0 and 1 learn; seed 2 never leaves chance (loss ln 10 = 2.303 > 0.9 ln 10): it is counted, and
    # left out of the accuracy figures.
    finals = {0: (0.8, 0.5), 1: (0.9, 0.4), 2: (0.1, 2.3026)}
    rows = [
        {
            "arch": "a",
            "variant": "stack",
            "ratio": 8,
            "resolution": 32,
            "batch_norm": False,
            "seed": seed,
            "epoch": epoch,
            "test_acc": accuracy,
            "train_loss": loss,
            "optimizer_steps": 10 * epoch,
            "train_img_per_s": 1.0,
        }
        for seed, (final, final_loss) in finals.items()
        for epoch, accuracy, loss in ((1, 0.1 if seed == 2 else final - 0.02, 2.3026), (2, final, final_loss))
    ]
    summary = training_rules.summarize(rows).iloc[0]
    assert (summary["seeds"], summary["failed"], summary["epochs"], summary["optimizer_steps"]) == (3, 1, 2, 20)
    assert summary["test_acc_mean"] == pytest.approx(0.85)
    assert summary["test_acc_std"] == pytest.approx(torch.tensor([0.8, 0.9]).std().item())
    assert summary["last_epoch_gain"] == pytest.approx(0.02) and summary["still_learning"]  # 0.02 > 0.005
    # The training loop's throughput, named apart from the speed kind's timed steps (speed_train_img_per_s).
    assert summary["train_loop_img_per_s_median"] == 1.0 and "train_img_per_s_median" not in summary


@pytest.mark.slow
def test_checkpoint_round_trip_and_mismatch(dataset, tmp_path):
    _, model = train.train(SMALL, _config(epochs=1), dataset)
    path = tmp_path / "model.pt"
    checkpoints.save_checkpoint(path, model, SMALL)
    loaded, spec = checkpoints.load_checkpoint(path, SMALL)
    assert spec == SMALL
    for (name, saved), (_, restored) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(saved, restored), name
    other = vggbench.ModelSpec(SMALL.arch, "single", resolution=16)
    with pytest.raises(
        ValueError, match="does not match the requested model: it has variant 'stack' \\(asked 'single'\\)"
    ):
        checkpoints.load_checkpoint(path, other)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="is not a vggbench checkpoint"):
        checkpoints.load_checkpoint(tmp_path / "junk.pt")


def test_planning_on_a_checkpoint_reads_its_spec_not_its_weights(tmp_path, monkeypatch):
    path, wrong = tmp_path / "model.pt", tmp_path / "wrong.pt"
    checkpoints.save_checkpoint(path, vggbench.build_spec(SMALL), SMALL)
    other = vggbench.ModelSpec(vggbench.custom(convs_per_block=[1, 1], widths=[8, 32], fc_hidden=64), resolution=16)
    torch.save({"spec": spec_to_dict(other), "state_dict": vggbench.build_spec(SMALL).state_dict()}, wrong)

    def no_loading(*args):
        raise AssertionError("planning must not load the weights")

    monkeypatch.setattr(checkpoints, "load_checkpoint", no_loading)
    (trial,) = study.trials(StudyConfig({"kinds": ("erf",), "erf_checkpoints": (str(path),)}))
    assert trial.spec == SMALL and trial.reads == (str(path),)
    with pytest.raises(InputError, match="has weights that do not fit its spec"):  # still refused at once
        checkpoints.checkpoint_spec(wrong)


# A custom net of two one-conv blocks, 8 and 16 wide, as written on the command line.
TINY_CUSTOM = ["--convs", "1", "1", "--widths", "8", "16", "--ratio", "1"]


@pytest.mark.slow
def test_cli_trains_writes_rows_summary_and_checkpoints(synthetic_root, tmp_path, capsys):
    out, summary = tmp_path / "train.csv", tmp_path / "summary.csv"
    argv = [
        "train",
        *TINY_CUSTOM,
        "--resolution",
        "16",
        "--variant",
        "stack",
        "single",
        "--seeds",
        "0",
        "1",
        "--epochs",
        "1",
        "--train-limit",
        "256",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--data-root",
        str(synthetic_root),
        "--out",
        str(out),
        "--summary",
        str(summary),
        "--save-checkpoint",
        str(tmp_path / "ckpt.pt"),
    ]
    assert main(argv) == 0
    rows = pd.read_csv(out)
    required = [
        "arch",
        "variant",
        "ratio",
        "resolution",
        "seed",
        "epoch",
        "train_loss",
        "train_acc",
        "test_acc",
        "epoch_s",
        "train_img_per_s",
        "data_s",
        "compute_s",
        "device",
        "device_name",
    ]
    assert set(required) <= set(rows.columns) and len(rows) == 4
    assert list(pd.read_csv(summary)["seeds"]) == [2, 2]
    assert len(list(tmp_path.glob("ckpt-custom-*-seed*.pt"))) == 4
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "test acc" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "epochs=0 is not allowed"),
        (["--lr", "0"], "lr=0.0 is not allowed"),
        (["--momentum", "-1"], "momentum=-1.0 is not allowed"),
        (["--train-limit", "0"], "train_limit=0 is not allowed"),
        (["--in-channels", "3"], "do not fit Fashion-MNIST"),
        (["--data-root", "/nonexistent"], "--data-root=/nonexistent does not hold Fashion-MNIST"),
    ],
)
def test_bad_training_option_is_one_line_and_exit_2(argv, message, capsys):
    assert main(["train", "--device", "cpu", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@pytest.mark.slow
def test_cli_checkpoints_of_several_resolutions_do_not_overwrite_each_other(synthetic_root, tmp_path):
    # One name per trial: the model's resolution is part of it, so 16 and 32 px each keep their file.
    model = [
        *TINY_CUSTOM,
        "--resolution",
        "16",
        "32",
        "--variant",
        "stack",
    ]
    recipe = ["--epochs", "1", "--train-limit", "64", "--device", "cpu", "--threads", "1"]
    saved = ["--data-root", str(synthetic_root), "--save-checkpoint", str(tmp_path / "ck.pt")]
    assert main(["train", *model, *recipe, *saved]) == 0
    names = sorted(path.name for path in tmp_path.glob("ck-*.pt"))
    assert names == ["ck-custom-stack-r1-px16-seed0.pt", "ck-custom-stack-r1-px32-seed0.pt"]
    resolutions = [checkpoints.load_checkpoint(tmp_path / name)[1].resolution for name in names]
    assert resolutions == [16, 32]


@pytest.mark.slow
def test_the_failure_rule_marks_a_run_that_never_learns(dataset):
    single = vggbench.ModelSpec(SMALL.arch, "single", resolution=16)
    learns, _ = train.train(single, _config(epochs=3, lr=3e-3), dataset)
    diverges, _ = train.train(single, _config(epochs=1, lr=10), dataset)  # Adam at lr 10 (the most allowed): chance
    assert learns[-1]["failed"] is False and learns[-1]["train_loss"] < 0.9 * math.log(10)
    assert diverges[-1]["failed"] is True and not diverges[-1]["train_loss"] <= 0.9 * math.log(10)
    assert [row["optimizer_steps"] for row in learns] == [16, 32, 48]  # 512 images in batches of 32


def test_each_seeds_training_subset_is_its_own_draw_from_the_whole_set():
    from vggbench.measure._train_setup import subsets

    # Without a validation split: tests/test_validation.py holds one out.
    config = TrainConfig(train_limit=100, subset_per_seed=True, validation_images=0, device="cpu", threads=1)
    first, second = subsets(1000, (3, 4), config)
    for subset in (first, second):
        assert len(subset) == 100 and len(set(subset.tolist())) == 100 and 0 <= subset.min() <= subset.max() < 1000
    assert set(first.tolist()) != set(second.tolist()) and first.max() >= 100  # not the first 100
    assert torch.equal(subsets(1000, (5, 3), config)[1], first)  # a seed's draw does not depend on its group
    plain = TrainConfig(train_limit=100, validation_images=0, device="cpu", threads=1)
    assert all(torch.equal(subset, torch.arange(100)) for subset in subsets(1000, (3, 4), plain))
    whole = TrainConfig(train_limit=5000, subset_per_seed=True, validation_images=0, device="cpu", threads=1)
    assert torch.equal(subsets(1000, (3,), whole)[0], torch.arange(1000))  # all images: nothing to draw


@pytest.mark.slow
def test_every_epoch_row_keeps_which_test_images_the_run_got_right(dataset):
    rows, model = train.train(SMALL, _config(), dataset)
    assert all(correctness.decode(row["test_correct"]).mean() == row["test_acc"] for row in rows)
    right = correctness.decode(rows[-1]["test_correct"])
    assert right.shape == (10_000,) and right.mean() == rows[-1]["test_acc"]
    model.eval()
    with torch.inference_mode():
        images = prepare(dataset.test_images[:200], SMALL.resolution)
        expected = (model(images).argmax(-1) == dataset.test_labels[:200]).numpy()
    assert (right[:200] == expected).mean() >= 0.99  # batched apart from the trainer's: a rare tie may flip


def test_a_tuning_candidate_never_evaluates_the_test_set(dataset, monkeypatch):
    evaluate, evaluated = train._Runs.evaluate, []

    def validation_only(self, images, labels):
        if images is self.data.test_images:
            raise AssertionError("a tuning candidate evaluated the test set")
        evaluated.append(len(labels))
        return evaluate(self, images, labels)

    monkeypatch.setattr(train._Runs, "evaluate", validation_only)
    config = _config(epochs=1, validation_images=100, train_limit=200)
    rows, _ = train.train_seeds(SMALL, config, (0, 1), dataset, test_set=False)
    assert [row["seed"] for row in rows] == [0, 1] and evaluated == [100]  # the held-out images, once an epoch
    assert all(math.isnan(row["test_acc"]) and "test_correct" not in row for row in rows)
    assert all(0 <= row["val_acc"] <= 1 for row in rows)


@pytest.mark.slow
def test_a_pruned_candidate_stops_after_the_first_epoch_below_its_threshold(dataset):
    # Two lanes of one seed each: the rule reads the mean of the seeds trained together, after each epoch.
    config = _config(epochs=3, validation_images=100, train_limit=200, threads=2, seed_lanes=2)
    above = CandidateConfig.of(config, (math.nan, 0.0))  # NaN: no threshold; never below 0: on to the end
    whole, _ = train.train_seeds(SMALL, above, (0, 1), dataset, test_set=False)
    assert [row["epoch"] for row in whole] == [1, 1, 2, 2, 3, 3]
    means = [np.mean([row["val_acc"] for row in whole if row["epoch"] == epoch]) for epoch in (1, 2)]
    # Epoch 1 just above its threshold (it goes on), epoch 2 just below its threshold (it stops there).
    pruned = CandidateConfig.of(config, (means[0] - 0.01, means[1] + 0.01))
    rows, _ = train.train_seeds(SMALL, pruned, (0, 1), dataset, test_set=False)
    assert [(row["epoch"], row["seed"]) for row in rows] == [(1, 0), (1, 1), (2, 0), (2, 1)]
    untimed = [{k: v for k, v in row.items() if k not in TIMES} for row in rows]
    assert untimed == [{k: v for k, v in row.items() if k not in TIMES} for row in whole[:4]]


def test_correctness_survives_its_text_form():
    bits = np.random.default_rng(0).random(13) < 0.5  # not a whole number of bytes
    assert np.array_equal(correctness.decode(correctness.encode(bits)), bits)


@pytest.mark.parametrize(
    ("schedule", "factors"),
    [("constant", (1, 1, 1)), ("cosine", (1, 0.5, (1 + math.cos(0.99 * math.pi)) / 2)), ("linear", (1, 0.5, 0.01))],
)
def test_the_schedule_sets_the_learning_rate_at_the_first_middle_and_last_step(schedule, factors):
    """Over 100 steps: step 0 uses lr, step 50 half of it (cosine and linear alike), step 99 what is left of
    the way to zero: 1/100 on the line, (1 + cos(0.99 pi)) / 2 = 0.000247 on the cosine."""
    config = TrainConfig(lr=0.1, lr_schedule=schedule, device="cpu", threads=1)
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), config.lr)
    scheduler = train_setup.scheduler(optimizer, config, 100)
    seen = []
    for _ in range(100):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert [seen[step] for step in (0, 50, 99)] == pytest.approx([0.1 * factor for factor in factors])

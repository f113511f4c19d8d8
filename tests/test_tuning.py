"""Equal-budget tuning per arm (vggbench.engine.tuning): each arm chooses its recipe on validation images, then
its verdict seeds train at it.

The trainer is replaced by a stand-in whose accuracy is a known function of the learning rate per arm: the stack
peaks at lr 1e-2 (0.90), the single kernel at 1e-3 (0.88), falling by 0.1 per decade squared away from the peak.
At the config's lr 1e-3 the stack loses by 8 points; each at its own best, it wins by 2. The stand-in records which
images each run was asked to evaluate: the test set, or (without it) the validation images.
"""

import json
import math
import sqlite3

import numpy as np
import pandas as pd
import pytest

from vggbench.engine import study, tuning
from vggbench.engine.config import load_config
from vggbench.measure import train
from vggbench.models.schema import SCHEDULE, identity
from vggbench.models.vgg import build_spec
from vggbench.reporting.finish import write_reports
from vggbench.util.validate import InputError

PEAKS = {"stack": (0.90, 1e-2), "single": (0.88, 1e-3)}
EPOCHS = 2
TUNED = {
    "kinds": ["train"],
    "seeds": list(range(6)),
    "epochs": EPOCHS,
    "lr": 1e-3,
    "tune_candidates": 12,
    "tune_seeds": [100, 101],
    "tune_per_round": 4,
    "tune_space": ["lr=log(1e-4,1e-1)"],
}


def accuracy(variant: str, lr: float, seed: int, epoch: int) -> float:
    """The stand-in's accuracy: the arm's curve over lr, a spread drawn from the seed, 5 points less per epoch
    short of the last."""
    top, best = PEAKS[variant]
    spread = 0.003 * np.random.default_rng([seed, len(variant)]).standard_normal()
    return top - 0.1 * math.log10(lr / best) ** 2 + spread - 0.05 * (EPOCHS - epoch)


class StandIn:
    """train.train_seeds replaced: rows of `accuracy`, on the test set where asked, else on validation images; it
    records (split, variant, lr, seeds) per call, and stops the process (as kill -9 would) on call `kill_at`."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.calls: list[tuple[str, str, float, tuple]] = []
        self.kill_at = kill_at

    def __call__(self, spec, config, seeds, data, report=None, test_set=True):
        if self.kill_at is not None and len(self.calls) == self.kill_at:
            raise Killed
        split = "test" if test_set else "validation"
        self.calls.append((split, spec.variant, config.lr, tuple(seeds)))
        rows = []
        for epoch in range(1, config.epochs + 1):
            for seed in seeds:
                value = accuracy(spec.variant, config.lr, seed, epoch)
                row = {**identity(spec), "seed": seed, "epoch": epoch, SCHEDULE: config.epochs, "train_loss": 0.5}
                row |= {"train_acc": value, "optimizer_steps": 4 * epoch, "train_img_per_s": 1.0, "lr": config.lr}
                row |= {"test_acc": value} if test_set else {"test_acc": math.nan, "val_acc": value}
                rows.append(row)
        return rows, [build_spec(spec) for _ in seeds]


class Killed(BaseException):
    """The process stopped mid-run: nothing below catches it."""


def _run(root, monkeypatch, tiny_study, synthetic_root, stand_in=None, **keys):
    stand_in = stand_in or StandIn()
    monkeypatch.setattr(train, "train_seeds", stand_in)
    lines: list[str] = []
    values = {key: value for key, value in {**tiny_study, **TUNED, **keys}.items() if value is not None}
    config = load_config(**values)
    study.run(config, root, data_root=str(synthetic_root), report=lines.append)
    write_reports(root)
    return stand_in, lines


def _primary(root) -> pd.Series:
    claims = pd.read_csv(root / "claim.csv")
    return claims[(claims["claim"] == "higher accuracy") & (claims["analysis"] == "primary")].iloc[0]


@pytest.mark.slow
def test_each_arm_wins_or_loses_at_its_own_best_recipe(tmp_path, monkeypatch, tiny_study, synthetic_root):
    untuned = dict.fromkeys(("tune_candidates", "tune_seeds", "tune_space", "tune_per_round"))
    shared, _ = _run(tmp_path / "shared", monkeypatch, tiny_study, synthetic_root, **untuned)
    assert _primary(tmp_path / "shared")["verdict"] == "contradicted"  # at lr 1e-3 the stack is 8 points behind
    assert {call[0] for call in shared.calls} == {"test"}

    root = tmp_path / "tuned"
    stand_in, lines = _run(root, monkeypatch, tiny_study, synthetic_root)
    assert _primary(root)["verdict"] == "supported"
    tuning = pd.read_csv(root / "tuning.csv")
    candidates = tuning.drop_duplicates(["variant", "candidate"])
    assert len(tuning) == 2 * 12 * 2 * EPOCHS  # arms x candidates x seeds x epochs
    assert list(tuning.columns[tuning.columns.get_loc("candidate") :]) == [
        "candidate", "lr", "seed", "epoch", "val_acc", "train_loss", "pruned", "objective", "chosen"
    ]  # fmt: skip
    for variant, (_, peak) in PEAKS.items():
        own = candidates[candidates["variant"] == variant]
        assert list(own["candidate"]) == list(range(12)) and not own["pruned"].any()
        expected = [np.mean([accuracy(variant, lr, seed, EPOCHS) for seed in (100, 101)]) for lr in own["lr"]]
        assert own["objective"].to_numpy() == pytest.approx(expected)  # validation accuracy at the last epoch
        best = own.loc[own["objective"].idxmax()]
        assert own["chosen"].sum() == 1 and bool(best["chosen"]) and abs(math.log10(best["lr"] / peak)) < 0.3
        record = json.loads((root / "tuning.json").read_text())["arms"][f"vgg11-{variant}-r64-px32"]
        assert (record["candidate"], record["recipe"]) == (best["candidate"], {"lr": best["lr"]})
        verdict_lrs = {call[2] for call in stand_in.calls if call[0] == "test" and call[1] == variant}
        assert verdict_lrs == {best["lr"]}  # the verdict seeds train at the arm's chosen recipe
    # Which images each step read: the candidates the validation images only, on their own seeds; the verdict's
    # runs the test set only, on theirs.
    assert {call[3] for call in stand_in.calls if call[0] == "validation"} == {(100, 101)}
    assert {seed for call in stand_in.calls if call[0] == "test" for seed in call[3]} == set(range(6))
    rows = pd.read_csv(root / "train.csv")
    assert set(rows["recipe"]) == {"tuned"} and "val_acc" not in rows
    assert any(line.startswith("tuning round 3 of 3: candidate(s) 8-11 of 2 arm(s)") for line in lines)
    search = json.loads((root / "tuning.json").read_text())["search"]
    assert search | {"space": None} == {
        "sampler": "TPESampler",
        "sampler_seed": 0,
        "candidates": 12,
        "per_round": 4,
        "seeds": [100, 101],
        "space": None,
        "objective": "mean over the candidate's seeds of val_acc at the last epoch it reached",
        "pruner": "none",
    }
    with sqlite3.connect(root / "tuning.db") as database:  # Optuna's own record of the same search
        assert database.execute("select count(*) from trials").fetchone() == (24,)
    said = (root / "claim.md").read_text()  # the claim reads the record the search wrote
    assert "## Recipes" in said and "tried 12 candidates per arm, each trained on 2 seeds" in said
    assert "lr_sensitivity" in (root / "report.html").read_text()


@pytest.mark.slow
def test_a_run_killed_mid_tuning_resumes_to_the_same_candidates_and_choice(
    tmp_path, monkeypatch, tiny_study, synthetic_root
):
    keys = {"seeds": [0, 1], "tune_candidates": 6, "tune_per_round": 2}
    whole, _ = _run(tmp_path / "whole", monkeypatch, tiny_study, synthetic_root, **keys)
    with pytest.raises(Killed):  # in the second round, after three of its candidates' runs
        _run(tmp_path / "cut", monkeypatch, tiny_study, synthetic_root, StandIn(kill_at=7), **keys)
    resumed, lines = _run(tmp_path / "cut", monkeypatch, tiny_study, synthetic_root, **keys)
    asked = [call for call in whole.calls if call[0] == "validation"]
    assert [call for call in resumed.calls if call[0] == "validation"] == asked[7:]  # the rest, not redone ones
    assert "tuning round 1 of 3: candidate(s) 0-1 of 2 arm(s), 0 of their 8 trials to run" in lines
    for name in ("tuning.csv", "train.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "cut" / name).drop(columns=["epoch_s"], errors="ignore"),
            pd.read_csv(tmp_path / "whole" / name).drop(columns=["epoch_s"], errors="ignore"),
        )
    assert (tmp_path / "cut" / "tuning.json").read_text() == (tmp_path / "whole" / "tuning.json").read_text()


@pytest.mark.slow
def test_tuning_shared_trains_the_verdict_seeds_at_both_recipes(tmp_path, monkeypatch, tiny_study, synthetic_root):
    keys = {"seeds": [0, 1], "tune_candidates": 2, "tune_per_round": 2, "tuning_shared": True}
    stand_in, _ = _run(tmp_path, monkeypatch, tiny_study, synthetic_root, **keys)
    rows = pd.read_csv(tmp_path / "train.csv")
    chosen = json.loads((tmp_path / "tuning.json").read_text())["arms"]
    for variant in PEAKS:
        own = rows[(rows["variant"] == variant) & (rows["epoch"] == EPOCHS)]
        tuned_lr = chosen[f"vgg11-{variant}-r64-px32"]["recipe"]["lr"]
        assert dict(zip(own["recipe"], own["lr"], strict=False)) == {"tuned": tuned_lr, "shared": 1e-3}
        for seed in (0, 1):  # each recipe's model kept apart
            assert (tmp_path / f"checkpoints/vgg11-{variant}-r64-px32-seed{seed}-tuned.pt").is_file()
            assert (tmp_path / f"checkpoints/vgg11-{variant}-r64-px32-seed{seed}.pt").is_file()
    assert not list(tmp_path.glob("checkpoints/*candidate*"))  # a candidate keeps none
    assert len([call for call in stand_in.calls if call[0] == "test"]) == 4  # 2 arms x 2 recipes, seeds together
    # The same folder without tuning (--force): its shared runs are done; the tuning's files are gone.
    lines: list[str] = []
    untuned = load_config(**{**tiny_study, "kinds": ["train"], "seeds": [0, 1], "epochs": EPOCHS, "lr": 1e-3})
    study.run(untuned, tmp_path, force=True, data_root=str(synthetic_root), report=lines.append)
    assert not any((tmp_path / name).exists() for name in ("tuning.csv", "tuning.json", "tuning.db"))
    assert "4 trials, 4 already done, 0 to run" in lines
    assert set(pd.read_csv(tmp_path / "train.csv")) >= {"lr"} and "recipe" not in pd.read_csv(tmp_path / "train.csv")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"tune_seeds": [1, 100]}, r"tune_seeds and seeds share \[1\]"),
        ({"tune_space": ["learning_rate=log(1e-4,1e-1)"]}, "'learning_rate' is no recipe knob"),
        ({"tune_space": ["epochs=1|2"]}, "'epochs' is no recipe knob"),
        ({"tune_space": ["lr=log(1e-1,1e-4)"]}, "give LOW < HIGH"),
        ({"tune_space": ["lr=log(0,1e-1)"]}, r"lr=0.0 is not allowed: it must be a finite number > 0"),
        ({"tune_space": ["lr=1e-3", "lr=1e-2"]}, "names a knob twice"),
        ({"tune_space": ["optimizer=adam|rmsprop"]}, "choose one of"),
        ({"tune_space": ["optimizer=uniform(0,1)"]}, "optimizer takes a list of values"),
        ({"tune_space": ["lr"]}, "write KNOB=log"),
        ({"tune_space": ["momentum=uniform(0,0.9)"]}, "applies only with optimizer='sgd'"),
        ({"tune_seeds": None}, "needs tune_seeds"),
        ({"tune_candidates": 0}, "tune_seeds=.* is not allowed .* only with tune_candidates above 0"),
        ({"kinds": ["static"]}, "the kinds must include train"),
    ],
)
def test_a_search_the_study_cannot_run_is_refused(tiny_study, keys, message):
    with pytest.raises(InputError, match=message):
        load_config(**{**tiny_study, **TUNED, **keys})


def test_a_search_over_optimizers_asks_momentum_of_sgd_candidates_only(tiny_study):
    from vggbench.engine import tuning

    config = load_config(
        **{**tiny_study, **TUNED, "tune_space": ["momentum=uniform(0.5,0.99)", "optimizer=adam|sgd", "lr=1e-3|1e-2"]}
    )
    assert [entry.key for entry in config.tuning.space] == ["optimizer", "lr", "momentum"]
    assert study.count(config) == {"train": 2 * 6, "tuning": 2 * 12 * 2}
    assert [trial.key for trial in tuning.placeholders(config)][:2] == [
        "vgg11-stack-r64-px32-seed100-candidate0",
        "vgg11-stack-r64-px32-seed101-candidate0",
    ]
    # No tuning, no tuning keys in config.json: the runs made before tuning resume as they were.
    assert not any(key.startswith("tun") for key in load_config(**tiny_study).to_dict())


def test_the_tuned_map_gives_every_arm_the_same_search_on_seeds_the_verdict_does_not_use():
    config = load_config("tuned-map")
    arms = tuning.arms(config)
    # vgg11/13/16 x stack, single-fits x batch norm off and on, one budget: 12 arms, 12 candidates of 1 seed each.
    assert len(arms) == 12 and {arm.spec.variant for arm in arms} == {"stack", "single-fits"}
    assert study.count(config) == {"static": 12, "train": 12 * 15, "tuning": 12 * 12}
    assert not set(config.tune_seeds) & set(config.seeds)
    space = {entry.key: entry.described() for entry in config.tuning.space}
    assert space == {
        "optimizer": {"choices": ["adam", "sgd"]},
        "lr": {"log": [1e-4, 1e-1]},
        "momentum": {"choices": [0.9]},
        "init": {"choices": ["default", "kaiming"]},
    }
    assert config.validation_images == 10_000 and config.design.sequential

"""Equal-budget tuning per arm (vggbench.engine.tuning): each arm chooses its recipe on validation images, then
its verdict seeds train at it.

The trainer is replaced by a stand-in whose accuracy is a known function of the learning rate per arm: the stack
peaks at lr 1e-2 (0.90), the single kernel at 1e-3 (0.88), falling by 0.1 per decade squared away from the peak.
At the config's lr 1e-3 the stack loses by 8 points; each at its own best, it wins by 2. The stand-in records which
images each run was asked to evaluate: the test set, or (without it) the validation images; and it stops where a
candidate's pruning thresholds say, as the trainer does.
"""

import hashlib
import json
import math
import re
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_TUNING

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
    """train.train_seeds replaced: rows of `accuracy`, on the test set where asked, else on validation images, up to
    the epoch where the setup's pruning rule stops it; it records (split, variant, lr, seeds, epochs trained) per
    call, and stops the process (as kill -9 would) on call `kill_at`."""

    def __init__(self, kill_at: int | None = None) -> None:
        self.calls: list[tuple[str, str, float, tuple]] = []
        self.kill_at = kill_at

    def __call__(self, spec, config, seeds, data, report=None, test_set=True):
        if self.kill_at is not None and len(self.calls) == self.kill_at:
            raise Killed
        rows = []
        for epoch in range(1, config.epochs + 1):
            values = [accuracy(spec.variant, config.lr, seed, epoch) for seed in seeds]
            for seed, value in zip(seeds, values, strict=True):
                row = {**identity(spec), "seed": seed, "epoch": epoch, SCHEDULE: config.epochs, "train_loss": 0.5}
                row |= {"train_acc": value, "optimizer_steps": 4 * epoch, "train_img_per_s": 1.0, "lr": config.lr}
                row |= {"test_acc": value} if test_set else {"test_acc": math.nan, "val_acc": value}
                rows.append(row)
            if config.stops_after(epoch, np.mean(values)):
                break
        split = "test" if test_set else "validation"
        self.calls.append((split, spec.variant, config.lr, tuple(seeds), epoch))
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
    assert "## Recipes" in said and "tried 12 candidates per arm, each trained on seeds 100 and 101" in said
    assert "lr_sensitivity" in (root / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("prune", ["none", "median"])  # median: the second round's trials carry thresholds
def test_a_run_killed_mid_tuning_resumes_to_the_same_candidates_and_choice(
    tmp_path, monkeypatch, tiny_study, synthetic_root, prune
):
    keys = {"seeds": [0, 1], "tune_candidates": 6, "tune_per_round": 2, "tune_prune": prune}
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


# `vggbench run` in a process of its own, its A/A noise probe as short as the tests' (conftest.short_noise_probe).
RUN_IN_A_PROCESS = (
    "import sys; from vggbench.measure import speed; speed.PROBE_PAIRS, speed.PROBE_REBUILDS = 4, 2; "
    "from vggbench.cli import main; sys.exit(main(['run', *sys.argv[1:]]))"
)


def _toml(values: dict) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())  # JSON's lists are TOML's


@pytest.mark.slow
def test_a_run_killed_by_sigkill_mid_tuning_resumes_to_the_same_candidates_and_choice(tmp_path, synthetic_root):
    (tmp_path / "tiny.toml").write_text(_toml(TINY_TUNING))

    def command(folder: str) -> list[str]:
        options = ["--config", str(tmp_path / "tiny.toml"), "--data-root", str(synthetic_root)]
        return [sys.executable, "-c", RUN_IN_A_PROCESS, *options, "--out", str(tmp_path / folder)]

    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    whole = subprocess.Popen(command("whole"), **quiet)  # the uninterrupted run, beside the one killed
    cut = subprocess.Popen(command("cut"), **quiet)
    trials = tmp_path / "cut" / "trials" / "train"
    deadline = time.monotonic() + 120
    while not list(trials.glob("*-candidate2.json")):  # the second round's first candidate, with thresholds
        assert cut.poll() is None and time.monotonic() < deadline, "the run ended before its second round"
        time.sleep(0.01)
    cut.send_signal(signal.SIGKILL)
    assert cut.wait() == -signal.SIGKILL
    done = len(list(trials.glob("*-candidate*.json")))
    assert done == 3 and not (tmp_path / "cut" / "tuning.json").exists()  # killed mid-tuning, in the second round
    resumed = subprocess.run(command("cut"), capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "tuning round 1 of 2: candidate(s) 0-1 of 1 arm(s), 0 of their 2 trials to run" in resumed.stderr
    assert "tuning round 2 of 2: candidate(s) 2-3 of 1 arm(s), 1 of their 2 trials to run" in resumed.stderr
    assert whole.wait(timeout=120) == 0
    # The same candidates (recipes, in order), the same rows, pruning and choices: training is deterministic here.
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "cut" / "tuning.csv"), pd.read_csv(tmp_path / "whole" / "tuning.csv")
    )
    assert (tmp_path / "cut" / "tuning.json").read_text() == (tmp_path / "whole" / "tuning.json").read_text()
    assert pd.read_csv(tmp_path / "whole" / "tuning.csv")["pruned"].any()  # this config's curves prune in round 2


@pytest.mark.slow
def test_median_pruning_stops_the_candidates_below_the_median_of_earlier_rounds(
    tmp_path, monkeypatch, tiny_study, synthetic_root
):
    keys = {"seeds": [0, 1], "tune_candidates": 8, "tune_per_round": 2, "tune_prune": "median"}
    stand_in, lines = _run(tmp_path, monkeypatch, tiny_study, synthetic_root, **keys)
    table = pd.read_csv(tmp_path / "tuning.csv")
    pruned_in_all = 0
    for variant in PEAKS:
        own = table[table["variant"] == variant]
        candidates = own.drop_duplicates("candidate")
        # By hand from the stand-in's curves: a candidate of round 2 on (2 a round) is pruned after epoch 1 where
        # its mean over seeds 100, 101 there is below the median of the earlier rounds' unpruned candidates'.
        finished, expected = [], []
        for number, lr in zip(candidates["candidate"], candidates["lr"], strict=True):
            first_epoch = np.mean([accuracy(variant, lr, seed, 1) for seed in (100, 101)])
            earlier = [value for other, value in finished if other < number - number % 2]
            expected.append(bool(earlier) and first_epoch < np.median(earlier))
            finished += [] if expected[-1] else [(number, first_epoch)]
        assert list(candidates["pruned"]) == expected and not any(expected[:2])  # the first round: no threshold
        pruned_in_all += sum(expected)
        for number, pruned in enumerate(expected):
            rows = own[own["candidate"] == number]
            assert sorted(rows["epoch"]) == ([1, 1] if pruned else [1, 1, 2, 2])  # the stopped rows end at epoch 1
            assert rows["objective"].iloc[0] == pytest.approx(
                rows[rows["epoch"] == rows["epoch"].max()]["val_acc"].mean()
            )
        trained = [call[4] for call in stand_in.calls if call[0] == "validation" and call[1] == variant]
        assert trained == [1 if pruned else EPOCHS for pruned in expected]  # a pruned candidate trained one epoch
        unpruned = candidates[~candidates["pruned"]]
        assert (
            candidates.loc[candidates["chosen"], "candidate"].item()
            == unpruned.loc[unpruned["objective"].idxmax(), "candidate"]
        )
    assert pruned_in_all > 0  # the curves and the sampler's seed prune some: the rule was exercised
    search = json.loads((tmp_path / "tuning.json").read_text())["search"]
    assert search["pruner"].startswith("median after epoch 1 on: from the second round")
    with sqlite3.connect(tmp_path / "tuning.db") as database:  # Optuna's record: pruned, with their epochs
        assert database.execute("select count(*) from trials where state = 'PRUNED'").fetchone() == (pruned_in_all,)
        assert database.execute("select count(*) from trial_intermediate_values").fetchone()[0] > 0
    assert any(line.endswith(" candidates pruned") for line in lines)
    assert "pruning: median after epoch 1 on" in (tmp_path / "claim.md").read_text()
    # Run again: a pruned candidate's shorter trial file is done, not damaged; nothing trains, the same choices.
    again, _ = _run(tmp_path, monkeypatch, tiny_study, synthetic_root, **keys)
    assert again.calls == []
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "tuning.csv"), table)


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
        ({"tune_prune": "mean"}, "choose one of"),
        ({"tune_prune_after": 2}, r"tune_prune_after=2 is not allowed .* only with tune_prune='median'"),
        ({"tune_prune": "median", "tune_prune_after": 2}, "tune_prune_after=2 leaves no epoch to stop a candidate"),
        ({"tune_candidates": 0, "tune_seeds": None, "tune_space": None, "tune_prune": "median"}, "only with tune_c"),
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


# The fingerprints main's code (before pruning) gave the tuned-map preset's trials, on a CPU with 2 threads: they pin
# the fingerprints of runs made by earlier code (a tuned-map run resumed by this code must find its trials done).
# Each list's digest: the first 16 hex digits of sha256 over its trials' fingerprints, joined by spaces.
EARLIER_FINGERPRINTS = {
    "first round's candidates": "700380ee6d9689c0",  # 12 arms x 4 candidates of seed 1000, as the sampler asks
    "candidate placeholders": "7283e5d527a4f2d7",  # 12 arms x 12 candidates at the config's recipe (a dry run's)
    "verdict trials": "1cdc06f883b5fcd8",  # 12 arms x 15 seeds, planned before tuning chose (keyed -tuned)
}
EARLIER_TRIALS = {  # a few of them, one by one
    "vgg11-stack-r8-px32-seed1000-candidate0": "246295bf348af178",
    "vgg16-single-fits-r8-px32-bn-seed1000-candidate3": "851ac3e229c0dddd",
    "vgg11-stack-r8-px32-seed0-tuned": "81c78b8c9bbb1bec",
    "vgg16-single-fits-r8-px32-bn-seed14-tuned": "2f198a37c24f35e6",
}


def test_without_pruning_the_tuned_map_keeps_the_fingerprints_earlier_code_gave(tmp_path):
    from vggbench.engine.registry import KINDS
    from vggbench.engine.rundir import RunDir

    config = load_config("tuned-map", device="cpu", threads=2)
    arms = tuning.arms(config)
    studies = tuning._studies(config, RunDir(tmp_path), [arm.name for arm in arms])
    first = [
        trial
        for arm in arms
        for number in range(config.tuning.tune_per_round)
        for trial in tuning._ask(studies[arm.name], arm, number, config.tuning, ()).trials
    ]
    found = {
        "first round's candidates": first,
        "candidate placeholders": tuning.placeholders(config),
        "verdict trials": KINDS["train"].plan(config),
    }
    digests = {
        name: hashlib.sha256(" ".join(trial.fingerprint for trial in trials).encode()).hexdigest()[:16]
        for name, trials in found.items()
    }
    assert digests == EARLIER_FINGERPRINTS
    every = {trial.key: trial.fingerprint for trial in first + found["verdict trials"]}  # a placeholder shares a key
    assert {key: every[key] for key in EARLIER_TRIALS} == EARLIER_TRIALS
    # The first round has no thresholds with pruning either; config.json names pruning only where it prunes.
    pruning = load_config("tuned-map", device="cpu", threads=2, tune_prune="median")
    assert tuning.thresholds(tuning.arms(pruning)[0], [], pruning.tuning) == ()
    assert not set(tuning.PRUNING_KEYS) & set(config.to_dict()) and set(tuning.PRUNING_KEYS) <= set(pruning.to_dict())


@pytest.mark.parametrize("url", ["notaurl://x", "postgresql+nosuchdriver://user@host/name"])
def test_a_storage_url_optuna_cannot_open_is_named_not_a_traceback(url):
    import optuna

    with pytest.raises(InputError, match=f"tune_storage='{re.escape(url)}' cannot be opened as an Optuna storage"):
        tuning._storage(optuna, url)

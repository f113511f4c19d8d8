"""Each seed is its own training trial: seeds still to train run together, each is kept in its own file, and
seeds added to a run directory train alone, leaving the files of the others as they were."""

import hashlib
import json

import pandas as pd
import pytest

from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import FAILED, RunDir

pytestmark = pytest.mark.slow  # each test runs studies


@pytest.fixture
def trained(monkeypatch):
    """The seeds of every training trial that runs, in order; `fail` set: each raises that error instead."""
    kind, real = KINDS["train"], KINDS["train"].run
    calls: list[tuple[int, ...]] = []
    fail: list[str] = []

    def spied(trial, inputs, load_data, report):
        calls.append(trial.setup.trained_seeds)
        if fail:
            raise RuntimeError(fail[0])
        return real(trial, inputs, load_data, report)

    monkeypatch.setattr(kind, "run", spied)
    return calls, fail


def _training(tiny_study, seeds) -> dict:
    """One model's static cost (what the claim reads besides) and training."""
    return {**tiny_study, "variants": ["stack"], "kinds": ["static", "train"], "seeds": seeds}


def _run(root, synthetic_root, values) -> list[str]:
    lines: list[str] = []
    study.run(load_config(**values), root, data_root=str(synthetic_root), report=lines.append)
    return lines


def _digests(root, pattern: str) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(root.glob(pattern))}


def test_a_group_of_seeds_is_kept_as_one_trial_file_and_checkpoint_per_seed(finished_run):
    # TINY_STUDY trains each model's two seeds together (the CPU's seed_batch is 4).
    config = load_config(**json.loads((finished_run.root / "config.json").read_text()))
    plan = [trial for trial in study.trials(config) if trial.kind == "train"]
    assert len(plan) == 2 * len(config.seeds)
    for trial in plan:
        envelope = json.loads((finished_run.root / "trials" / "train" / f"{trial.key}.json").read_text())
        assert envelope["fingerprint"] == trial.fingerprint
        assert {row["seed"] for row in envelope["rows"]} == {trial.setup.seed}
        assert {row["seed_batch"] for row in envelope["rows"]} == {2}  # trained with the other seed
        assert list(envelope["files"]) == [f"checkpoints/{trial.key}.pt"]


def test_added_seeds_train_alone_and_the_finished_seeds_files_stay_as_they_were(
    tmp_path, synthetic_root, tiny_study, trained
):
    calls, _ = trained
    root = tmp_path / "run"
    _run(root, synthetic_root, _training(tiny_study, [0, 1]))
    before = {**_digests(root, "trials/train/*.json"), **_digests(root, "checkpoints/*.pt")}
    assert len(before) == 4 and calls == [(0, 1)]
    lines = _run(root, synthetic_root, _training(tiny_study, [0, 1, 2, 3]))  # no force
    assert lines[0] == "5 trials, 3 already done, 2 to run"
    assert calls == [(0, 1), (2, 3)]  # the new seeds, together
    after = {**_digests(root, "trials/train/*.json"), **_digests(root, "checkpoints/*.pt")}
    assert len(after) == 8 and {name: after[name] for name in before} == before
    assert sorted(pd.read_csv(root / "train.csv")["seed"]) == [0, 1, 2, 3]
    assert json.loads((root / "config.json").read_text())["seeds"] == [0, 1, 2, 3]


def test_a_failed_group_records_each_of_its_seeds_as_failed(tmp_path, synthetic_root, tiny_study, trained):
    calls, fail = trained
    fail.append("a simulated fault")
    values = _training(tiny_study, [0, 1])
    root = tmp_path / "run"
    _run(root, synthetic_root, values)
    plan = [trial for trial in study.trials(load_config(**values)) if trial.kind == "train"]
    assert calls == [(0, 1)] and [RunDir(root, KINDS).status(trial) for trial in plan] == [FAILED, FAILED]
    failures = pd.read_csv(root / "failures.csv")
    assert sorted(failures["seed"]) == [0, 1]
    assert (failures["error"] == "RuntimeError: a simulated fault").all()

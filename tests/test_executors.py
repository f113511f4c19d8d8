"""Executors: the study on a local Ray cluster equals a local run; killed workers and drivers lose nothing."""

import json
import os
import signal
import subprocess
import sys

import pandas as pd
import pytest
from conftest import TINY_TUNING

from vggbench.cli import main
from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.executors import RayExecutor, run_on_worker
from vggbench.engine.registry import KINDS, run_trial
from vggbench.engine.rundir import RunDir
from vggbench.measure import data

# Columns that do not depend on timing: they must be equal whatever ran the trials.
DETERMINISTIC = {
    "static": None,  # every column
    "blocks": None,
    "train": ["arch", "variant", "ratio", "resolution", "seed", "epoch", "train_loss", "train_acc", "test_acc"],
    "erf": ["arch", "variant", "ratio", "resolution", "trained", "erf_side_t20", "erf_side_t50", "erf_side_t99"],
}


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray cluster on this machine with 2 CPUs, as on the CI machine; executors reuse it."""
    ray = pytest.importorskip("ray", reason="needs the ray extra: pip install 'vggbench[ray]' (.ci/run installs it)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def _table(root, name: str) -> pd.DataFrame:
    table = pd.read_csv(root / f"{name}.csv")
    columns = DETERMINISTIC[name] or list(table.columns)
    return table[columns].sort_values(columns[:6]).reset_index(drop=True)


def _assert_same_deterministic_columns(root, reference) -> None:
    for name in DETERMINISTIC:
        pd.testing.assert_frame_equal(_table(root, name), _table(reference, name), obj=name)


def _run_on_ray(tmp_path, synthetic_root, tiny_study, executor, report=None) -> RunDir:
    progress = report or (lambda line: None)
    config = load_config(**tiny_study)
    return study.run(config, tmp_path / "run", data_root=str(synthetic_root), report=progress, executor=executor)


def test_a_run_on_ray_equals_a_local_run_in_every_deterministic_column(
    tmp_path, synthetic_root, tiny_study, finished_run, ray_cluster
):
    directory = _run_on_ray(tmp_path, synthetic_root, tiny_study, RayExecutor())
    _assert_same_deterministic_columns(directory.root, finished_run.root)
    for name in ("speed", "pairs", "train", "erf"):
        table = pd.read_csv(directory.root / f"{name}.csv")
        assert "error" not in table or table["error"].isna().all(), name
    executor = json.loads((directory.root / "metadata.json").read_text())["executor"]
    assert executor["name"] == "ray" and executor["nodes"] == 1 and executor["cluster_cpus"] == 2
    assert "one at a time" in executor["speed_policy"]


def test_a_worker_killed_mid_trial_is_retried_and_nothing_is_lost_or_doubled(
    tmp_path, synthetic_root, tiny_study, finished_run, ray_cluster
):
    killed = tmp_path / "killed"

    def dies_once_when_seed_1_trains(trial, inputs, data_root):  # seed 1 trains alone or in a group of seeds
        def data_then_death():
            if not killed.exists():
                killed.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)  # mid-trial: it has started and asks for its data
            return load()

        if trial.kind == "train" and 1 in trial.setup.trained_seeds and trial.spec.variant == "single":
            load = data.loader(data_root)
            return run_trial(trial, inputs, data_then_death)
        return run_on_worker(trial, inputs, data_root)

    directory = _run_on_ray(tmp_path, synthetic_root, tiny_study, RayExecutor(work=dies_once_when_seed_1_trains))
    assert killed.exists()
    train = pd.read_csv(directory.root / "train.csv")
    assert len(train) == 4 and not train.duplicated(["variant", "seed", "epoch"]).any()
    _assert_same_deterministic_columns(directory.root, finished_run.root)


def test_a_trial_whose_worker_always_dies_is_recorded_as_failed_after_its_retries(
    tmp_path, synthetic_root, tiny_study, ray_cluster
):
    attempts = tmp_path / "attempts"
    attempts.mkdir()

    def single_static_always_dies(trial, inputs, data_root):
        if trial.kind == "static" and trial.spec.variant == "single":
            (attempts / str(os.getpid())).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return run_on_worker(trial, inputs, data_root)

    tiny_study.update(seeds=[0], speed_modes=["infer"])
    executor = RayExecutor(retries=1, work=single_static_always_dies)
    directory = _run_on_ray(tmp_path, synthetic_root, tiny_study, executor)
    assert len(list(attempts.iterdir())) == 2  # the first try and one retry, each in a fresh worker
    static = pd.read_csv(directory.root / "static.csv").set_index("variant")
    assert static.loc["single", "error"].startswith("WorkerCrashedError after 1 retries")
    assert pd.isna(static.loc["stack", "error"]) and static.loc["stack", "params"] > 0
    assert len(pd.read_csv(directory.root / "train.csv").dropna(subset=["test_acc"])) == 2  # the rest ran


def test_a_bug_in_a_trial_on_ray_stops_the_run_with_its_traceback_instead_of_becoming_a_failed_trial(
    tmp_path, synthetic_root, tiny_study, ray_cluster
):
    def static_has_a_bug(trial, inputs, data_root):
        if trial.kind == "static":
            return {}["a key that is not there"]  # a bug: not an InputError nor a failure of torch
        return run_on_worker(trial, inputs, data_root)

    tiny_study.update(seeds=[0], speed_modes=["infer"])
    with pytest.raises(KeyError, match="a key that is not there"):
        _run_on_ray(tmp_path, synthetic_root, tiny_study, RayExecutor(work=static_has_a_bug))
    failed = RunDir(tmp_path / "run", KINDS).failures(study.trials(load_config(**tiny_study)))
    assert failed == []  # nothing recorded as the user's failed trial


class Interrupted(Exception):
    pass


def test_a_driver_stopped_midway_resumes_like_a_local_run(
    tmp_path, synthetic_root, tiny_study, finished_run, ray_cluster
):
    def stop_after_six(line):
        if line.startswith("[6/"):
            raise Interrupted  # as SIGINT would, between two results

    with pytest.raises(Interrupted):
        _run_on_ray(tmp_path, synthetic_root, tiny_study, RayExecutor(), report=stop_after_six)
    # A group of seeds keeps all its trials before reporting them: the sixth line may leave a seventh kept.
    done = len(list((tmp_path / "run" / "trials").glob("*/*.json")))
    lines = []
    directory = _run_on_ray(tmp_path, synthetic_root, tiny_study, RayExecutor(), report=lines.append)
    planned = len(study.trials(load_config(**tiny_study)))
    assert done in (6, 7) and lines[0] == f"{planned} trials, {done} already done, {planned - done} to run"
    train = pd.read_csv(directory.root / "train.csv")
    assert len(train) == 4 and not train.duplicated(["variant", "seed", "epoch"]).any()
    _assert_same_deterministic_columns(directory.root, finished_run.root)


def test_a_tuning_run_on_ray_asks_prunes_and_chooses_as_a_local_run(tmp_path, synthetic_root, ray_cluster):
    # The candidates train as Ray tasks (their pruning thresholds travel in their setups): the same rows, pruning
    # and choices as in this process.
    config, lines = load_config(**TINY_TUNING), []
    for name, executor in (("local", None), ("ray", RayExecutor())):
        study.run(config, tmp_path / name, data_root=str(synthetic_root), report=lines.append, executor=executor)
    local, on_ray = (pd.read_csv(tmp_path / name / "tuning.csv") for name in ("local", "ray"))
    pd.testing.assert_frame_equal(on_ray, local)
    assert local["pruned"].any()  # a second-round candidate stopped on its worker
    assert (tmp_path / "ray" / "tuning.json").read_text() == (tmp_path / "local" / "tuning.json").read_text()
    assert any(line.startswith("tuning round 2 of 2") for line in lines)


def test_without_ray_the_executor_is_a_clear_error_naming_the_extra(tmp_path, tiny_study, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    config = tmp_path / "tiny.toml"
    config.write_text("\n".join(f"{key} = {json.dumps(value)}" for key, value in tiny_study.items()))
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "run"), "--executor", "ray"]) == 2
    assert "--executor ray needs Ray, which is not installed: pip install 'vggbench[ray]'" in capsys.readouterr().err
    assert main(["run", "--config", str(config), "--ray-address", "auto"]) == 2
    assert "--ray-address auto needs --executor ray" in capsys.readouterr().err


@pytest.mark.slow
def test_the_default_path_never_imports_ray():
    code = (
        "import sys\n"
        "from vggbench import cli\n"
        "from vggbench.engine import executors, study\n"
        "cli.make_parser().parse_args(['run', '--executor', 'ray'])\n"
        "executors.LocalExecutor().start()\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr

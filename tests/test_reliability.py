"""Reliability through the command line: a run directory that cannot lie, and every input checked before work
starts. Each test drives one class of fault (not only one example of it) through `vggbench`."""

import csv
import gzip
import json
import os
import re
import shlex
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from vggbench import registry
from vggbench.cli import main

# Static cost and training only, one seed, one short epoch: a whole run in seconds.
SMALL = {
    "archs": ["vgg11"],
    "variants": ["stack", "single"],
    "ratios": [64],
    "resolutions": [32],
    "seeds": [0],
    "epochs": 1,
    "batch_size": 32,
    "train_limit": 64,
    "failure_loss_ratio": 1.1,
    "kinds": ["static", "train"],
    "device": "cpu",
    "threads": 1,
}


def _toml(path: Path, values: dict) -> Path:
    path.write_text("\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items()))
    return path


@pytest.fixture
def small_run(tmp_path, synthetic_root):
    """`run(**changes)`: `vggbench run` of SMALL (with changes) into tmp_path/run; returns (status, stderr)."""

    def run(capsys, *extra, **changes):
        config = _toml(tmp_path / "small.toml", {**SMALL, **changes})
        argv = ["run", "--config", str(config), "--out", str(tmp_path / "run"), "--data-root", str(synthetic_root)]
        status = main([*argv, *extra])
        return status, capsys.readouterr().err

    return run


def _trial_files(root: Path, kind: str) -> list[Path]:
    return sorted((root / "trials" / kind).glob("*.json"))


def test_a_resumed_run_keeps_the_record_of_its_earlier_sittings(tmp_path, small_run, capsys):
    root = tmp_path / "run"
    assert small_run(capsys)[0] == 0
    first = json.loads((root / "metadata.json").read_text())
    # As older code wrote it, without the list: its one sitting is read from started, ended and git_commit.
    (root / "metadata.json").write_text(json.dumps({key: first[key] for key in first if key != "sittings"}))
    assert small_run(capsys)[0] == 0
    sittings = json.loads((root / "metadata.json").read_text())["sittings"]
    assert len(sittings) == 2 and sittings[0]["started"] == first["started"]
    assert all(sitting["ended"] and sitting["git_commit"] == first["git_commit"] for sitting in sittings)
    assert "in 2 sittings" in (root / "report.html").read_text()


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_text(""),  # emptied
        lambda path: path.write_text(path.read_text()[: len(path.read_text()) // 2]),  # cut mid-row
        lambda path: path.write_bytes(b"\xff\xfe not json"),  # garbage
        lambda path: path.write_text(json.dumps({"rows": "none"})),  # JSON, but not a trial
    ],
    ids=["emptied", "cut", "garbage", "not-a-trial"],
)
def test_a_damaged_trial_file_is_redone_and_said_so(tmp_path, small_run, capsys, damage):
    assert small_run(capsys)[0] == 0
    root = tmp_path / "run"
    before = pd.read_csv(root / "train.csv")
    damage(_trial_files(root, "train")[0])
    status, err = small_run(capsys)
    assert status == 0 and "1 to run (again: 1 with a file cut short or corrupt)" in err
    pd.testing.assert_frame_equal(pd.read_csv(root / "train.csv")[before.columns[:12]], before[before.columns[:12]])


def test_a_damaged_checkpoint_redoes_its_training(tmp_path, small_run, capsys):
    assert small_run(capsys)[0] == 0
    checkpoint = sorted((tmp_path / "run" / "checkpoints").glob("*.pt"))[0]
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])  # a checkpoint cut short, its trial file whole
    status, err = small_run(capsys)
    assert status == 0 and "(again: 1 with a file cut short or corrupt)" in err
    assert torch.load(checkpoint, weights_only=True)["spec"]["arch"] == "vgg11"  # written again, whole


def test_a_run_directory_is_held_by_one_run(tmp_path, small_run, capsys):
    root = tmp_path / "run"
    root.mkdir()
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "since": "2026-11-28T20:00:00+00:00"}
    (root / ".lock").write_text(json.dumps(lock))  # this test process: alive
    status, err = small_run(capsys)
    assert status == 2 and f"is in use by pid {os.getpid()} on {socket.gethostname()}" in err
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (root / ".lock").write_text(json.dumps({**lock, "pid": int(gone.stdout)}))  # a process that has ended
    status, err = small_run(capsys)
    assert status == 0 and "removed the stale lock" in err and not (root / ".lock").exists()


def test_two_runs_at_once_the_second_stops_naming_the_first(tmp_path, synthetic_root, capsys):
    config = _toml(tmp_path / "slow.toml", {**SMALL, "epochs": 3, "train_limit": 2048})
    argv = ["run", "--config", str(config), "--out", str(tmp_path / "run"), "--data-root", str(synthetic_root)]
    first = subprocess.Popen([sys.executable, "-m", "vggbench", *argv], stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "run" / ".lock"
        for _ in range(600):  # until the first run holds the folder (it loads torch first)
            if lock.exists() and lock.read_text():
                break
            time.sleep(0.1)
        assert main(argv) == 2
        assert f"is in use by pid {first.pid}" in capsys.readouterr().err
    finally:
        first.wait(timeout=300)
    assert first.returncode == 0, first.stderr.read()


def test_force_after_a_change_redoes_what_changed_and_never_relabels(tmp_path, small_run, capsys):
    assert small_run(capsys)[0] == 0
    status, err = small_run(capsys, epochs=2)
    assert status == 2 and "another configuration (differs in epochs)" in err
    status, err = small_run(capsys, "--force", epochs=2)
    assert status == 0 and "2 already done, 2 to run (again: 2 made under another config)" in err
    train = pd.read_csv(tmp_path / "run" / "train.csv")
    assert sorted(train["epoch"]) == [1, 1, 2, 2]  # both models, two epochs each: the old rows are gone
    assert json.loads((tmp_path / "run" / "config.json").read_text())["epochs"] == 2


def test_a_failed_trial_is_printed_counted_listed_and_retried(tmp_path, small_run, capsys, monkeypatch):
    static = registry.KINDS["static"]
    real = static.run

    def fails_for_single(trial, inputs, load_data, report):
        if trial.spec.variant == "single":
            raise RuntimeError("a simulated fault")
        return real(trial, inputs, load_data, report)

    monkeypatch.setattr(static, "run", fails_for_single)
    status, err = small_run(capsys)
    root = tmp_path / "run"
    assert status == 3 and "FAILED: RuntimeError: a simulated fault" in err and "1 trial(s) failed" in err
    assert list(pd.read_csv(root / "failures.csv")["trial"]) == ["vgg11-single-r64-px32"]
    assert "1 failed trial(s)" in (root / "claim.md").read_text()
    assert "a simulated fault" in (root / "report.html").read_text()
    monkeypatch.setattr(static, "run", real)
    status, err = small_run(capsys)
    assert status == 0 and "1 to run (again: 1 failed)" in err
    assert pd.read_csv(root / "failures.csv").empty and pd.read_csv(root / "static.csv")["params"].notna().all()


def test_publish_is_atomic_stays_inside_results_and_escapes_the_index(tmp_path, finished_run, monkeypatch, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    results = tmp_path / "results"
    assert main(["publish", str(run), "--results", str(results)]) == 0
    published = next(path for path in results.iterdir() if path.is_dir())
    page = (published / "report.html").read_bytes()

    real_copy = shutil.copyfileobj

    def disk_full_at_the_third(source, target, *args, **kwargs):  # target: the open staging copy
        if len(list(Path(target.name).parent.rglob("*"))) >= 3:
            raise OSError(28, "No space left on device")
        return real_copy(source, target, *args, **kwargs)

    monkeypatch.setattr(shutil, "copyfileobj", disk_full_at_the_third)
    assert main(["publish", str(run), "--results", str(results)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert (published / "report.html").read_bytes() == page  # the earlier publication, whole
    assert not [path for path in results.iterdir() if path.name.startswith(".")]  # no staging left behind
    monkeypatch.setattr(shutil, "copyfileobj", real_copy)

    meta = json.loads((run / "metadata.json").read_text())
    for device in ("../../../escaped", "cpu/../..", ""):
        (run / "metadata.json").write_text(json.dumps({**meta, "device": device}))
        assert main(["publish", str(run), "--results", str(results)]) == 2
        assert "cannot name a folder" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists()
    (run / "metadata.json").write_text(json.dumps({**meta, "device_name": "<script>x</script> | y"}))
    assert main(["publish", str(run), "--results", str(results)]) == 0
    index = (results / "README.md").read_text()
    assert "<script>" not in index and "&lt;script&gt;x&lt;/script&gt; \\| y" in index
    (run / "metadata.json").write_text("{not json")
    assert main(["publish", str(run), "--results", str(results)]) == 2
    assert "metadata.json is not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--lr", "inf"], "lr=inf is not allowed: it must be a finite number > 0"),
        (["train", "--lr", "nan"], "lr=nan is not allowed"),
        (["train", "--seeds", "0", "0"], "seeds=(0, 0) is not allowed: give each value once (0 repeated)"),
        (["train", "--seed", "-1"], "seeds entry=-1 is not allowed"),
        (["erf", "--seeds", "99999999999999999999"], "seeds entry=99999999999999999999 is not allowed"),
        (["speed", "--min-time", "inf"], "speed_min_time_s=inf is not allowed (--min-time)"),
        (["speed", "--min-time", "1e9"], "it must be a finite number >= 0 and <= 3,600"),
        (["speed", "--batch-size", "100000000", "--ratio", "64"], "needs about"),
        (["static", "--resolution", "60000"], "GiB of memory, more than"),
        (["static", "--arch", "custom", "--convs", "1", "--widths", "64", "--kernel", "9999", "--ratio", "1"], "GiB"),
        (["train", "--threads", "0"], "threads=0 is not allowed"),
        (["train", "--out", ""], "invalid path: ''"),
        (["erf", "--checkpoint", "x.pt", "--arch", "vgg13"], "--arch do(es) not apply with --checkpoint"),
    ],
)
def test_bad_values_on_the_command_line_stop_before_work_with_the_value(argv, message, capsys):
    try:
        status = main([*argv, "--device", "cpu"] if argv[0] in ("train", "speed") else argv)
    except SystemExit as exited:  # argparse's own refusals
        status = exited.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"resolutions": [20000]}, "GiB of memory, more than"),
        ({"train_limit": 1.5}, "train_limit=1.5 is not allowed: it must be an integer >= 1"),
        ({"seeds": [1e23]}, "seeds entry=1e+23 is not allowed: it must be an integer"),
        ({"speed_min_time_s": 1e300, "kinds": ["speed"]}, "speed_min_time_s=1e+300 is not allowed (--min-time)"),
        ({"lr": "fast"}, "lr='fast' is not allowed: it must be a finite number > 0"),
        ({"epochs": [2]}, "epochs=[2] is not allowed: it must be an integer >= 1"),
        ({"threads": 0}, "threads=0 is not allowed"),
        ({"archs": "vgg99"}, "archs entry='vgg99' is not allowed (--arch): choose one of"),
    ],
)
def test_bad_values_in_a_toml_config_name_their_key(tmp_path, values, message, capsys):
    config = _toml(tmp_path / "bad.toml", {**SMALL, **values})
    assert main(["run", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "run" / "trials").exists()


def test_broken_files_are_named_with_what_is_wrong(tmp_path, finished_run, synthetic_root, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    (run / "static.csv").write_bytes(b"arch,params\n\xff\xfe,1\n")
    assert main(["claim", str(run)]) == 2
    assert f"{run / 'static.csv'} is not a readable CSV table" in capsys.readouterr().err
    (run / "static.csv").write_text("")
    assert main(["claim", str(run)]) == 2
    assert "static.csv has no static rows" in capsys.readouterr().err
    (run / "config.json").write_text("[1, 2")
    assert main(["report", str(run)]) == 2
    assert "config.json is not valid JSON" in capsys.readouterr().err

    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    (data / "t10k-labels-idx1-ubyte").unlink()
    (data / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"\x00" * 64)[:20])  # a gzip cut short
    assert main(["train", "--data-root", str(data), "--device", "cpu"]) == 2
    assert "t10k-labels-idx1-ubyte.gz cannot be read" in capsys.readouterr().err

    tensor, mismatched = tmp_path / "tensor.pt", tmp_path / "mismatched.pt"
    torch.save(torch.zeros(3), tensor)
    from vggbench.arch import ModelSpec, spec_to_dict

    spec = spec_to_dict(ModelSpec("vgg11", ratio=64, resolution=32))
    torch.save({"spec": {**spec, "ratio": 1}, "state_dict": {"w": torch.zeros(2)}}, mismatched)
    for path, message in ((tensor, "holds no spec"), (mismatched, "has weights that do not fit its spec")):
        assert main(["erf", "--checkpoint", str(path), "--data-root", str(synthetic_root)]) == 2
        assert message in capsys.readouterr().err


def _training_folder(root: Path) -> Path:
    """A folder holding only a hand-made train.csv: stack, single and linear stack, three seeds, two epochs."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for variant, accuracies in (("stack", (0.90, 0.91, 0.93)), ("single", (0.80, 0.82, 0.81)), ("linear-stack",
                                (0.89, 0.90, 0.91))):  # fmt: skip
        for seed, accuracy in enumerate(accuracies):
            for epoch, acc, loss in ((1, 0.1, 2.3), (2, accuracy, 0.4)):
                rows.append({"arch": "vgg11", "variant": variant, "ratio": 8, "resolution": 32, "seed": seed,
                             "epoch": epoch, "test_acc": acc, "train_loss": loss})  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "train.csv", index=False)
    return root


def _refused(argv: list[str], capsys) -> str:
    """Run `vggbench argv`: it must stop with status 2 and one line of ours, no traceback; returns stderr."""
    try:
        status = main(argv)
    except SystemExit as exited:  # argparse's own refusals
        status = exited.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--effect", "0"], "--effect=0.0 is not allowed: it must be a finite number > 0 and <= 1"),
        (["--effect", "nan"], "--effect=nan is not allowed"),
        (["--effect", "-0.01"], "--effect=-0.01 is not allowed"),
        (["--effect", "inf"], "--effect=inf is not allowed"),
        (["--effect", "2"], "--effect=2.0 is not allowed"),
        (["--equivalence-margin", "0"], "equivalence_margin=0.0 is not allowed"),
        (["--equivalence-margin", "nan"], "equivalence_margin=nan is not allowed"),
        (["--equivalence-margin", "5"], "it must be a finite number > 0 and <= 1"),
    ],
)
def test_power_refuses_an_effect_or_margin_it_cannot_size(tmp_path, capsys, options, message):
    assert message in _refused(["power", str(_training_folder(tmp_path / "run")), *options], capsys)


def test_power_reports_a_size_beyond_a_million_seeds_as_inf(tmp_path, capsys):
    out = tmp_path / "power.csv"
    run = _training_folder(tmp_path / "run")
    assert main(["power", str(run), "--effect", "1e-300", "--equivalence-margin", "1e-300", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert (table["seeds_needed"] == float("inf")).all() and (table["seeds_for_equivalence"] == float("inf")).all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--replays", "1000000000"], "--replays=1,000,000,000 is not allowed: at most 100,000"),
        (["--fixed-seeds", "100000000"], "--fixed-seeds=100,000,000 is not allowed: at most 1,000"),
        (["--max-seeds", "100000000"], "max_seeds=100000000 is not allowed: it must be an integer >= 2 and <= 1,000"),
    ],
)
def test_design_refuses_a_simulation_too_large_to_hold(tmp_path, capsys, options, message):
    assert message in _refused(["design", str(_training_folder(tmp_path / "run")), *options], capsys)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('speed_modes = [["infer"]]', "speed_modes=['infer'] is not allowed (--mode): it must be a string"),
        ("speed_batch_size = [[1]]", "speed_batch_size=[1] is not allowed (--batch-size)"),
        ("speed_batch_size = [{a = 1}]", "speed_batch_size={'a': 1} is not allowed"),
        ('speed_modes = {a = "infer"}', "speed_modes={'a': 'infer'} is not allowed"),
        ("density_sides = [[8]]", "density_sides=[8] is not allowed (--side)"),
        ("seeds = [[0, 1]]", "seeds entry=[0, 1] is not allowed"),
        ('archs = [[["vgg11"]]]', "archs entry=[['vgg11']] is not allowed (--arch): it must be a string"),
        ("ratios = [[8], [16]]", "ratios entry=[8] is not allowed (--ratio): it must be an integer"),
        ('variants = [["stack", "single"]]', "variants entry=['stack', 'single'] is not allowed"),
        ("batch_norm = [{}]", "batch_norm entry={} is not allowed: it must be true or false"),
        ("threads = [[1]]", "threads=[[1]] is not allowed"),
        ('design = [["fixed"]]', "design=[['fixed']] is not allowed: it must be a string"),
        ("kinds = [{a = 1}]", "kinds entry={'a': 1} is not allowed: it must be a string"),
        ("normalize = [[true]]", "normalize=[[True]] is not allowed: it must be true or false"),
    ],
)
def test_lists_and_tables_where_a_toml_key_wants_values_are_refused_by_name(tmp_path, capsys, text, message):
    (tmp_path / "nested.toml").write_text(text + "\n")
    argv = ["run", "--config", str(tmp_path / "nested.toml"), "--out", str(tmp_path / "run"), "--dry-run"]
    assert message in _refused(argv, capsys)


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("train", "test_acc", "abc", "train.csv has 'abc' in column test_acc (line 2): it must hold a number"),
        ("train", "seed", "x", "train.csv has 'x' in column seed (line 2): it must hold an integer"),
        ("train", "seed", 1.5, "train.csv has 1.5 in column seed (line 2): it must hold an integer"),
        ("train", "ratio", "zz", "train.csv has 'zz' in column ratio (line 2)"),
        ("train", "batch_norm", "7", "train.csv has '7' in column batch_norm (line 2): it must hold True or False"),
        ("train", "train_loss", "xx", "train.csv has 'xx' in column train_loss"),
        ("static", "params", "abc", "static.csv has 'abc' in column params (line 2): it must hold an integer"),
        ("pairs", "time_ratio_median", "fast", "pairs.csv has 'fast' in column time_ratio_median"),
        ("erf", "trained", "maybe", "erf.csv has 'maybe' in column trained (line 2): it must hold True or False"),
        ("erf", "erf_share_t50_per_model", "abc", "erf.csv has 'abc' in column erf_share_t50_per_model"),
        ("blocks", "params_vs_stack", "x", "blocks.csv has 'x' in column params_vs_stack"),
        ("train", "test_acc", None, "train.csv lacks the column(s) test_acc that the train table is read for"),
        ("train", "seed", None, "train.csv lacks the column(s) seed"),
        ("train", "variant", None, "train.csv lacks the column(s) variant"),
        ("train", "epoch", None, "train.csv lacks the column(s) epoch"),
        ("static", "rf_px", None, "static.csv lacks the column(s) rf_px that the static table is read for"),
        ("erf", "trained", None, "erf.csv lacks the column(s) trained"),
        ("blocks", "num_convs", None, "blocks.csv lacks the column(s) num_convs"),
        ("pairs", "ci_low", None, "pairs.csv lacks the column(s) ci_low"),
    ],
)
def test_a_table_with_a_column_missing_or_of_the_wrong_type_is_named(
    tmp_path, finished_run, capsys, table, column, value, message
):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    frame = pd.read_csv(run / f"{table}.csv")
    if value is None:
        frame = frame.drop(columns=[column])
    else:
        frame[column] = frame[column].astype(object)
        frame.loc[0, column] = value
    frame.to_csv(run / f"{table}.csv", index=False)
    commands = [["claim", str(run)]] + ([["power", str(run)]] if table == "train" else [])
    commands += [["report", str(run)]] if table in ("erf", "blocks") else []
    for argv in commands:
        assert message in _refused(argv, capsys)


def test_an_effective_field_table_without_per_model_shares_says_it_is_not_judged(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    erf = pd.read_csv(run / "erf.csv")
    erf.drop(columns=["erf_share_t50_per_model"]).to_csv(run / "erf.csv", index=False)
    assert main(["claim", str(run)]) == 0
    claims = pd.read_csv(run / "claim.csv")
    row = claims[claims["claim"] == "same effective receptive field"].iloc[0]
    assert row["note"].startswith("not judged: erf.csv has no erf_share_t50_per_model") and pd.isna(row["verdict"])
    assert "not judged: erf.csv has no erf_share_t50_per_model" in (run / "claim.md").read_text()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "config.json is not a configuration: it holds list, not keys and values"),
        (b"null", "config.json is not a configuration: it holds NoneType"),
        (b'"text"', "config.json is not a configuration: it holds str"),
        (b"\xff\xfe{}", "config.json is not valid JSON: 'utf-8' codec can't decode byte 0xff"),
        (b'{"bogus_key": 1}', "config.json holds a configuration vggbench cannot run: unknown config key(s) bogus_key"),
        (b'{"epochs": "many"}', "config.json holds a configuration vggbench cannot run: epochs='many' is not allowed"),
    ],
)
def test_a_config_json_that_is_not_a_configuration_is_named_by_every_command(
    tmp_path, small_run, finished_run, capsys, content, message
):
    assert small_run(capsys)[0] == 0
    (tmp_path / "run" / "config.json").write_bytes(content)
    assert message in small_run(capsys)[1] and small_run(capsys)[0] == 2
    run = tmp_path / "finished"
    shutil.copytree(finished_run.root, run)
    (run / "config.json").write_bytes(content)
    for argv in (["claim", str(run)], ["report", str(run)], ["power", str(run)]):
        assert message in _refused(argv, capsys)


def test_a_lock_whose_pid_no_process_can_have_is_stale(tmp_path, small_run, capsys):
    root = tmp_path / "run"
    root.mkdir()
    for pid in (0, -1, 10**20, "abc", True, None, [1]):  # 0 and -1 would signal a process group, or every process
        lock = {"pid": pid, "host": socket.gethostname(), "since": "2026-11-28T20:00:00+00:00"}
        (root / ".lock").write_text(json.dumps(lock))
        status, err = small_run(capsys)
        assert status == 0 and f"removed the stale lock of pid {pid!r}" in err and not (root / ".lock").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--threads", "1000000"], "threads=1000000 is not allowed: it must be an integer >= 1 and <= 4,096"),
        (["train", "--threads", str(4 * len(os.sched_getaffinity(0)) + 1)], "per core of the"),
        (["speed", "--paired", "--pairs", "1000000000000"], "pairs=1000000000000 is not allowed: it must be an "),
        (["speed", "--paired", "--rebuilds", "10000000"], "rebuilds=10000000 is not allowed"),
        (["density", "--pairs", "1000000000000"], "density_pairs=1000000000000 is not allowed (--pairs)"),
        (["train", "--epochs", "100000"], "epochs=100000 is not allowed: it must be an integer >= 1 and <= 10,000"),
        (["train", "--momentum", "5"], "momentum=5.0 is not allowed: it must be a finite number >= 0 and <= 1"),
        (["train", "--lr", "1e9"], "lr=1000000000.0 is not allowed: it must be a finite number > 0 and <= 10"),
        (["train", "--weight-decay", "5"], "weight_decay=5.0 is not allowed: it must be a finite number >= 0 and <= 1"),
        (["train", "--failure-loss-ratio", "100"], "failure_loss_ratio=100.0 is not allowed: it must be a finite"),
        (["train", "--failure-loss-ratio", "0"], "failure_loss_ratio=0.0 is not allowed"),
        (["train", "--plateau-gain", "2"], "plateau_gain=2.0 is not allowed: it must be a finite number >= 0 and <= 1"),
        (["train", "--train-limit", "1000000000000"], "train_limit=1000000000000 is not allowed"),
        (["erf", "--erf-resolution", "16"], "erf_resolution=16 is not allowed for vgg11: its 5 2x2 poolings need"),
        (["erf", "--erf-resolution", "1"], "erf_resolution=1 is not allowed for vgg11"),
        (["erf", "--images", "100000"], "erf_images=100000 is not allowed (--images)"),
        (["erf", "--untrained-models", "100000"], "erf_untrained_models=100000 is not allowed"),
        (["erf", "--erf-resolution", "100000"], "GiB of memory, more than"),
        (["density", "--channels", "100000"], "GiB of memory, more than"),
        (["density", "--kernels", "3", "10001"], "GiB of memory, more than"),
        (["erf", "--resolution", "99999999999999999999"], "resolution=99,999,999,999,999,999,999 is not allowed: at"),
        (["erf", "--num-classes", "99999999999999999999"], "num_classes=99,999,999,999,999,999,999 is not allowed"),
        (["static", "--in-channels", "99999999999999999999"], "in_channels=99,999,999,999,999,999,999 is not allowed"),
        (["static", "--arch", "custom", "--convs", "1", "--widths", "99999999999999"], "widths entry=99,999,999,999,9"),
        (["static", "--arch", "custom", "--convs", "1", "--widths", "8", "--kernel", "99999999999"], "kernel=99,999,"),
    ],
)
def test_a_value_beyond_what_the_machine_or_the_data_allow_is_refused_before_work(argv, message, capsys):
    assert message in _refused([*argv, "--device", "cpu"] if argv[0] not in ("erf", "static") else argv, capsys)


def test_a_bad_erf_resolution_in_a_config_leaves_the_folder_untouched(tmp_path, capsys):
    config = _toml(tmp_path / "bad.toml", {**SMALL, "kinds": ["erf"], "erf_resolution": 16})
    argv = ["run", "--config", str(config), "--out", str(tmp_path / "run")]
    assert "erf_resolution=16 is not allowed for vgg11" in _refused(argv, capsys)
    assert not (tmp_path / "run").exists()


class _Runs:
    """Unpickling this runs a shell command (the marker file it makes shows whether it ran)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _checkpoints(folder: Path) -> dict[str, Path]:
    """Files given as checkpoints that are not vggbench checkpoints, by name."""
    import pickle

    from vggbench.arch import ModelSpec, spec_to_dict
    from vggbench.models import build_spec

    spec = ModelSpec("vgg11", ratio=64, resolution=32)
    state, saved = build_spec(spec).state_dict(), spec_to_dict(spec)
    files = {name: folder / f"{name}.pt" for name in ("text", "empty", "cut", "pickle", "torch-pickle", "vgg13-label",
             "unknown-spec-key", "unknown-key", "vgg77")}  # fmt: skip
    files["text"].write_text("hello\n")
    files["empty"].write_bytes(b"")
    torch.save({"spec": saved, "state_dict": state}, files["cut"])
    files["cut"].write_bytes(files["cut"].read_bytes()[:3000])
    files["pickle"].write_bytes(pickle.dumps({"spec": _Runs(folder / "ran")}))
    torch.save({"spec": _Runs(folder / "ran")}, files["torch-pickle"])
    torch.save({"spec": {**saved, "arch": "vgg13"}, "state_dict": state}, files["vgg13-label"])  # vgg11's plan
    torch.save({"spec": {**saved, "colour": "red"}, "state_dict": state}, files["unknown-spec-key"])
    torch.save({"spec": saved, "state_dict": state, "optimizer": {}}, files["unknown-key"])
    torch.save({"spec": {**saved, "arch": "vgg77"}, "state_dict": state}, files["vgg77"])
    return files


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text", "is not a vggbench checkpoint: torch cannot read it (KeyError"),
        ("empty", "is not a vggbench checkpoint: torch cannot read it (EOFError)"),
        ("cut", "is not a vggbench checkpoint: torch cannot read it (RuntimeError"),
        ("pickle", "that is not weights, refused unread: nothing of it ran"),
        ("torch-pickle", "holds a pickled object (posix.system) that is not weights, refused unread"),
        ("vgg13-label", "arch='vgg13' is not allowed with convs [1, 1, 2, 2, 2], widths [64, 128, 256, 512, 512]"),
        ("unknown-spec-key", "has key(s) a vggbench checkpoint does not: colour"),
        ("unknown-key", "has key(s) a vggbench checkpoint does not: optimizer"),
        ("vgg77", "arch='vgg77' is not allowed"),
    ],
)
def test_a_file_that_is_not_a_vggbench_checkpoint_is_refused_in_one_line(tmp_path, capsys, name, message):
    path = _checkpoints(tmp_path)[name]
    assert message in _refused(["erf", "--checkpoint", str(path), "--images", "2"], capsys)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        (["--convs", "1", "--widths", "1", "--kernel", "10001", "--variant", "stack"], "GiB of memory, more than"),
        (["--convs", "2", "--widths", "1", "--kernel", "5001", "--variant", "single"], "GiB of memory, more than"),
        (["--convs", "1000000", "--widths", "8", "--variant", "stack"], "GiB of memory, more than"),
        (["--convs", "1000000000", "--widths", "8"], "convs_per_block entry=1,000,000,000 is not allowed"),
    ],
)
def test_a_static_count_too_large_to_hold_is_refused_at_once(plan, message, capsys):
    started = time.perf_counter()
    argv = ["static", "--arch", "custom", *plan, "--ratio", "1", "--resolution", "32"]
    assert message in _refused(argv, capsys)
    assert time.perf_counter() - started < 10  # counted from the spec: nothing built, nothing run


@pytest.mark.parametrize(
    ("values", "trials"),
    [
        ({"seeds": list(range(100_000))}, "900,055 trials (static 9, speed 18, pairs 6, train 900,000, erf 18"),
        (
            {
                "archs": ["vgg11", "vgg13", "vgg16", "vgg19"],
                "variants": ["stack", "single", "linear-stack", "single-fits", "dilated", "depthwise"],
                "ratios": [4, 8, 16, 32, 64],
                "resolutions": [32, 64, 96],
                "batch_norm": [False, True],
                "seeds": list(range(50)),
            },
            "39,844 trials (static 720, speed 1,440, pairs 240, train 36,000, erf 1,440, density 4)",
        ),
    ],
    ids=["1e5-seeds", "720-models-50-seeds"],
)
def test_a_huge_grid_is_counted_at_once_and_refused_without_large(tmp_path, capsys, values, trials):
    config = _toml(tmp_path / "huge.toml", values)
    argv = ["run", "--config", str(config), "--out", str(tmp_path / "run"), "--device", "cpu"]
    started = time.perf_counter()
    assert main([*argv, "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out.startswith(trials.split(" (")[0] + " planned (") and "estimating their time" in out  # said first
    assert f"the configuration plans {trials}" in err and "more than the 10,000 a run takes without --large" in err
    assert "Traceback" not in err and time.perf_counter() - started < 20
    assert f"the configuration plans {trials}" in _refused(argv, capsys)  # a run alike, before its folder is made
    assert time.perf_counter() - started < 40 and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda path: path.write_bytes(b"\x00\x01garbage" * 10),
            "is not a readable .npy map: it holds pickled objects",
        ),
        (lambda path: path.write_bytes(b""), "is not a readable .npy map: No data left in file"),
        (lambda path: path.write_bytes(path.read_bytes()[:200]), "is not a readable .npy map: Failed to read all data"),
        (lambda path: np.save(path, np.array([{"a": 1}], dtype=object)), "it holds pickled objects, refused unread"),
        (lambda path: np.save(path, np.zeros((2, 3, 4))), "is not a map: it holds float64 of shape (2, 3, 4)"),
        (lambda path: np.save(path, np.array(["a", "b"])), "is not a map: it holds <U1 of shape (2,)"),
    ],
    ids=["garbage", "empty", "cut", "object-array", "3-d", "text"],
)
def test_a_damaged_effective_field_map_is_named_by_the_report(tmp_path, finished_run, capsys, damage, message):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    path = sorted((run / "erf_maps").glob("*.npy"))[0]
    damage(path)
    err = _refused(["report", str(run)], capsys)
    assert str(path) in err and message in err


def test_a_toml_file_that_is_not_utf8_is_named(tmp_path, capsys):
    (tmp_path / "latin1.toml").write_bytes('device = "cpu" # café\n'.encode("latin-1"))
    argv = ["run", "--config", str(tmp_path / "latin1.toml"), "--dry-run"]
    assert f"config file {tmp_path / 'latin1.toml'} is not valid TOML: it is not UTF-8 text" in _refused(argv, capsys)


def test_publish_reads_the_run_only_and_makes_missing_reports_in_its_copy(tmp_path, finished_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    shutil.rmtree(run / "trials")  # the one copy of the results is now the tables
    (run / "claim.md").unlink()
    (run / "report.html").unlink()
    before = {path.name: path.read_bytes() for path in run.glob("*.csv")}
    assert main(["publish", str(run), "--results", str(tmp_path / "results")]) == 0
    assert {path.name: path.read_bytes() for path in run.glob("*.csv")} == before  # not rewritten, not emptied
    assert not (run / "claim.md").exists() and not (run / "report.html").exists()  # the run is not written
    published = next((tmp_path / "results").glob("run-cpu-*"))
    assert (published / "static.csv").read_bytes() == before["static.csv"]
    assert "# The kernel-stacking claim: run" in (published / "claim.md").read_text()
    assert (published / "report.html").is_file()

    from vggbench import study

    with pytest.raises(ValueError, match=r"lacks \d+ of its \d+ trials .*its tables are left as they are"):
        study.finish_folder(run)  # no table is made from part of the trials
    assert {path.name: path.read_bytes() for path in run.glob("*.csv")} == before


def _link_folder(folder: Path, elsewhere: Path) -> None:
    """Move `folder` out of the run and leave a symbolic link to it in its place."""
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere)


@pytest.mark.parametrize(
    ("plant", "message"),
    [
        (
            lambda run: (run / "figures" / "passwd.png").symlink_to("/etc/passwd"),
            "figures/passwd.png (a symbolic link to /etc/passwd)",
        ),
        (lambda run: (run / "extra.csv").symlink_to("/etc/hostname"), "extra.csv (a symbolic link to /etc/hostname)"),
        (lambda run: (run / "erf_maps" / "sub").mkdir(), "erf_maps/sub (a folder)"),
        (lambda run: os.mkfifo(run / "figures" / "pipe.png"), "figures/pipe.png (not a regular file)"),
        (lambda run: _link_folder(run / "figures", run.parent / "elsewhere"), "figures (a symbolic link to"),
    ],
    ids=["link-to-a-system-file", "linked-table", "folder", "fifo", "linked-folder"],
)
def test_publish_copies_regular_files_inside_the_run_only(tmp_path, finished_run, capsys, plant, message):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    plant(run)
    err = _refused(["publish", str(run), "--results", str(tmp_path / "results")], capsys)
    assert "publish copies only as regular files inside the run folder" in err and message in err
    assert not (tmp_path / "results").exists()  # refused before anything was copied


@pytest.mark.parametrize(
    "swap",
    [
        lambda run: _swap_for_link(run / "static.csv", "/etc/hostname"),
        lambda run: _link_folder(run / "figures", run.parent / "elsewhere"),
        lambda run: ((run / "static.csv").unlink(), os.mkfifo(run / "static.csv")),
    ],
    ids=["file-to-link", "folder-to-link", "file-to-fifo"],
)
def test_publish_refuses_what_was_swapped_after_its_check(tmp_path, finished_run, capsys, monkeypatch, swap):
    # The check and the copy are two steps: a file or folder turned into a link or a fifo between them is not
    # followed (each path is opened folder by folder without following links), and nothing is published.
    from vggbench import publish

    run, results = tmp_path / "run", tmp_path / "results"
    shutil.copytree(finished_run.root, run)
    checked = publish._regular_files

    def check_then_swap(directory):
        names = checked(directory)
        swap(run)
        return names

    monkeypatch.setattr(publish, "_regular_files", check_then_swap)
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert "changed while publishing" in err and "publish again" in err
    assert not [path for path in results.iterdir() if path.name != "README.md"]  # no folder, no staging left


def _swap_for_link(path, target) -> None:
    path.unlink()
    path.symlink_to(target)


def test_publish_checks_the_index_before_it_moves_anything(tmp_path, finished_run, capsys, monkeypatch):
    run, results = tmp_path / "run", tmp_path / "results"
    shutil.copytree(finished_run.root, run)
    results.mkdir()
    (results / "README.md").write_bytes(b"# Published\n\xff\xfe\n")
    assert "the results index" in _refused(["publish", str(run), "--results", str(results)], capsys)
    (results / "README.md").unlink()
    (results / "README.md").mkdir()
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert f"the results index {results / 'README.md'} is a folder" in err
    assert [path.name for path in results.iterdir()] == ["README.md"]  # nothing moved in
    (results / "README.md").rmdir()
    assert main(["publish", str(run), "--results", str(results)]) == 0
    published = next(results.glob("run-cpu-*"))
    index, page = (results / "README.md").read_text(), (published / "report.html").read_bytes()
    (run / "report.html").write_text("a newer report")

    from vggbench import publish

    def full_disk(path, text):
        raise OSError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(publish, "write_text", full_disk)  # the index fails last: the earlier publication stays
    assert main(["publish", str(run), "--results", str(results)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert (published / "report.html").read_bytes() == page and (results / "README.md").read_text() == index
    assert sorted(path.name for path in results.iterdir()) == ["README.md", published.name]


def test_a_trial_downstream_of_a_changed_or_redone_trial_is_redone_and_said_so(tmp_path, small_run, capsys):
    fields = {"kinds": ["static", "train", "erf"], "erf_images": 4, "erf_untrained_models": 2, "erf_resamples": 2}
    fields.update(train_limit=128, seeds=[0, 1])  # (one seed's 128 images can leave a model whose field is zero)
    assert small_run(capsys, **fields)[0] == 0
    root = tmp_path / "run"
    trained = [root / "trials" / "erf" / f"vgg11-{variant}-r64-px32-trained.json" for variant in ("stack", "single")]
    first = [path.read_text() for path in trained]
    status, err = small_run(capsys, "--force", **{**fields, "train_limit": 256})  # training changes, so do its maps
    assert status == 0 and "4 already done, 6 to run (again: 6 made under another config)" in err
    assert [path.read_text() for path in trained] != first  # measured again, on the new checkpoints
    assert "10 already done, 0 to run" in small_run(capsys, **{**fields, "train_limit": 256})[1]
    (root / "checkpoints" / "vgg11-stack-r64-px32-seed0.pt").unlink()  # retrained under the same configuration
    status, err = small_run(capsys, **{**fields, "train_limit": 256})
    assert "(again: 1 with a file cut short or corrupt, 1 reading the files of a trial redone)" in err, err
    assert status == 0, err


def test_an_effective_field_of_a_checkpoint_is_redone_when_the_file_changes(tmp_path, synthetic_root, capsys):
    from vggbench.arch import ModelSpec
    from vggbench.measure.checkpoints import save_checkpoint
    from vggbench.models import build_spec

    checkpoint, spec = tmp_path / "model.pt", ModelSpec("vgg11", ratio=8, resolution=32)
    torch.manual_seed(0)
    save_checkpoint(checkpoint, build_spec(spec), spec)
    fields = {"kinds": ["erf"], "erf_checkpoints": [str(checkpoint)], "erf_images": 2, "erf_resamples": 2}
    config = _toml(tmp_path / "erf.toml", {**SMALL, **fields})
    argv = ["run", "--config", str(config), "--out", str(tmp_path / "erf"), "--data-root", str(synthetic_root)]
    assert main(argv) == 0
    assert main(argv) == 0 and "1 already done, 0 to run" in capsys.readouterr().err
    saved = torch.load(checkpoint, weights_only=True)
    saved["state_dict"] = {name: tensor + 0.01 for name, tensor in saved["state_dict"].items()}
    torch.save(saved, checkpoint)  # other weights under the same name
    assert main(argv) == 0
    assert "0 already done, 1 to run (again: 1 made under another config)" in capsys.readouterr().err


def test_text_from_the_tables_and_the_folder_name_is_escaped_in_claim_md(tmp_path, finished_run, capsys):
    run = tmp_path / "run <i>|x"
    shutil.copytree(finished_run.root, run)
    hostile = "<script>alert(1)</script> | [link](javascript:alert(1)) `x`\\nsecond line"
    pairs = pd.read_csv(run / "pairs.csv")
    pairs["device"] = hostile.replace("\\n", "\n")
    pairs.to_csv(run / "pairs.csv", index=False)
    failures = pd.DataFrame([{"kind": "static", "trial": "t|1", "error": "<img src=x onerror=alert(1)>\n| a | b |"}])
    failures.to_csv(run / "failures.csv", index=False)
    assert main(["claim", str(run)]) == 0
    text = (run / "claim.md").read_text()
    for raw in ("<script>", "<img", "<i>"):
        assert raw not in text, raw
    assert not re.search(r"(?<!\\)\]\(javascript", text)  # no link: its bracket is escaped
    assert "&lt;script&gt;alert(1)&lt;/script&gt; \\| \\[link\\](javascript:alert(1)) \\`x\\` second line" in text
    assert "# The kernel-stacking claim: run &lt;i&gt;\\|x" in text
    for table in text.split("\n\n"):  # every row of every table has as many cells as its header
        rows = [line for line in table.splitlines() if line.startswith("|")]
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) <= 1, table


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["speed", "--pairs", "0"], "--pairs applies with --paired: without it, it would be ignored"),
        (["speed", "--rebuilds", "99999999999999999999"], "--rebuilds applies with --paired"),
        (["run", "--dry-run", "--ray-retries", "-1"], "--ray-retries -1 needs --executor ray"),
        (["run", "--dry-run", "--ray-address", "abc"], "--ray-address abc needs --executor ray"),
    ],
)
def test_an_option_that_would_be_ignored_is_refused(argv, message, capsys):
    assert message in _refused(argv, capsys)


# Issue 32: nothing outside the run touched or copied, and every value checked. One section per class of hole; each
# test drives its class through the command line (the Python API's misuse through the API).


# --- 32.1/32.6: publish copies the run's own files only, within stated sizes -------------------------------------


# --- 32.1/32.8: outputs are new regular files; what is written is safe to open and print ---------------------------


def _special(path: Path, what: str) -> Path:
    """`path` made into `what`: a fifo, a symbolic link to a file beside it (or to nothing), a character device (as
    /dev/null), or a folder."""
    if what == "fifo":
        os.mkfifo(path)
    elif what == "symbolic link":
        (path.parent / "target.txt").write_text("kept")
        path.symlink_to(path.parent / "target.txt")
    elif what == "symbolic link to nothing":
        path.symlink_to(path.parent / "nowhere")
    elif what == "character device":
        if os.geteuid() != 0:
            pytest.skip("making a device node needs root")
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        path.mkdir()
    return path


def _unchanged(path: Path, what: str) -> None:
    mode = os.lstat(path).st_mode
    tests = {
        "fifo": stat.S_ISFIFO,
        "symbolic link": stat.S_ISLNK,
        "symbolic link to nothing": stat.S_ISLNK,
        "character device": stat.S_ISCHR,
        "folder": stat.S_ISDIR,
    }
    assert tests[what](mode), f"{path} is no longer a {what}"
    assert not (path.parent / "target.txt").exists() or (path.parent / "target.txt").read_text() == "kept"


SPECIAL = ["fifo", "symbolic link", "character device", "folder"]


@pytest.mark.parametrize("what", SPECIAL)
@pytest.mark.parametrize(
    "argv",
    [
        ["static", "--arch", "vgg11", "--ratio", "64", "--out"],
        ["static", "--arch", "vgg11", "--ratio", "64", "--layers"],
        ["train", "--epochs", "1", "--save-checkpoint"],
        ["compare", "a", "b", "--out"],
        ["power", "a", "--out"],
    ],
    ids=["static --out", "static --layers", "train --save-checkpoint", "compare --out", "power --out"],
)
def test_an_output_option_naming_what_is_not_a_regular_file_is_refused_before_work(tmp_path, argv, what, capsys):
    target = _special(tmp_path / "out.csv", what)
    err = _refused([*argv, str(target)], capsys)
    assert f"{target} is a {what}, not a regular file: vggbench never replaces one" in err
    _unchanged(target, what)


@pytest.mark.parametrize("what", ["fifo", "character device", "file", "symbolic link to nothing"])
def test_an_output_folder_option_naming_what_is_not_a_folder_is_refused(tmp_path, what, capsys):
    target = tmp_path / "run"
    target.write_text("kept") if what == "file" else _special(target, what)
    err = _refused(["run", "--dry-run", "--out", str(target)], capsys)
    assert f"{target} is a {what}, not a folder" in err
    assert target.read_text() == "kept" if what == "file" else _unchanged(target, what) is None


@pytest.mark.parametrize("what", SPECIAL)
@pytest.mark.parametrize("name", ["claim.csv", "claim.md", "figures/forest.png"])
def test_a_file_in_a_run_folder_that_is_not_a_regular_file_is_never_replaced(
    tmp_path, finished_run, name, what, capsys
):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    (run / name).unlink()
    target = _special(run / name, what)
    command = "report" if name.startswith("figures") else "claim"
    err = _refused([command, str(run)], capsys)
    assert f"{target} is a {what}, not a regular file" in err
    _unchanged(target, what)


def test_csv_cells_a_spreadsheet_would_run_are_made_inert_and_numbers_stay_numbers(tmp_path, finished_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    pairs = pd.read_csv(run / "pairs.csv")
    formulas = ["=cmd|' /C calc'!A0", "+1+cmd|x", "-2+3+cmd|x", "@SUM(1)", "\t=1", "\r=1"]
    pairs["device"] = [formulas[index % len(formulas)] for index in range(len(pairs))]
    pairs.to_csv(run / "pairs.csv", index=False)
    assert main(["claim", str(run)]) == 0
    with open(run / "claim.csv", newline="", encoding="utf-8") as stream:
        cells = [cell for row in csv.reader(stream) for cell in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not [cell for cell in cells if cell[:1] in ("=", "+", "@", "\t", "\r")], "a formula reached claim.csv"
    assert not [cell for cell in cells if cell.startswith("-") and not re.fullmatch(r"-[\d.e+-]+|-inf", cell)]
    claims = pd.read_csv(run / "claim.csv")
    assert (claims["difference"] < 0).any() and claims["difference"].dtype == float  # negatives kept as numbers
    assert main(["report", str(run)]) == 0  # and the tables read back


def test_control_characters_from_tables_and_a_lock_never_reach_the_terminal_or_claim_md(
    tmp_path, finished_run, small_run, capsys
):
    run = tmp_path / "finished"
    shutil.copytree(finished_run.root, run)
    hostile = "\x1b[2J\x1b]0;pwned\x07evil\rX\x9b31m\u202etxt.exe\x00\x7f"
    pairs = pd.read_csv(run / "pairs.csv")
    pairs["device"] = hostile
    pairs.to_csv(run / "pairs.csv", index=False, quoting=csv.QUOTE_NONNUMERIC)  # the carriage return kept
    failures = pd.DataFrame([{"kind": "static", "trial": "t", "error": hostile}])
    failures.to_csv(run / "failures.csv", index=False, quoting=csv.QUOTE_NONNUMERIC)
    assert main(["claim", str(run)]) == 0
    shown = capsys.readouterr().out + (run / "claim.md").read_text(encoding="utf-8")
    assert "evilX31mtxt.exe" in shown
    (tmp_path / "run").mkdir()
    lock = {"pid": 1, "host": f"elsewhere{hostile}", "since": hostile}  # another host's: in use
    (tmp_path / "run" / ".lock").write_text(json.dumps(lock))
    status, err = small_run(capsys)
    assert status == 2 and "in use by pid 1 on elsewhere[2J]0;pwnedevilX31mtxt.exe" in err
    for control in ("\x1b", "\x07", "\r", "\x9b", "\u202e", "\x00", "\x7f"):
        assert control not in shown + err, repr(control)


def test_a_lock_that_is_not_a_regular_file_is_refused_not_removed(tmp_path, small_run, capsys):
    lock = tmp_path / "run" / ".lock"
    lock.mkdir(parents=True)
    status, err = small_run(capsys)
    assert status == 2 and f"{lock} is a folder, not a lock file" in err and lock.is_dir()
    lock.rmdir()
    lock.symlink_to(tmp_path / "small.toml")
    status, err = small_run(capsys)
    assert status == 2 and f"{lock} is a symbolic link, not a lock file" in err and lock.is_symlink()


def _vggbench(*argv: str, cwd=None, stdout=subprocess.PIPE, **env: str | None) -> subprocess.CompletedProcess:
    """`python -m vggbench argv` in a process of its own, under this environment changed by `env` (None: unset)."""
    changed = {key: value for key, value in {**os.environ, **env}.items() if value is not None}
    package = str(Path(__file__).resolve().parents[1])
    changed["PYTHONPATH"] = os.pathsep.join(filter(None, [package, changed.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "vggbench", *argv]
    return subprocess.run(command, cwd=cwd, env=changed, stdout=stdout, stderr=subprocess.PIPE, timeout=300)


def test_an_ascii_locale_and_a_path_that_is_not_ascii_end_in_no_traceback(tmp_path, finished_run):
    run = tmp_path / "runé ü"
    shutil.copytree(finished_run.root, run)
    pairs = pd.read_csv(run / "pairs.csv")
    pairs["device"] = "Gerät…"
    pairs.to_csv(run / "pairs.csv", index=False)
    ascii_locale = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    done = _vggbench("claim", str(run), PYTHONIOENCODING=None, **ascii_locale)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr.decode()
    text = (run / "claim.md").read_text(encoding="utf-8")
    assert "# The kernel-stacking claim: runé ü" in text and "Gerät…" in text


def test_a_closed_pipe_ends_a_command_quietly(tmp_path):
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: as `| head -1` once it has its line
    tables = ["--out", str(tmp_path / "static.csv"), "--layers", str(tmp_path / "layers.csv")]
    try:
        done = [_vggbench(*argv, stdout=write) for argv in (["--help"], ["static", "--arch", "vgg11", *tables])]
    finally:
        os.close(write)
    for command in done:
        assert command.returncode == 0, command.stderr.decode()
        assert b"Broken pipe" not in command.stderr and b"Traceback" not in command.stderr, command.stderr.decode()
    assert len(pd.read_csv(tmp_path / "static.csv")) == 3 and len(pd.read_csv(tmp_path / "layers.csv")) > 3


def test_no_home_no_usable_temporary_folder_or_a_deleted_working_folder_end_in_one_line(tmp_path):
    out = tmp_path / "static.csv"
    static = ["static", "--arch", "vgg11", "--ratio", "64", "--out", str(out)]
    for env in ({"HOME": None}, {"TMPDIR": str(tmp_path / "missing")}, {"TMPDIR": str(out.parent / "a-file")}):
        (tmp_path / "a-file").write_text("")
        done = _vggbench(*static, **env)
        assert done.returncode == 0 and b"Traceback" not in done.stderr, (env, done.stderr.decode())
    gone = shlex.quote(str(tmp_path / "gone"))
    script = f'mkdir {gone} && cd {gone} && rmdir {gone} && exec "$@"'
    python = [sys.executable, "-m", "vggbench"]
    for argv, status in ((["--help"], 0), (static, 1)):
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        done = subprocess.run(["sh", "-c", script, "sh", *python, *argv], env=env, capture_output=True, timeout=300)
        err = done.stderr.decode()
        assert done.returncode == status and "Traceback" not in err and len(err.strip().splitlines()) == status, err
    assert "the working folder was deleted" in err


# --- 32.2/32.3: one check of the whole configuration, read with limits ------------------------------------------------


# --- 32.4/32.5/32.6: published tables and compare validated; the Python API's misuse named ------------------------


# --- 32.7: a run directory that trusts no file it reads back -----------------------------------------------------

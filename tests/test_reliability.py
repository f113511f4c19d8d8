"""Reliability through the command line: a run directory that cannot lie, and every input checked before work
starts. Each test drives one class of fault (not only one example of it) through `vggbench`."""

import csv
import dataclasses
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

import vggbench
from vggbench.cli import main
from vggbench.engine import registry

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
    # The commit as git names it, marked where vggbench's files differ from it: a run from an edited checkout says so.
    package = Path(vggbench.__file__).parent

    def git(*arguments: str) -> str:
        return subprocess.run(["git", *arguments], cwd=package, capture_output=True, text=True).stdout.strip()

    head, edited = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "--untracked-files=no", "--", ".")
    assert first["git_commit"] == ((head + ("+changes" if edited else "")) if head else None)  # None outside git


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


@pytest.mark.slow
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
        ({"epochs": [2, "2"]}, "epochs='2' is not allowed: it must be an integer >= 1"),
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
    from vggbench.models.arch import ModelSpec, spec_to_dict

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


@pytest.mark.slow
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

    from vggbench.models.arch import ModelSpec, spec_to_dict
    from vggbench.models.vgg import build_spec

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
            "39,484 trials (static 720, speed 1,440, pairs 240, train 36,000, erf 1,080, density 4)",
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
        (lambda path: path.write_bytes(path.read_bytes()[:200]), "is not a readable .npy map: EOF: reading array data"),
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

    from vggbench.engine import study

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
    from vggbench.reporting import publish

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

    from vggbench.reporting import publish

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


@pytest.mark.slow
def test_an_effective_field_of_a_checkpoint_is_redone_when_the_file_changes(tmp_path, synthetic_root, capsys):
    from vggbench.measure.checkpoints import save_checkpoint
    from vggbench.models.arch import ModelSpec
    from vggbench.models.vgg import build_spec

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
def _publish_copy(tmp_path, finished_run) -> tuple[Path, Path]:
    """A copy of the finished run to publish, and where it goes."""
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    return run, tmp_path / "results"


@pytest.mark.parametrize(
    ("plant", "name"),
    [
        (lambda run, outside: os.link(outside, run / "figures" / "secret.png"), "figures/secret.png"),
        (lambda run, outside: os.link(outside, run / "extra.csv"), "extra.csv"),
        (lambda run, outside: (outside.unlink(), os.link(run / "metadata.json", outside)), "metadata.json"),
    ],
    ids=["figure-linked-in", "table-linked-in", "metadata-linked-out"],
)
def test_publish_refuses_a_hard_link_which_may_name_a_file_outside_the_run(tmp_path, finished_run, capsys, plant, name):
    run, results = _publish_copy(tmp_path, finished_run)
    outside = tmp_path / "outside.txt"  # as /etc/passwd would be: a file of another folder sharing a run's file
    outside.write_text("not the run's")
    plant(run, outside)
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert f"{name} (a file with 2 hard links, which may name a file outside the run)" in err
    assert not results.exists()


def test_publish_refuses_a_hard_link_swapped_in_after_its_check(tmp_path, finished_run, capsys, monkeypatch):
    from vggbench.reporting import publish

    run, results = _publish_copy(tmp_path, finished_run)
    (tmp_path / "outside.txt").write_text("not the run's")
    checked = publish._regular_files

    def check_then_link(directory):
        names = checked(directory)
        (run / "static.csv").unlink()
        os.link(tmp_path / "outside.txt", run / "static.csv")
        return names

    monkeypatch.setattr(publish, "_regular_files", check_then_link)
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert "static.csv changed while publishing (a file with 2 hard links" in err
    assert not [path for path in results.iterdir() if path.name != "README.md"]
    assert not any("not the run's" in path.read_text(errors="replace") for path in results.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"figures/stray.png": 300_000_000}, "above publish's limit of 50 MB a file: figures/stray.png (300 MB)"),
        ({"big.csv": 50_000_001}, "above publish's limit of 50 MB a file: big.csv (50.0 MB)"),
        (
            {f"erf_maps/big{i}.npy": 45_000_000 for i in range(5)},
            "MB to publish, above publish's limit of 200 MB in all",
        ),
    ],
    ids=["stray-figure", "table-one-byte-over", "total"],
)
def test_publish_refuses_files_above_its_size_limits(tmp_path, finished_run, capsys, sizes, message):
    run, results = _publish_copy(tmp_path, finished_run)
    for name, size in sizes.items():
        with open(run / name, "wb") as stream:
            stream.truncate(size)  # sparse: no disk, no time
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert message in err and str(run) in err
    assert not results.exists()


def test_publish_reports_what_it_leaves_out_of_the_run(tmp_path, finished_run, capsys):
    run, results = _publish_copy(tmp_path, finished_run)
    with open(run / "stray.bin", "wb") as stream:
        stream.truncate(300_000_000)
    (run / "scratch").mkdir()
    assert main(["publish", str(run), "--results", str(results)]) == 0
    err = capsys.readouterr().err
    assert f"{run}: left out, not what publish copies: scratch/, stray.bin (300 MB)" in err
    assert "trials" not in err and "checkpoints" not in err  # the run's own working files go unsaid
    published = next(results.glob("run-cpu-*"))
    assert not (published / "stray.bin").exists() and not (published / "scratch").exists()


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (lambda results: results / "run-cpu-2000-01-01", "the published folder {results}/run-cpu-2000-01-01 is a symb"),
        (lambda results: results, "the results folder {results} is a symbolic link to"),
    ],
    ids=["published-folder", "results-folder"],
)
def test_publish_refuses_a_target_that_is_a_symbolic_link(tmp_path, finished_run, capsys, link, message):
    run, results = _publish_copy(tmp_path, finished_run)
    meta = json.loads((run / "metadata.json").read_text())
    (run / "metadata.json").write_text(json.dumps({**meta, "ended": "2000-01-01T00:00:00"}))
    if link(results) != results:
        results.mkdir()
    (tmp_path / "elsewhere").mkdir()
    link(results).symlink_to(tmp_path / "elsewhere")
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert message.format(results=results) in err
    assert not list((tmp_path / "elsewhere").iterdir())  # nothing written where the link points
    assert [path.name for path in results.iterdir()] in ([], ["run-cpu-2000-01-01"])  # the link alone, no leftover
    assert link(results).is_symlink()


INDEX_TABLE = (
    "| folder | run | device | date | commit |\n| --- | --- | --- | --- | --- |\n| `old/` | old | cpu | x | y |\n"
)


@pytest.mark.parametrize(
    "index",
    [
        "# Results\n\nNew runs are listed under ## Published runs, below.\n",
        f"# Results\n\n## Published runs \t\n\n{INDEX_TABLE}\nText below the table.\n",
        f"# Results\n\nAn index looks so:\n\n```md\n## Published runs\n\n{INDEX_TABLE}```\n",
    ],
    ids=["heading-in-a-sentence", "heading-with-trailing-blanks", "heading-in-code-blocks"],
)
def test_publish_finds_the_index_heading_as_a_line_of_its_own(tmp_path, finished_run, capsys, index):
    run, results = _publish_copy(tmp_path, finished_run)
    results.mkdir()
    (results / "README.md").write_text(index)
    assert main(["publish", str(run), "--results", str(results)]) == 0, capsys.readouterr().err
    lines = (results / "README.md").read_text().splitlines()
    row = next(number for number, line in enumerate(lines) if line.startswith("| `run-cpu-"))
    first = row
    while lines[first - 1].startswith("|"):
        first -= 1
    assert lines[first].startswith("| folder |") and lines[first - 2].rstrip() == "## Published runs"
    assert sum(line.startswith("```") for line in lines[:row]) % 2 == 0  # outside a code block
    assert lines[-1] in (lines[row], "Text below the table.")  # text below the table stays below


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (f"## Published runs\n\n{INDEX_TABLE}\n## Published runs\n\n{INDEX_TABLE}", "on lines 1, 7: keep one"),
        ("# Results\n\n```\n## Published runs\n", "has a code block that is never closed (line 3)"),
        ("## Published runs\n\nRuns below.\n\n## Next\n", "has no table of published runs under '## Published runs'"),
        ("## Published runs\n\n| a | b |\n| - | - |\n", "has no table of published runs under '## Published runs'"),
    ],
    ids=["heading-twice", "open-code-block", "no-table", "another-table"],
)
def test_publish_refuses_an_index_it_cannot_read_in_one_line(tmp_path, finished_run, capsys, index, message):
    run, results = _publish_copy(tmp_path, finished_run)
    results.mkdir()
    (results / "README.md").write_text(index)
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert f"the results index {results / 'README.md'} " in err and message in err
    assert [path.name for path in results.iterdir()] == ["README.md"] and (results / "README.md").read_text() == index


@pytest.mark.parametrize("inside", [".", "results", "figures"])
def test_publish_refuses_a_results_folder_inside_the_run(tmp_path, finished_run, capsys, inside):
    run, _ = _publish_copy(tmp_path, finished_run)
    before = sorted(path.relative_to(run) for path in run.rglob("*"))
    err = _refused(["publish", str(run), "--results", str(run / inside)], capsys)
    assert f"lies inside the run {run}: publish outside it" in err
    assert sorted(path.relative_to(run) for path in run.rglob("*")) == before


@pytest.mark.parametrize("how", ["hard-link", "huge"])
def test_publish_reads_only_an_index_of_its_own_within_its_limit(tmp_path, finished_run, capsys, how):
    from vggbench.reporting import publish

    run, results = _publish_copy(tmp_path, finished_run)
    results.mkdir()
    outside = tmp_path / "outside.md"
    outside.write_text("## Published runs\n\nsecret\n")
    if how == "hard-link":  # its text would be copied into the index, a file outside results/ read
        os.link(outside, results / "README.md")
        message = "a file with 2 hard links"
    else:
        with open(results / "README.md", "wb") as index:
            index.truncate(publish.MAX_FILE_BYTES + 1)
        message = f"holds {publish.MAX_FILE_BYTES + 1:,} bytes"
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert f"the results index {results / 'README.md'} " in err or f"{results / 'README.md'} holds" in err
    assert message in err and [path.name for path in results.iterdir()] == ["README.md"]
    assert outside.read_text() == "## Published runs\n\nsecret\n"


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "force"])
@pytest.mark.parametrize("known_by", ["mark", "index"])
def test_a_published_folder_is_refused_as_a_runs_output(
    tmp_path, finished_run, synthetic_root, capsys, force, known_by
):
    run, results = _publish_copy(tmp_path, finished_run)
    assert main(["publish", str(run), "--results", str(results)]) == 0
    published = next(results.glob("run-cpu-*"))
    meta = json.loads((published / "metadata.json").read_text())
    assert meta.pop("published")["folder"] == published.name  # the one change to the run's metadata
    assert meta == json.loads((run / "metadata.json").read_text())
    if known_by == "index":  # as a folder published before publish marked its copies
        (published / "metadata.json").write_text(json.dumps(meta))
    before = {path: path.read_bytes() for path in published.rglob("*") if path.is_file()}
    config = _toml(tmp_path / "small.toml", SMALL)
    argv = ["run", "--config", str(config), "--out", str(published), "--data-root", str(synthetic_root), *force]
    err = _refused(argv, capsys)
    assert f"{published} is a published folder (" in err and "run into another folder" in err
    assert _refused([*argv, "--dry-run"], capsys) == err  # the dry run refuses it as the run does
    assert {path: path.read_bytes() for path in published.rglob("*") if path.is_file()} == before  # untouched


@pytest.mark.parametrize("where", ["inside", "results"])
def test_a_folder_inside_a_published_one_or_a_results_folder_is_refused_as_a_runs_output(
    tmp_path, finished_run, synthetic_root, capsys, where
):
    run, results = _publish_copy(tmp_path, finished_run)
    assert main(["publish", str(run), "--results", str(results)]) == 0
    published = next(results.glob("run-cpu-*"))
    out = published / "sub" if where == "inside" else results
    before = sorted(results.rglob("*"))
    config = _toml(tmp_path / "small.toml", SMALL)
    err = _refused(["run", "--config", str(config), "--out", str(out), "--data-root", str(synthetic_root)], capsys)
    said = f"lies inside {published}, which is a published folder" if where == "inside" else "holds a results index"
    assert said in err and sorted(results.rglob("*")) == before  # nothing written
    dry = ["run", "--config", str(config), "--out", str(out), "--dry-run"]
    assert _refused(dry, capsys) == err and sorted(results.rglob("*")) == before


def test_publish_refuses_a_run_that_a_live_process_holds(tmp_path, finished_run, capsys):
    run, results = _publish_copy(tmp_path, finished_run)
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "since": "2026-12-07T10:00:00+00:00"}
    (run / ".lock").write_text(json.dumps(lock))  # this test process: alive
    err = _refused(["publish", str(run), "--results", str(results)], capsys)
    assert f"{run} is in use by pid {os.getpid()}" in err and not results.exists()


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


@pytest.mark.slow
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


@pytest.mark.slow
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


def _dry_run(tmp_path: Path, values: dict) -> list[str]:
    """`vggbench run --dry-run` of a static-only SMALL with `values`, from a TOML file."""
    config = _toml(tmp_path / "study.toml", {**SMALL, "kinds": ["static"], **values})
    return ["run", "--config", str(config), "--dry-run", "--out", str(tmp_path / "run")]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"epochs": -1}, "epochs=-1 is not allowed: it must be an integer >= 1"),
        ({"speed_precision": "fp64"}, "speed_precision='fp64' is not allowed (--precision): choose one of fp32"),
        ({"density_kernels": [1, 5]}, "density_kernels=(1, 5) is not allowed: it must hold 3"),
        ({"erf_images": 0}, "erf_images=0 is not allowed"),
        ({"pairs": 10**9}, "pairs=1000000000 is not allowed"),
    ],
    ids=["train", "speed", "density", "erf", "pairs"],
)
def test_every_kinds_values_are_checked_though_only_static_runs(tmp_path, capsys, values, message):
    assert message in _refused(_dry_run(tmp_path, values), capsys)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["kinds", ["static", "static"]], "kinds=('static', 'static') is not allowed: give each value once (static"),
        (["archs", ["vgg11", "vgg13", "vgg11"]], "archs=('vgg11', 'vgg13', 'vgg11') is not allowed (--arch): give"),
        (["variants", ["stack", "stack"]], "variants=('stack', 'stack') is not allowed (--variant): give each value"),
        (["ratios", [64, 64]], "ratios=(64, 64) is not allowed (--ratio): give each value once (64 repeated)"),
        (["resolutions", [32, 32]], "resolutions=(32, 32) is not allowed (--resolution): give each value once"),
        (["batch_norm", [True, True]], "batch_norm=(True, True) is not allowed: give each value once (True repeated)"),
        (["speed_modes", ["infer", "infer"]], "speed_modes=('infer', 'infer') is not allowed (--mode): give each"),
        (["speed_batch_size", [2, 2]], "speed_batch_size=(2, 2) is not allowed (--batch-size): give each value once"),
        (["density_kernels", [3, 5, 3]], "density_kernels=(3, 5, 3) is not allowed (--kernels): give each value"),
        (["density_sides", [8, 8]], "density_sides=(8, 8) is not allowed (--side): give each value once (8"),
        (["erf_checkpoints", ["a.pt", "a.pt"]], "erf_checkpoints=('a.pt', 'a.pt') is not allowed (--checkpoint)"),
        (["static", "--ratio", "64", "64", "--resolution", "32"], "ratios=(64, 64) is not allowed (--ratio): give"),
        (["speed", "--mode", "train", "train"], "speed_modes=('train', 'train') is not allowed (--mode): give each"),
        (["density", "--side", "8", "8"], "density_sides=(8, 8) is not allowed (--side): give each value once (8"),
        (["train", "--batch-norm", "false", "false"], "batch_norm=(False, False) is not allowed: give each value"),
    ],
    ids=[
        "kinds",
        "archs",
        "variants",
        "ratios",
        "resolutions",
        "batch_norm",
        "speed_modes",
        "speed_batch_size",
        "density_kernels",
        "density_sides",
        "erf_checkpoints",
        "--ratio",
        "--mode",
        "--side",
        "--batch-norm",
    ],
)
def test_a_list_that_repeats_a_value_is_refused_naming_the_key_and_the_value(tmp_path, capsys, argv, message):
    if argv[0] not in registry.KINDS:  # a config key and its list, in a TOML file
        argv = _dry_run(tmp_path, {argv[0]: argv[1]})
    assert message in _refused(argv, capsys)


def test_a_kind_listed_twice_is_refused_before_a_run_starts_and_a_plan_may_repeat(tmp_path, synthetic_root, capsys):
    config = _toml(tmp_path / "twice.toml", {**SMALL, "kinds": ["static", "static"]})
    argv = ["run", "--config", str(config), "--out", str(tmp_path / "run"), "--data-root", str(synthetic_root)]
    assert "kinds=('static', 'static') is not allowed: give each value once (static repeated)" in _refused(argv, capsys)
    assert not (tmp_path / "run").exists()
    custom = ["static", "--arch", "custom", "--convs", "1", "1", "--widths", "8", "8", "--resolution", "8"]
    assert main(custom) == 0 and re.search(r"custom +stack", capsys.readouterr().out)  # convs and widths: a plan


@pytest.mark.parametrize(
    ("values", "applies", "message"),
    [
        ({"momentum": 0.9}, {"optimizer": "sgd"}, "momentum=0.9 is not allowed with optimizer='adam': it applies only"),
        (
            {"subset_per_seed": True, "train_limit": 50_000},  # all 60,000 but the 10,000 held out for validation
            {"train_limit": 1000},
            "subset_per_seed=True is not allowed with train_limit=50000: it applies only with a train_limit below "
            "50,000",
        ),
        (
            {"seeds_per_round": 3},
            {"design": "group-sequential", "max_seeds": 6, "seeds": list(range(6))},
            "seeds_per_round=3 is not allowed with design='fixed': it applies only with design='group-sequential'",
        ),
        (
            {"spending": "pocock"},
            {"design": "group-sequential", "max_seeds": 4, "seeds": list(range(4))},
            "spending='pocock' is not allowed with design='fixed'",
        ),
        (
            {"erf_checkpoints": ["a.pt"], "erf_untrained_models": 3},
            {"erf_checkpoints": None},
            "erf_untrained_models=3 is not allowed (--untrained-models) with erf_checkpoints=('a.pt',)",
        ),
        (
            {"erf_checkpoints": ["a.pt"], "erf_at_training_resolution": True},
            {"erf_checkpoints": None},
            "erf_at_training_resolution=True is not allowed (--at-training-resolution) with erf_checkpoints",
        ),
    ],
    ids=["momentum", "subset_per_seed", "seeds_per_round", "spending", "untrained_models", "at_training"],
)
def test_a_knob_the_chosen_options_ignore_is_refused_naming_both(tmp_path, capsys, values, applies, message):
    from vggbench.engine.config import PRESETS, load_config

    assert message in _refused(_dry_run(tmp_path, values), capsys)
    where = {key: value for key, value in {**values, **applies}.items() if value is not None}
    load_config(toml_path=_toml(tmp_path / "applies.toml", {**SMALL, **where}))  # where it applies, it is taken
    for preset in PRESETS:  # no preset sets a knob that its other options ignore
        load_config(preset)


def _with_config(folder: Path, **changes) -> Path:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))
    return folder


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"epoch": 3}, "unknown config key(s) epoch (did you mean 'epochs'?)"),
        ({"seeds": [0, 1, 0]}, "seeds=(0, 1, 0) is not allowed"),
        ({"momentum": 0.5}, "momentum=0.5 is not allowed with optimizer='adam'"),
        ({"kinds": ["static", "static"]}, "kinds=('static', 'static') is not allowed"),
    ],
    ids=["unknown-key", "repeated-seed", "ignored-knob", "kind-twice"],
)
def test_config_json_is_checked_alike_by_every_entry_point_in_a_fresh_process(
    tmp_path, finished_run, synthetic_root, capsys, changes, message
):
    run = _with_config(shutil.copytree(finished_run.root, tmp_path / "run"), **changes)
    refused = f"{run / 'config.json'} holds a configuration vggbench cannot run: {message}"
    code = "import sys, vggbench; vggbench.load_run(sys.argv[1])"  # nothing imported that the check would need
    api = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True)
    assert api.returncode == 1 and f"InputError: {refused}" in api.stderr, api.stderr
    publish = ["publish", str(run), "--results", str(tmp_path / "results")]
    for argv in (["claim", str(run)], ["report", str(run)], ["power", str(run)], publish):
        assert refused in _refused(argv, capsys)
    resume = ["run", "--out", str(run), "--data-root", str(synthetic_root), "--preset", "quick"]
    assert refused in _refused(resume, capsys)  # a resume reads the folder's configuration first


def _endless(path: Path) -> None:
    """A device that never ends, as /dev/zero (a node of its own: a link to /dev/zero is refused as a link)."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("making a device node needs root")


def _sparse(size: int):
    """A maker of a file of `size` bytes that takes no room (a hole)."""

    def make(path: Path) -> None:
        with path.open("wb") as stream:
            stream.truncate(size)

    return make


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (os.mkfifo, "is not a regular file but a fifo: it must be a regular file of at most 1 MiB"),
        (_endless, "is not a regular file but a character device: it must be a regular file of at most 1 MiB"),
    ],
    ids=["fifo", "endless"],
)
def test_a_config_file_that_would_block_or_never_end_is_refused_unread(tmp_path, make, message):
    """In a process of its own: a read that blocks or never ends fails the test, not the session."""
    make(tmp_path / "study.toml")
    argv = ["run", "--config", str(tmp_path / "study.toml"), "--dry-run", "--out", str(tmp_path / "run")]
    done = subprocess.run([sys.executable, "-m", "vggbench", *argv], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert f"{tmp_path / 'study.toml'} {message}" in done.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (os.mkdir, "is not a regular file but a folder: it must be a regular file of at most 1 MiB"),
        (_sparse(100 * 2**20), "holds 104,857,600 bytes: it must be a regular file of at most 1 MiB (1,048,576 bytes)"),
        (lambda path: path.write_text("a = " + "[" * 100_000 + "]" * 100_000), "nests lists or tables too deeply"),
        (lambda path: path.write_text("kinds = " + "[" * 40 + "]" * 40), "tables too deeply: at most 32 levels"),
        (lambda path: path.write_text("seeds = [" + "9" * 5000 + "]"), "holds a value too large to read: Exceeds"),
    ],
    ids=["folder", "100MB", "deep", "40-deep", "5000-digits"],
)
def test_a_config_file_too_large_too_deep_or_no_file_is_refused(tmp_path, capsys, make, message):
    make(tmp_path / "study.toml")
    argv = ["run", "--config", str(tmp_path / "study.toml"), "--dry-run", "--out", str(tmp_path / "run")]
    err = _refused(argv, capsys)
    assert str(tmp_path / "study.toml") in err and message in err


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        (
            "config.json",
            os.mkfifo,
            "config.json is not a regular file but a fifo: it must be a regular file of at most",
        ),
        ("config.json", lambda path: path.write_text("[" * 100_000 + "]" * 100_000), "nests lists or tables too"),
        ("config.json", _sparse(2**20 + 1), "config.json holds 1,048,577 bytes: it must be a regular file of at most"),
        ("config.json", lambda path: path.write_text('{"seeds": [' + "9" * 5000 + "]}"), "a value too large to read"),
        (
            "train.csv",
            os.mkfifo,
            "train.csv is not a regular file but a fifo: it must be a regular file of at most 256",
        ),
        ("train.csv", _sparse(300 * 2**20), "train.csv holds 314,572,800 bytes: it must be a regular file of at most"),
        ("train.csv", _endless, "train.csv is not a regular file but a character device: it must be a regular file"),
    ],
    ids=[
        "config-fifo",
        "config-deep",
        "config-large",
        "config-5000-digits",
        "table-fifo",
        "table-300MB",
        "table-endless",
    ],
)
def test_a_run_folders_files_are_read_only_as_bounded_regular_files(
    tmp_path, finished_run, capsys, name, make, message
):
    run = shutil.copytree(finished_run.root, tmp_path / "run")
    (run / name).unlink()
    make(run / name)
    for argv in (["claim", str(run)], ["power", str(run)]):
        assert message in _refused(argv, capsys)


# --- 32.4/32.5/32.6: published tables and compare validated; the Python API's misuse named ------------------------

PUBLISHED_TIMINGS = Path(__file__).resolve().parents[1] / "results" / "quick-cpu-2026-11-30"
LONG = "x" * 10_000


def _timed_runs(tmp_path) -> tuple[Path, Path]:
    """Two copies of a published run's timing tables (speed, pairs, density): run A and run B of a compare."""
    runs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for table in ("speed", "pairs", "density"):
            shutil.copy(PUBLISHED_TIMINGS / f"{table}.csv", tmp_path / name / f"{table}.csv")
        runs.append(tmp_path / name)
    return runs[0], runs[1]


@pytest.mark.skipif(not PUBLISHED_TIMINGS.is_dir(), reason="the published quick run is not in this checkout")
@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        (
            "speed",
            "step_ms_median",
            -3.0,
            "speed.csv has -3.0 in column step_ms_median (line 2): it must hold a number > 0",
        ),
        (
            "speed",
            "step_ms_median",
            0.0,
            "speed.csv has 0.0 in column step_ms_median (line 2): it must hold a number > 0",
        ),
        ("speed", "step_ms_median", np.inf, "speed.csv has inf in column step_ms_median (line 2)"),
        ("speed", "step_ms_median", np.nan, "speed.csv has no step_ms_median on line 2 (arch='vgg11' variant='stack'"),
        ("speed", "step_ms_ci_low", 100.0, "speed.csv has step_ms_ci_low=100 above step_ms_median=3.74163 on line 2"),
        ("speed", "step_ms_ci_high", 1.0, "has step_ms_median=3.74163 above step_ms_ci_high=1 on line 2"),
        ("speed", "step_ms_iqr", -1.0, "speed.csv has -1.0 in column step_ms_iqr (line 2): it must hold a number >= 0"),
        ("speed", "runs", 0, "speed.csv has 0 in column runs (line 2): it must hold an integer >= 1"),
        ("pairs", "time_ratio_median", -0.5, "pairs.csv has -0.5 in column time_ratio_median (line 2)"),
        ("pairs", "ci_high", 0.1, "pairs.csv has time_ratio_median=0.93337 above ci_high=0.1 on line 2"),
        ("pairs", "ci_low", np.nan, "pairs.csv has no ci_low on line 2 (arch='vgg11' variant='single'"),
        ("density", "achieved_gflops", 0.0, "density.csv has 0.0 in column achieved_gflops (line 2)"),
        ("density", "gflops_ci_high", np.inf, "density.csv has inf in column gflops_ci_high (line 2)"),
        ("density", "ci_low", 5.0, "density.csv has ci_low=5 above density_vs_3x3=0.235332 on line 2"),
    ],
)
def test_compare_refuses_garbage_timings_naming_file_row_and_column(tmp_path, capsys, table, column, value, message):
    a, b = _timed_runs(tmp_path)
    frame = pd.read_csv(b / f"{table}.csv")
    frame.loc[0, column] = value
    frame.to_csv(b / f"{table}.csv", index=False)
    err = _refused(["compare", str(a), str(b)], capsys)
    assert f"{b / table}.csv" in err and message in err
    assert "row of" in err or " on line 2 (" in err  # the row's identity, not only its number


@pytest.mark.parametrize("tables", [(), ("static",)])
def test_compare_refuses_a_run_with_nothing_to_compare(tmp_path, capsys, tables):
    a, b = tmp_path / "a", tmp_path / "b"
    for run in (a, b):
        run.mkdir()
        for table in tables:
            pd.DataFrame([{"arch": "vgg11", "variant": "stack", "params": 1}]).to_csv(run / f"{table}.csv", index=False)
    err = _refused(["compare", str(a), str(b)], capsys)
    assert f"{a} has nothing to compare: no rows in speed.csv, pairs.csv, density.csv" in err


@pytest.mark.parametrize(
    ("table", "column", "value", "message"),
    [
        ("train", "test_acc", 2.0, "train.csv has 2.0 in column test_acc (line 2): it must hold a number from 0 to 1"),
        ("train", "arch", LONG, "train.csv has 'xxxx"),
        (
            "train",
            "arch",
            "vgg12",
            "train.csv has 'vgg12' in column arch (line 2): it must hold an architecture's name",
        ),
        ("train", "ratio", 0, "train.csv has 0 in column ratio (line 2): it must hold an integer >= 1"),
        ("static", "arch", "\x1b[31mvgg11", "static.csv has '\\x1b[31mvgg11' in column arch (line 2)"),
        ("static", "params", -10, "static.csv has -10 in column params (line 2): it must hold an integer >= 0"),
        ("static", "macs", -1, "static.csv has -1 in column macs (line 2): it must hold an integer >= 0"),
    ],
)
def test_claim_refuses_a_published_table_with_values_out_of_range(
    tmp_path, finished_run, capsys, table, column, value, message
):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    frame = pd.read_csv(run / f"{table}.csv")
    frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    frame.to_csv(run / f"{table}.csv", index=False)
    err = _refused(["claim", str(run)], capsys)
    assert message in err and len(err) < 1000, err


@pytest.mark.parametrize(
    ("argv", "toml"),
    [
        (["static", "--arch", LONG], None),
        (["static", "--ratio", LONG], None),
        (["speed", "--device", LONG], None),
        (["speed", "--mode", LONG], None),
        (["static", "--no-such-option", LONG], None),
        (["run", "--dry-run"], f'device = "{LONG}"'),
        (["run", "--dry-run"], f'archs = ["{LONG}"]'),
        (["run", "--dry-run"], f"{LONG} = 1"),
    ],
)
def test_a_long_value_is_shown_by_its_start_and_length(tmp_path, capsys, argv, toml):
    if toml is not None:
        (tmp_path / "long.toml").write_text(toml + "\n")
        argv = [*argv, "--config", str(tmp_path / "long.toml"), "--out", str(tmp_path / "run")]
    err = _refused(argv, capsys)
    assert "... (10,000 characters)" in err and LONG[:300] not in err, err


def test_many_unknown_config_keys_are_named_by_the_first_few(tmp_path, capsys):
    (tmp_path / "many.toml").write_text("".join(f"key{number} = 1\n" for number in range(2000)))
    argv = ["run", "--dry-run", "--config", str(tmp_path / "many.toml"), "--out", str(tmp_path / "run")]
    err = _refused(argv, capsys)
    assert "unknown config key(s) key0, key1, key10, key100, key1000 and 1,995 more: allowed are" in err
    assert len(err) < 2000, err


def test_an_unknown_architecture_name_is_refused_whatever_its_length():
    from vggbench import ArchSpec, ModelSpec
    from vggbench.util.validate import InputError

    with pytest.raises(
        InputError, match=r"arch='vgg11x' is not allowed: choose one of .*custom \(did you mean 'vgg11'"
    ):
        ArchSpec("vgg11x", (1, 1, 2, 2, 2), (64, 128, 256, 512, 512))
    with pytest.raises(InputError, match=r"arch='xxxx.*\.\.\. \(10,000 characters\) is not allowed") as refused:
        ArchSpec(LONG, (1,), (8,))
    assert len(str(refused.value)) < 1000
    with pytest.raises(InputError, match="arch=ModelSpec is not allowed"):
        ModelSpec(ModelSpec("vgg11", resolution=32))


class _NoParameters(torch.nn.Module):
    def forward(self, images):
        return images * 2


class _Pair(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, images):
        return self.conv(images), images


class _Fails(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, images):
        raise KeyError("boom")


def _api_misuse():
    """(call, the argument its InputError must name) for each misuse of the Python API."""
    import vggbench

    spec = vggbench.ModelSpec("vgg11", "stack", ratio=8, resolution=32)
    conv = torch.nn.Conv2d(3, 4, 3)
    fast = {"min_time_s": 0, "max_time_s": 0, "batch_size": 2}
    data = vggbench.synthetic_data(8, 8)
    few = {"data": data, "images": 4, "resamples": 10}
    return [
        (lambda: vggbench.measure_static(_Pair(), (3, 8, 8)), "model=_Pair returns tuple, not a tensor"),
        (lambda: vggbench.measure_speed(_Pair(), (3, 8, 8), mode="train", **fast), "model=_Pair returns tuple"),
        (
            lambda: vggbench.measure_speed(_NoParameters(), (3, 8, 8), mode="train", **fast),
            "model=_NoParameters has no",
        ),
        (lambda: vggbench.measure_static(_Fails(), (3, 8, 8)), "model=_Fails fails on one image.*KeyError"),
        (lambda: vggbench.measure_static(conv, (8, 8)), r"model=Conv2d fails on one image of input_shape=\(8, 8\)"),
        (lambda: vggbench.measure_static(conv, (5, 8, 8)), r"input_shape=\(5, 8, 8\).*RuntimeError"),
        (lambda: vggbench.measure_static(conv, (3, 1, 1)), r"input_shape=\(3, 1, 1\)"),
        (lambda: vggbench.measure_static(conv, (3, 10**6, 10**6)), r"input_shape=\(3, 1000000, 1000000\) needs about"),
        (lambda: vggbench.measure_speed(conv, (3, 10**5, 10**5), **fast), r"input_shape=\(3, 100000, 100000\) needs"),
        (lambda: vggbench.train("vgg11", data=data), "spec=str"),
        (lambda: vggbench.train(spec, seeds=(), data=data), r"seeds=\(\)"),
        (lambda: vggbench.train(spec, seeds=(-1,), data=data), "seeds entry=-1"),
        (lambda: vggbench.train(spec, seeds=3, data=data), "seeds=3"),
        (lambda: vggbench.train(spec, data="images"), "data=str"),
        (lambda: vggbench.erf(spec, models=[], **few), "models is not allowed"),
        (lambda: vggbench.erf(spec, seeds=(), **few), r"seeds=\(\)"),
        (lambda: vggbench.erf(spec, data=data, images=0), "^images=0 is not allowed: it must"),
        (lambda: vggbench.erf(spec, data=data, resamples=-5), "^resamples=-5"),
        (lambda: vggbench.erf(spec, resolution=-3, **few), "^resolution=-3"),
        (lambda: vggbench.erf(spec, resolution=8, **few), "resolution=8 is not allowed for vgg11"),
        (lambda: vggbench.erf(spec, resolution=10**6, **few), "resolution=1,000,000 is not allowed"),
        (lambda: vggbench.erf(spec, data=5), "data=int"),
        (lambda: vggbench.erf(spec, data=data, images=9, resamples=10), "images=9 is not allowed: data has 8"),
        (lambda: vggbench.erf(spec, data=data, resamples=10**12), "^resamples=1000000000000"),
        (lambda: vggbench.erf(spec, models=[vggbench.build("vgg13", ratio=8, resolution=32)], **few), "models is"),
        (lambda: vggbench.train(spec, data=data, report=5), "report=int"),
        (lambda: vggbench.synthetic_data(-1, 5), "train_images=-1"),
        (lambda: vggbench.synthetic_data(5, 10**12), "test_images=1,000,000,000,000"),
        (lambda: vggbench.synthetic_data(5, 5, seed="x"), "seed='x'"),
        (lambda: vggbench.load_run(5), "path=int"),
        (lambda: vggbench.build(spec), "arch=ModelSpec"),
        (lambda: vggbench.model_table(["vgg11"]), "specs is not allowed"),
        (lambda: vggbench.block_table([]), "specs is not allowed"),
        (lambda: vggbench.layer_table(5), "specs is not allowed"),
        (lambda: vggbench.grid([]), r"archs=\[\] is not allowed"),
        (lambda: vggbench.measure_speed(conv, (3, 8, 8), **{**fast, "batch_size": 0}), "^batch_size=0 is not allowed"),
        (lambda: vggbench.measure_speed(conv, (3, 8, 8), mode="fly", **fast), "^mode='fly' is not allowed: choose"),
        (lambda: vggbench.grid(["vgg11"], variants=()), r"variants=\[\] is not allowed"),
    ]


@pytest.mark.parametrize(("call", "argument"), _api_misuse(), ids=lambda value: value if isinstance(value, str) else "")
def test_the_python_api_names_the_argument_of_every_misuse(call, argument):
    from vggbench.util.validate import InputError

    with pytest.raises(InputError, match=argument):
        call()


# --- 32.7: a run directory that trusts no file it reads back -----------------------------------------------------


@pytest.mark.parametrize("name", ["train.csv", "config.json", "metadata.json"])
def test_a_file_of_the_run_that_is_a_link_out_of_it_is_refused_unread(tmp_path, finished_run, capsys, name):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    outside = tmp_path / f"outside-{name}"
    shutil.copy(run / name, outside)  # a file the run could read, were a link followed
    (run / name).unlink()
    (run / name).symlink_to(outside)
    err = _refused(["claim", str(run)], capsys)
    assert f"{run / name} is a symbolic link: a run reads only its own files" in err


def test_a_trial_file_that_is_a_link_out_of_the_run_is_not_read(tmp_path, small_run, capsys):
    assert small_run(capsys)[0] == 0
    trial = _trial_files(tmp_path / "run", "train")[0]
    outside, content = tmp_path / "outside.json", trial.read_text()
    outside.write_text(content)
    trial.unlink()
    trial.symlink_to(outside)
    status, err = small_run(capsys)
    assert status == 2 and f"{trial} is a symbolic link" in err and "Traceback" not in err
    assert trial.is_symlink() and outside.read_text() == content  # left as it was, not replaced


TWO_SEEDS = {**SMALL, "seeds": [0, 1]}
TRAINED = "vgg11-single-r64-px32-seed0"  # the trial file each damage below is done to


@pytest.fixture(scope="module")
def two_seed_run(tmp_path_factory, synthetic_root) -> Path:
    """TWO_SEEDS run to its end, untouched: copy it to damage it."""
    root = tmp_path_factory.mktemp("clean") / "run"
    config = _toml(root.parent / "two.toml", TWO_SEEDS)
    assert main(["run", "--config", str(config), "--out", str(root), "--data-root", str(synthetic_root)]) == 0
    return root


def _set(column, value):
    return lambda trial: trial["rows"][0].update({column: value})


@pytest.mark.parametrize(
    ("damage", "said"),
    [
        (lambda trial: trial["rows"].clear(), "0 row(s) where its trial gives 1"),
        (_set("test_acc", float("nan")), "it has no test_acc on row 1 (arch='vgg11' variant='single'"),
        (_set("test_acc", 2.0), "it has 2.0 in column test_acc (row 1): it must hold a number from 0 to 1"),
        (_set("train_loss", -1.0), "it has -1.0 in column train_loss (row 1): it must hold a number >= 0"),
        (_set("test_acc", "high"), "it has 'high' in column test_acc (row 1): it must hold a number from 0 to 1"),
        (lambda trial: trial["rows"][0].pop("test_acc"), "it lacks the column(s) test_acc that the train table"),
        (_set("seed", 1), "row 1 has seed 1 where its trial has 0"),
        (_set("variant", "stack"), "row 1 has variant 'stack' where its trial has 'single'"),
        (lambda trial: trial["rows"].append(dict(trial["rows"][0])), "2 row(s) where its trial gives 1"),
        (lambda trial: trial["rows"].__setitem__(0, [1, 2]), "row 1 is not a row of columns"),
        (  # read by no run: a file outside the run, or one that never ends (/dev/zero)
            lambda trial: trial["files"].update({"../outside.txt": "0"}),
            "it names '../outside.txt', not a file in checkpoints/ or erf_maps/",
        ),
    ],
    ids=[
        "emptied",
        "nan-accuracy",
        "accuracy-2",
        "negative-loss",
        "text",
        "column-gone",
        "seed",
        "variant",
        "twice",
        "not-a-row",
        "file-outside",
    ],
)
def test_a_trial_file_whose_rows_are_not_its_trials_is_redone_and_said_so(
    tmp_path, two_seed_run, synthetic_root, capsys, damage, said
):
    root = tmp_path / "run"
    shutil.copytree(two_seed_run, root)
    path = root / "trials" / "train" / f"{TRAINED}.json"
    trial = json.loads(path.read_text())
    damage(trial)
    path.write_text(json.dumps(trial))
    (tmp_path / "outside.txt").write_text("not the run's")
    config = _toml(tmp_path / "two.toml", TWO_SEEDS)
    assert main(["run", "--config", str(config), "--out", str(root), "--data-root", str(synthetic_root)]) == 0
    err = capsys.readouterr().err
    said_line = next(line for line in err.splitlines() if line.startswith(f"{path}: "))
    assert said_line.startswith(f"{path}: {said}") and said_line.endswith(": redone")
    assert "6 trials, 5 already done, 1 to run (again: 1 whose rows or files do not match their trial)" in err
    measured = ["arch", "variant", "seed", "epoch", "train_loss", "train_acc", "test_acc"]
    for name, columns in (("train", measured), ("summary", ["variant", "seeds", "failed", "test_acc_mean"])):
        clean = pd.read_csv(two_seed_run / f"{name}.csv")[columns]
        pd.testing.assert_frame_equal(pd.read_csv(root / f"{name}.csv")[columns], clean)
    assert pd.read_csv(root / "claim.csv").equals(pd.read_csv(two_seed_run / "claim.csv"))


def test_force_removes_what_the_new_configuration_does_not_make_and_nothing_else(tmp_path, small_run, capsys):
    fields = {"kinds": ["static", "train", "erf"], "erf_images": 4, "erf_untrained_models": 2, "erf_resamples": 2}
    assert small_run(capsys, **fields, seeds=[0, 1])[0] == 0
    root, outside = tmp_path / "run", tmp_path / "outside.txt"
    assert (root / "erf.csv").is_file() and (root / "figures" / "erf_maps.png").is_file()
    outside.write_text("not the run's")
    planted = {root / "notes.txt", root / "checkpoints" / "mine.pt", root / "erf_maps" / "mine.npy"}
    for path in planted:
        path.write_text("the user's")
    (root / "checkpoints" / "link.pt").symlink_to(outside)
    stale = root / "trials" / "erf" / "vgg11-stack-r64-px32-untrained.json"  # names files that are not the run's
    envelope = json.loads(stale.read_text())
    envelope["files"].update({"../outside.txt": "", "checkpoints/../../outside.txt": "", "checkpoints/link.pt": ""})
    stale.write_text(json.dumps(envelope))
    status, err = small_run(capsys, "--force", seeds=[0])
    assert status == 0, err
    removed = (
        f"{root}: removed what this configuration does not make: erf.csv, 6 file(s) in trials/, 2 file(s) in "
        "checkpoints/, 4 file(s) in erf_maps/"
    )
    assert removed in err and "4 trials, 4 already done, 0 to run" in err
    assert not (root / "erf.csv").exists() and not (root / "trials" / "erf").exists()
    assert not (root / "figures" / "erf_maps.png").exists() and not list((root / "erf_maps").glob("vgg11*"))
    assert sorted(path.name for path in (root / "checkpoints").glob("vgg11*")) == [
        "vgg11-single-r64-px32-seed0.pt",
        "vgg11-stack-r64-px32-seed0.pt",
    ]
    assert all(path.read_text() == "the user's" for path in planted) and outside.read_text() == "not the run's"
    assert (root / "checkpoints" / "link.pt").is_symlink()
    assert list(pd.read_csv(root / "train.csv")["seed"]) == [0, 0]
    assert not pd.read_csv(root / "claim.csv")["claim"].str.contains("effective").any()
    assert "same effective receptive field" not in (root / "claim.md").read_text()
    status, err = small_run(capsys, "--force", seeds=[0])  # nothing more to remove: no line
    assert status == 0 and "removed what" not in err


def test_a_timing_marked_out_of_memory_is_whole_and_one_without_its_numbers_is_redone(
    tmp_path, small_run, capsys, monkeypatch
):
    from vggbench.measure import speed

    real = speed.measure_with_retry

    def retried(spec, setup):  # as after an out-of-memory at the batch asked for: the batch halved
        return {**real(spec, dataclasses.replace(setup, batch_size=1)), "requested_batch_size": setup.batch_size}

    monkeypatch.setattr(speed, "measure_with_retry", retried)
    fields = {"kinds": ["speed"], "speed_modes": ["infer"], "speed_batch_size": 2, "speed_min_time_s": 0.0}
    fields["speed_max_time_s"] = 0.0
    assert small_run(capsys, **fields)[0] == 0
    folder = tmp_path / "run" / "trials" / "speed"
    out_of_memory, emptied = (
        folder / "vgg11-stack-r64-px32-infer-b2.json",
        folder / "vgg11-single-r64-px32-infer-b2.json",
    )
    for path, error in ((out_of_memory, "oom"), (emptied, None)):
        trial = json.loads(path.read_text())
        trial["rows"][0].update(dict.fromkeys(["img_per_s", "step_ms_median", "step_ms_iqr", "runs"]), error=error)
        path.write_text(json.dumps(trial))
    status, err = small_run(capsys, **fields)
    assert status == 0 and f"{emptied}: it has no img_per_s on row 1" in err
    assert "2 trials, 1 already done, 1 to run (again: 1 whose rows or files do not match their trial)" in err
    assert pd.read_csv(tmp_path / "run" / "speed.csv")["batch_size"].tolist() == [1, 1]

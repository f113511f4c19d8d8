"""The command line guides a newcomer: --version, "did you mean" for a misspelt key or choice, power's
explanation where it cannot plan, and a dry run of any preset on any machine."""

import math
import re
import subprocess
import sys

import pandas as pd
import pytest

import vggbench
from vggbench.cli import main
from vggbench.engine.config import load_config
from vggbench.util.validate import InputError, did_you_mean


def test_version_prints_the_package_version_without_torch():
    script = "import sys\nfrom vggbench.cli import main\nmain(['--version'])"
    result = subprocess.run([sys.executable, "-c", script, "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"vggbench \d+\.\d+\.\d+\S*( \(git [0-9a-f]+(\+changes)?\))?\n", result.stdout)
    assert vggbench.__version__ in result.stdout
    probe = "import sys, vggbench.cli, vggbench.util.version as v; v.describe(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "False"


def test_the_version_falls_back_to_the_source_tree(monkeypatch):
    from importlib import metadata

    from vggbench.util import version

    def not_installed(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(version.metadata, "version", not_installed)
    assert version.package_version() == version._declared() != version.UNKNOWN


@pytest.mark.parametrize(
    ("value", "choices", "hint"),
    [
        ("epoch", ["epochs", "seeds"], " (did you mean 'epochs'?)"),
        ("stak", ["stack", "single"], " (did you mean 'stack'?)"),
        ("vgg12", ["vgg11", "vgg13", "vgg16", "vgg19"], ""),  # four alike close: none is a better guess
        ("frobnicate", ["stack", "single"], ""),
        (3, [1, 2, 4], ""),
    ],
)
def test_did_you_mean(value, choices, hint):
    assert did_you_mean(value, choices) == hint


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"epoch": 2}, "unknown config key(s) epoch (did you mean 'epochs'?): allowed are"),
        ({"arch": ["vgg11"]}, "unknown config key(s) arch (did you mean 'archs'?): allowed are"),
        ({"archz": ["vgg11"]}, "unknown config key(s) archz (did you mean 'archs'?): allowed are"),
        ({"optimizer": "adm"}, "optimizer='adm' is not allowed: choose one of adam, sgd (did you mean 'adam'?)"),
        ({"variants": ["stak"]}, "(did you mean 'stack'?)"),
    ],
)
def test_a_misspelt_key_or_value_gets_its_suggestion(keys, message):
    with pytest.raises(InputError) as error:
        load_config(**keys)
    assert message in str(error.value)


def test_a_misspelt_toml_key_names_its_file_and_its_suggestion(tmp_path, capsys):
    path = tmp_path / "mine.toml"
    path.write_text('epoch = 3\narchs = ["vgg11"]\n')
    assert main(["run", "--config", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"config file {path}: unknown config key(s) epoch (did you mean 'epochs'?): allowed are" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["static", "--variant", "stak"], "invalid choice: 'stak' (did you mean 'stack'?); choose from stack, single"),
        (["run", "--preset", "quik"], "invalid choice: 'quik' (did you mean 'quick'?); choose from quick, claim"),
        (["trian"], "invalid choice: 'trian' (did you mean 'train'?); choose from static, speed, train"),
        (["static", "--variant", "double"], "invalid choice: 'double'; choose from stack"),
    ],
)
def test_a_bad_choice_gets_its_suggestion_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and message in err


def _final_runs(accuracies: dict[str, list[float]], failed=()) -> pd.DataFrame:
    """train.csv of vgg11 at ratio 8 and 32 px: one epoch per run at the given accuracies; the runs in `failed`
    ((variant, seed)) stay at chance (loss ln 10, above the failure rule's 0.9 ln 10)."""
    keys = {"arch": "vgg11", "ratio": 8, "resolution": 32, "in_channels": 1, "num_classes": 10, "batch_norm": False}
    rows = []
    for variant, values in accuracies.items():
        for seed, accuracy in enumerate(values):
            loss = math.log(10) if (variant, seed) in failed else 0.4
            rows.append(
                {**keys, "variant": variant, "seed": seed, "epoch": 1, "test_acc": accuracy, "train_loss": loss}
            )
    return pd.DataFrame(rows)


def test_power_explains_why_it_cannot_size_a_contrast(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    _final_runs({"stack": [0.80, 0.10], "single": [0.81, 0.83]}, failed={("stack", 1)}).to_csv(run / "train.csv")
    assert main(["power", str(run)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "Empty DataFrame" not in captured.err
    assert f"vggbench power: error: cannot size any accuracy contrast from {run}: each arm needs at least 2 runs " in (
        captured.err
    )
    assert "vgg11, ratio 8, 32 px, stack against single (higher accuracy): stack 1 of 2 runs (1 failed), single " in (
        captured.err
    )
    assert "Train more seeds into the run" in captured.err


@pytest.mark.slow
def test_power_sizes_what_it_can_and_says_what_it_left_out(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    accuracies = {"stack": [0.80, 0.82, 0.84], "single": [0.81, 0.83, 0.85], "linear-stack": [0.79, 0.5]}
    _final_runs(accuracies, failed={("linear-stack", 1)}).to_csv(run / "train.csv")
    assert main(["power", str(run)]) == 0
    out = capsys.readouterr().out
    assert "higher accuracy" in out
    assert "Not sized: each arm needs at least 2 runs" in out
    assert (
        "stack against linear-stack (more non-linearity helps): stack 3 of 3 runs (0 failed), linear-stack 1 of 2"
        in (out)
    )


def test_power_says_when_no_rival_was_trained(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    _final_runs({"stack": [0.80, 0.82, 0.84]}).to_csv(run / "train.csv")
    assert main(["power", str(run)]) == 2
    assert "no model was trained both as the stack and as a rival (variants trained: stack)" in (
        capsys.readouterr().err
    )


def test_the_paper_presets_dry_run_states_the_device_and_memory_on_a_cpu(quick_rates, capsys):
    assert main(["run", "--preset", "paper", "--dry-run", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("40 trials, about ") for line in lines)
    assert any(line.startswith("device: cpu (") and line.endswith(" threads") for line in lines)
    memory = next(line for line in lines if line.startswith("memory on cpu: the largest run, "))
    assert re.search(r"needs about [\d.,]+ GiB; this machine has [\d.,]+ GiB available", memory)
    assert memory.endswith(": enough") or memory.endswith(": not enough: here the run would be refused")


def test_a_dry_run_is_not_refused_for_memory_and_says_what_is_missing(quick_rates, monkeypatch, capsys):
    from vggbench.measure import memory

    monkeypatch.setattr(memory, "available_bytes", lambda device: 2**30)  # 1 GiB free
    assert main(["run", "--preset", "paper", "--dry-run", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "this machine has 1.0 GiB available, of which a run may plan on 90% (0.9 GiB): not enough" in out
    assert "not estimated: their models' runs need more memory than this machine has" in out
    assert all(run.spec is None for run in quick_rates)  # only what fits was timed: density's single convs


def test_a_dry_run_for_a_gpu_works_on_a_machine_without_one(quick_rates, monkeypatch, capsys):
    from vggbench.measure import memory

    monkeypatch.setattr(memory, "present", lambda device: device != "cuda")
    assert main(["run", "--preset", "paper", "--dry-run", "--device", "cuda"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "40 trials, not estimated: this machine has no CUDA GPU to time them on" in lines
    assert "device: cuda, which this machine does not have (no CUDA GPU): the plan is shown for it" in lines
    (gpu,) = (line for line in lines if line.startswith("memory on cuda: "))
    assert gpu.endswith("; this machine has no CUDA GPU") and not quick_rates

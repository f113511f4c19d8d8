"""The study end to end on a tiny grid: every table, resume after an interruption, refusals."""

import json
import shutil

import pandas as pd
import pytest

from vggbench.cli import main
from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.contract import Outcome, Trial
from vggbench.engine.outputs import Outputs
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import RunDir
from vggbench.measure import validation
from vggbench.reporting.publish import publish

TABLES = ["static", "blocks", "layers", "speed", "pairs", "train", "erf", "density", "summary"]


class Interrupted(Exception):
    pass


def _run(tmp_path, synthetic_root, config_values, stop_after=None):
    lines = []

    def report(line):
        lines.append(line)
        if stop_after is not None and line.startswith(f"[{stop_after}/"):
            raise Interrupted  # as SIGINT would, between two trials' files

    config = load_config(**config_values)
    study.run(config, tmp_path / "run", data_root=str(synthetic_root), report=report)
    return lines


def test_tiny_grid_writes_every_table(finished_run):
    # 2 static, 2 speed, 1 paired, 2 untrained ERF, 4 training (one per model and seed; a model's two seeds
    # train together: the CPU's seed_batch is 4), 2 trained ERF and one density trial (one width and map side)
    assert finished_run.progress[0] == "14 trials, 0 already done, 14 to run"
    root = finished_run.root
    for name in TABLES:
        assert len(pd.read_csv(root / f"{name}.csv")) > 0, name
    summary = pd.read_csv(root / "summary.csv").set_index("variant")
    assert set(summary.columns) >= {
        "params",
        "macs",
        "rf_px",
        "speed_infer_img_per_s",
        "test_acc_mean",
        "test_acc_std",
        "seeds",
    }
    assert list(summary["seeds"]) == [2, 2]
    # Two throughputs, named apart: the speed kind's timed steps, and the training loop's epochs.
    assert "train_img_per_s" not in summary and "infer_img_per_s" not in summary
    assert (summary["train_loop_img_per_s_median"] > 0).all() and (summary["speed_infer_img_per_s"] > 0).all()
    pairs = pd.read_csv(root / "pairs.csv")
    assert list(pairs[["baseline", "variant"]].iloc[0]) == ["stack", "single"]
    erf = pd.read_csv(root / "erf.csv")
    assert sorted(erf["trained"]) == [False, False, True, True]
    assert list(erf.sort_values("trained")["models"]) == [5, 5, 2, 2]  # untrained: 5 initialisations; trained: seeds
    assert len(list((root / "erf_maps").glob("*.npy"))) == 4 and len(list((root / "checkpoints").glob("*.pt"))) == 4
    meta = json.loads((root / "metadata.json").read_text())
    assert meta["config"]["seeds"] == [0, 1] and meta["ended"] and meta["torch"] and meta["cpu_model"]
    assert meta["validation_split"] == validation.record(10_000)  # the default split, held out by every seed
    train = pd.read_csv(root / "train.csv")
    assert train["val_acc"].between(0, 1).all() and (train["validation_images"] == 10_000).all()


@pytest.mark.slow
def test_resume_after_interruption_gives_the_same_rows_without_duplicates(tmp_path, synthetic_root, tiny_study):
    with pytest.raises(Interrupted):
        _run(tmp_path, synthetic_root, tiny_study, stop_after=7)
    lines = _run(tmp_path, synthetic_root, tiny_study)
    # The 7th line is the first seed of a model trained with its second: both were kept before either was reported.
    assert lines[0] == "14 trials, 8 already done, 6 to run"
    train = pd.read_csv(tmp_path / "run" / "train.csv")
    assert len(train) == 4 and not train.duplicated(["variant", "seed", "epoch"]).any()
    assert len(pd.read_csv(tmp_path / "run" / "static.csv")) == 2
    again = _run(tmp_path, synthetic_root, tiny_study)
    assert again[0] == "14 trials, 14 already done, 0 to run"


def test_a_changed_configuration_is_refused_unless_forced(tmp_path, tiny_study):
    config = load_config(**tiny_study)
    RunDir(tmp_path).adopt(config.to_dict(), force=False)
    changed = load_config(**{**tiny_study, "epochs": 3})
    with pytest.raises(ValueError, match="another configuration \\(differs in epochs\\)"):
        RunDir(tmp_path).adopt(changed.to_dict(), force=False)
    RunDir(tmp_path).adopt(changed.to_dict(), force=True)


@pytest.mark.parametrize(("seeds", "allowed"), [([0, 1, 2, 3], True), ([2, 0, 1], True), ([0], False), ([0, 2], False)])
def test_seeds_may_be_added_without_force_but_not_removed(tmp_path, tiny_study, seeds, allowed):
    RunDir(tmp_path).adopt(load_config(**tiny_study).to_dict(), force=False)  # seeds 0 and 1
    grown = load_config(**{**tiny_study, "seeds": seeds}).to_dict()
    if allowed:
        RunDir(tmp_path).adopt(grown, force=False)
        assert RunDir(tmp_path).stored_config() == grown
    else:
        with pytest.raises(ValueError, match="another configuration \\(differs in seeds\\)"):
            RunDir(tmp_path).adopt(grown, force=False)


def test_toml_config_and_its_errors(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('archs = ["vgg13"]\nratios = [16]\nseeds = [3, 4]\n')
    config = load_config("quick", good)
    assert (config.archs, config.ratios, config.seeds, config.resolutions) == (("vgg13",), (16,), (3, 4), (32,))
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("epochs = 2\nlearning_rate = 0.1\n")
    with pytest.raises(ValueError, match="unknown config key\\(s\\) learning_rate: allowed are"):
        load_config("quick", unknown)
    bad = tmp_path / "bad.toml"
    bad.write_text('archs = ["vgg12"]\n')
    with pytest.raises(ValueError, match="archs entry='vgg12' is not allowed"):
        load_config("quick", bad)
    broken = tmp_path / "broken.toml"
    broken.write_text("epochs = \n")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_config("quick", broken)
    with pytest.raises(ValueError, match="ratio=65 is not allowed"):
        load_config("quick", ratios=[65])


def test_presets_plan_the_documented_grids():
    quick = study.trials(load_config("quick"))
    kinds = pd.Series([trial.kind for trial in quick]).value_counts().to_dict()
    assert kinds == {"static": 9, "speed": 18, "pairs": 6, "train": 18, "erf": 18, "density": 4}  # 2 seeds
    paper = load_config("paper")
    assert (paper.archs, paper.variants, paper.resolutions, paper.epochs) == (
        ("vgg11", "vgg13"),  # A, the book's, and B, the VGG paper's own 5x5 experiment
        ("stack", "single"),
        (224,),
        5,
    )
    verdict = load_config("verdict")
    kinds = pd.Series([trial.kind for trial in study.trials(verdict)]).value_counts().to_dict()
    assert kinds == {"static": 4, "train": 96}  # vgg13 stack and single, batch norm off and on, at most 24 seeds each
    assert (verdict.design.design, verdict.design.seeds_per_round, verdict.design.max_seeds) == (
        "group-sequential",
        4,
        24,
    )
    claim_preset = load_config("claim")
    assert claim_preset.batch_norm == (False, True) and len(claim_preset.models()) == 3 * 3 * 3 * 2
    map_preset = load_config("map")
    assert {spec.variant for spec in map_preset.models()} == {"stack", "single", "single-fits"}
    assert len(map_preset.models()) == 3 * 3 * 2 and map_preset.lr_schedule == "cosine"


@pytest.mark.slow
def test_cli_dry_run_and_bad_preset(capsys):
    assert main(["run", "--preset", "quick", "--dry-run", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "73 trials, about" in out and "vgg16-paired-r8-px32-train" in out
    with pytest.raises(SystemExit):
        main(["run", "--preset", "huge"])
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_publish_copies_tables_reports_and_figures_and_indexes_the_run(tmp_path, finished_run):
    results = tmp_path / "results"
    target = publish(finished_run.root, results)
    assert target.parent == results and target.name.startswith("run-cpu-")
    copied = {path.relative_to(target).as_posix() for path in target.rglob("*")}
    assert {
        "static.csv",
        "train.csv",
        "summary.csv",
        "claim.md",
        "claim.csv",
        "metadata.json",
        "report.html",
        "reports.json",
        "figures/erf_maps.svg",
        "erf_maps/vgg11-stack-r64-px32-trained.npy",
    } <= copied
    assert not any(name.startswith(("trials", "checkpoints")) for name in copied)
    assert (target / "report.html").read_bytes() == (finished_run.root / "report.html").read_bytes()
    assert (target / "reports.json").read_bytes() == (finished_run.root / "reports.json").read_bytes()
    index = (results / "README.md").read_text()
    assert f"| `{target.name}/` | run |" in index
    publish(finished_run.root, results)  # publishing twice lists it once
    assert (results / "README.md").read_text().count(target.name) == 1
    (results / "README.md").write_text((results / "README.md").read_text() + "\nA note below the table.\n")
    publish(finished_run.root, results)  # the row stays in the table, above the note
    lines = (results / "README.md").read_text().splitlines()
    assert lines[-1] == "A note below the table." and lines[-3].startswith(f"| `{target.name}/` |")
    with pytest.raises(ValueError, match=r"no readable metadata\.json"):
        publish(tmp_path / "nothing", results)


def test_cli_run_defaults_to_runs_preset_and_ends_with_claim_and_report(
    tmp_path, tiny_study, finished_run, monkeypatch, capsys
):
    # `vggbench run` hands the study its configuration and folder (runs/PRESET unless --out), writes the claim and
    # the report from the tables the study left, then prints the summary, claim and report: here the tables are
    # finished_run's (the study is tested above), copied as a folder in the working one.
    config = tmp_path / "tiny.toml"
    config.write_text("\n".join(f"{key} = {json.dumps(value)}" for key, value in tiny_study.items() if key != "device"))
    name = finished_run.root.name
    shutil.copytree(finished_run.root, tmp_path / "work" / name, ignore=shutil.ignore_patterns("claim.*", "*.html"))
    asked = []

    def run(config, run_dir, force, data_root, *_):
        asked.append((run_dir, force, data_root, config.to_dict()))
        return RunDir(name, KINDS)

    monkeypatch.setattr(study, "run", run)
    monkeypatch.chdir(tmp_path / "work")
    for preset in ("quick", "claim"):
        assert (
            main(["run", "--preset", preset, "--config", str(config), "--device", "cpu", "--data-root", "FMNIST"]) == 0
        )
    for made in ("claim.csv", "claim.md", "report.html"):
        assert (tmp_path / "work" / name / made).read_bytes() == (finished_run.root / made).read_bytes(), made
    assert [(run_dir, force, data_root) for run_dir, force, data_root, _ in asked] == [
        ("runs/quick", False, "FMNIST"),
        ("runs/claim", False, "FMNIST"),
    ]
    quick = asked[0][3]
    assert quick == load_config("quick", config, device="cpu").to_dict() and quick["seeds"] == tiny_study["seeds"]
    out = capsys.readouterr().out
    assert f"Summary of {name} (tables, claim.md, report.html and metadata.json there)" in out
    assert "The claim, part by part" in out and "fewer parameters" in out
    assert f"report: {name}/report.html" in out
    assert max(map(len, out.splitlines())) <= 120  # the terminal's tables fit; the CSVs keep every column
    assert main(["claim", str(tmp_path / "missing")]) == 2
    assert "holds none of static.csv" in capsys.readouterr().err


@pytest.mark.parametrize("place", ["run directory", "single command"])
def test_a_store_marks_a_recorded_trial_done_and_hands_a_later_trial_the_files_it_reads(tmp_path, place):
    # What the engine asks of the place its results go (Store): a trial is done once recorded (those that need
    # it may start), and a trial that reads files gets those that exist, by the names it reads them under. A run
    # directory keeps a trial's files in its own folders; `vggbench train` saves its one checkpoint as the file
    # --save-checkpoint names.
    saved = tmp_path / "mine.pt"
    store = (
        RunDir(tmp_path / "run", KINDS) if place == "run directory" else Outputs(KINDS["train"], None, str(saved), 1)
    )
    checkpoint = "checkpoints/seed0.pt" if place == "run directory" else str(saved)
    trained = Trial("train", None, "seed0")
    assert not store.done("train", "seed0")
    store.record(trained, Outcome(rows=[{"seed": 0}], files={"checkpoints/seed0.pt": b"weights"}))
    assert store.done("train", "seed0") and not store.done("train", "seed1") and not store.done("erf", "seed0")
    reader = Trial("erf", None, "of-seed0", needs=(("train", "seed0"),), reads=(checkpoint, str(tmp_path / "none.pt")))
    assert store.inputs(reader) == {checkpoint: b"weights"}

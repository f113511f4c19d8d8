"""Adding a measurement kind is one module and one registry line: a latency kind, made here, runs through
`vggbench run` from a TOML config that names it (alone, or beside the others), its verdict reaches the claim,
its figure the report, and it gets a command of its own."""

import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from vggbench.cli import main
from vggbench.engine import registry
from vggbench.engine.config import StudyConfig
from vggbench.engine.contract import Kind, Outcome, Table, Trial
from vggbench.engine.rundir import spec_key
from vggbench.figures.figure import Figure
from vggbench.measure.hardware import Machine
from vggbench.models.schema import identity, keys_in
from vggbench.models.vgg import build_spec
from vggbench.util.knobs import knob
from vggbench.verdicts import vocabulary


@dataclass(frozen=True)
class LatencySetup(Machine):
    GROUP = "latency"

    latency_runs: int = knob(20, "timed single-image forward passes per model", minimum=1)


class Latency(Kind):
    """Inference latency of one image: the median over a few timed forward passes."""

    name = "latency"
    setup = LatencySetup
    exclusive = True
    tables = (Table("latency", "Latency at batch 1", ("arch", "variant", "latency_ms_median", "runs")),)
    help = "latency of one image's forward pass"

    def plan(self, config):
        setups = config.setups(LatencySetup)
        return [Trial(self.name, spec, spec_key(spec), setup) for spec in config.models() for setup in setups]

    def run(self, trial, inputs, load_data, report):
        spec, setup = trial.spec, trial.setup
        model = build_spec(spec).eval()
        image = torch.rand(1, spec.in_channels, spec.resolution, spec.resolution)
        seconds = []
        with torch.inference_mode():
            model(image)  # warm-up
            for _ in range(setup.latency_runs):
                start = time.perf_counter()
                model(image)
                seconds.append(time.perf_counter() - start)
        row = {"latency_ms_median": 1e3 * statistics.median(seconds), "runs": setup.latency_runs}
        return Outcome([{**identity(spec), **row, "threads": setup.threads}])

    def estimate_s(self, trial, gflops):
        return 0.1

    def summarize(self, rows):
        return rows[[*keys_in(rows), "latency_ms_median"]]

    def judge(self, tables, rules):
        """Lower latency: the stack's median against each other variant's (a plain comparison, for the test)."""
        latency = tables["latency"].set_index("variant")["latency_ms_median"]
        return [
            {
                "claim": "lower latency",
                "analysis": vocabulary.PRIMARY,
                "baseline": rival,
                "variant": "stack",
                "baseline_value": latency[rival],
                "variant_value": latency["stack"],
                "verdict": vocabulary.SUPPORTED if latency["stack"] < latency[rival] else vocabulary.CONTRADICTED,
            }
            for rival in latency.index.drop("stack")
        ]

    def figures(self):
        return (Figure("latency", "Latency", "Each variant's median latency.", ("latency",), _latency_bars),)


def _latency_bars(run):
    """A bar per variant, its median latency: the figure the kind brings to the report."""
    from matplotlib.figure import Figure as Drawing

    latency = run.tables["latency"]
    drawing = Drawing()
    drawing.add_subplot().bar(latency["variant"], latency["latency_ms_median"])
    return drawing


GRID = {"archs": ["vgg11"], "variants": ["stack", "single"], "ratios": [64], "resolutions": [32]}


@pytest.fixture
def latency_registered(monkeypatch):
    monkeypatch.setitem(registry.KINDS, "latency", Latency())  # the one registry line, for this test


def _run(tmp_path, kinds: list[str]) -> Path:
    config = tmp_path / "latency.toml"
    values = {**GRID, "kinds": kinds, "latency_runs": 3, "device": "cpu", "threads": 1}
    config.write_text("\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items()))
    run = tmp_path / "run"
    assert main(["run", "--config", str(config), "--out", str(run)]) == 0
    return run


@pytest.mark.slow
def test_a_new_kind_runs_alone_through_vggbench_run_and_its_verdict_reaches_the_claim(tmp_path, latency_registered):
    run = _run(tmp_path, ["latency"])
    latency = pd.read_csv(run / "latency.csv").set_index("variant")
    assert sorted(latency.index) == ["single", "stack"] and (latency["latency_ms_median"] > 0).all()
    assert (latency["runs"] == 3).all() and (latency["threads"] == 1).all()
    assert {path.name for path in run.glob("*.csv")} >= {"latency.csv", "summary.csv", "claim.csv"}
    assert not (run / "static.csv").exists()  # only the kind named ran
    (row,) = pd.read_csv(run / "claim.csv").itertuples()
    assert (row.claim, row.baseline, row.variant) == ("lower latency", "single", "stack")
    faster = latency.loc["stack", "latency_ms_median"] < latency.loc["single", "latency_ms_median"]
    assert row.verdict == ("supported" if faster else "contradicted")
    assert "### lower latency" in (run / "claim.md").read_text() and (run / "report.html").is_file()
    assert '<figure id="latency">' in (run / "report.html").read_text() and (run / "figures" / "latency.svg").is_file()


@pytest.mark.slow
def test_a_new_kind_runs_beside_the_others(tmp_path, latency_registered, capsys):
    run = _run(tmp_path, ["static", "latency"])
    summary = pd.read_csv(run / "summary.csv")
    assert {"params", "macs", "latency_ms_median"} <= set(summary.columns) and len(summary) == 2
    assert json.loads((run / "config.json").read_text())["kinds"] == ["static", "latency"]
    assert {"fewer parameters", "lower latency"} <= set(pd.read_csv(run / "claim.csv")["claim"])
    assert "[1/4] latency vgg11-stack-r64-px32" in capsys.readouterr().err  # timed trials run first


@pytest.mark.slow
def test_a_new_kind_gets_a_command_with_its_knobs(tmp_path, latency_registered, capsys):
    out = tmp_path / "latency.csv"
    argv = ["latency", "--ratio", "64", "--resolution", "32", "--variant", "single", "--latency-runs", "2"]
    assert main([*argv, "--device", "cpu", "--out", str(out)]) == 0
    assert list(pd.read_csv(out)["runs"]) == [2]
    assert "Latency at batch 1" in capsys.readouterr().out
    assert main(["latency", "--latency-runs", "0"]) == 2
    assert "latency_runs=0 is not allowed: it must be an integer >= 1" in capsys.readouterr().err


def test_a_kind_that_is_not_registered_is_refused(tmp_path, capsys):
    config = tmp_path / "unknown.toml"
    config.write_text('kinds = ["static", "no-such-kind"]\n')
    assert main(["run", "--config", str(config), "--dry-run"]) == 2
    error = capsys.readouterr().err
    assert f"kinds entry='no-such-kind' is not allowed: choose one of {', '.join(registry.KINDS)}" in error


def test_a_kind_that_is_not_chosen_by_default_runs_only_where_named(latency_registered, monkeypatch):
    monkeypatch.setattr(Latency, "by_default", False)
    assert "latency" not in StudyConfig(GRID).kinds and "static" in StudyConfig(GRID).kinds
    assert StudyConfig({**GRID, "kinds": ["latency"]}).kinds == ("latency",)

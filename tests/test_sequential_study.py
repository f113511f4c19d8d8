"""A study under the group-sequential design: rounds of seeds, stopped once every accuracy comparison is decided.

Training is replaced by a stand-in whose final accuracies are known (each arm's mean plus a spread drawn from
its seed), so the test knows what the design must do: a large true difference is decided at the first look
whose boundary it crosses, and no difference runs to max_seeds.
"""

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest

from vggbench.engine import study
from vggbench.engine.config import load_config
from vggbench.engine.contract import Outcome
from vggbench.engine.kinds.train import checkpoint_of
from vggbench.engine.registry import KINDS
from vggbench.models.schema import identity
from vggbench.reporting import claim
from vggbench.reporting.finish import write_reports
from vggbench.util.validate import InputError
from vggbench.verdicts import designs
from vggbench.verdicts import train as train_verdicts
from vggbench.verdicts.decisions import decisions_record, recorded_decisions
from vggbench.verdicts.sequential import looks_judged, nominal_levels
from vggbench.verdicts.stopping.group_sequential import GroupSequential
from vggbench.verdicts.train import comparison_key

DESIGN = {"design": "group-sequential", "seeds_per_round": 3, "max_seeds": 9, "seeds": list(range(9))}


def _stand_in(means: dict[str, float], fails: tuple = ()):
    """Training replaced: each arm's mean plus its seed's draw; the (variant, seed) runs in `fails` end at
    chance with the loss of a run that never learned (failed by the default rule)."""

    def run(trial, inputs, load_data, report):
        rows, files = [], {}
        for seed in trial.setup.trained_seeds:
            draw = np.random.default_rng([seed, len(trial.spec.variant)])  # its own spread per arm and seed
            accuracy = means[trial.spec.variant] + 0.01 * draw.standard_normal()
            loss = 2.303 if (trial.spec.variant, seed) in fails else 0.5
            accuracy = 0.1 if (trial.spec.variant, seed) in fails else accuracy
            row = {**identity(trial.spec), "seed": seed, "epoch": 1, "train_loss": loss, "train_acc": accuracy}
            rows.append({**row, "test_acc": accuracy, "optimizer_steps": 4, "train_img_per_s": 1.0})
            files[checkpoint_of(trial.spec, seed)] = b"a stand-in: no model"
        return Outcome(rows, files)

    return run


def _run(tmp_path, monkeypatch, tiny_study, means, fails=(), **keys) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    monkeypatch.setattr(KINDS["train"], "run", _stand_in(means, fails))
    lines = []
    config = load_config(**{**tiny_study, **DESIGN, "kinds": ["train"], **keys})
    directory = study.run(config, tmp_path / "run", report=lines.append)
    write_reports(directory.root)
    return directory.table("train"), directory.table("claim"), lines


@pytest.mark.slow
def test_a_large_difference_stops_at_the_first_look_that_crosses(tmp_path, monkeypatch, tiny_study):
    train, claims, lines = _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})
    assert sorted(train["seed"].unique()) == [0, 1, 2]  # one round of three seeds per arm, then no more
    assert "every accuracy comparison is decided after 3 seeds per arm: no more seeds" in lines
    row = claims[(claims["claim"] == "higher accuracy") & (claims["analysis"] == "primary")].iloc[0]
    assert (row["verdict"], row["look"], row["looks"], row["design"]) == ("supported", 1, 3, "group-sequential")
    assert (
        row["p_value"]
        < row["nominal_level"]
        == pytest.approx(nominal_levels((1 / 3, 2 / 3, 1), 0.05, "obrien-fleming")[0])
    )
    assert row["seeds_variant"] == row["seeds_baseline"] == 3


@pytest.mark.slow
def test_no_difference_runs_to_max_seeds(tmp_path, monkeypatch, tiny_study):
    # A margin too narrow for equivalence: nothing can decide it, so every round runs.
    means = {"stack": 0.8, "single": 0.8}
    train, claims, lines = _run(tmp_path, monkeypatch, tiny_study, means, equivalence_margin=1e-4)
    assert sorted(train["seed"].unique()) == list(range(9))
    assert [line for line in lines if line.startswith("round")] == [
        f"round {number} of 3 (up to {3 * number} seeds per arm): 6 trials to run" for number in (1, 2, 3)
    ]
    row = claims[(claims["claim"] == "higher accuracy") & (claims["analysis"] == "primary")].iloc[0]
    assert (row["verdict"], row["look"], row["seeds_variant"]) == ("inconclusive", 3, 9)
    assert row["mde"] > 0 and "no boundary crossed by the last look" in row["note"]


@pytest.mark.slow
def test_a_failed_run_in_the_last_round_does_not_hold_back_the_last_look(tmp_path, monkeypatch, tiny_study):
    # The rounds train seeds, not survivors: a look takes the first n_k seeds trained, the failed left out.
    means = {"stack": 0.8, "single": 0.8}
    fails = (("stack", 7),)
    train, claims, _ = _run(tmp_path, monkeypatch, tiny_study, means, fails, equivalence_margin=1e-4)
    assert sorted(train["seed"].unique()) == list(range(9))
    row = claims[(claims["claim"] == "higher accuracy") & (claims["analysis"] == "primary")].iloc[0]
    assert (row["verdict"], row["look"], row["seeds_variant"], row["seeds_baseline"]) == ("inconclusive", 3, 8, 9)
    assert row["failed_variant"] == 1 and "no boundary crossed by the last look" in row["note"]


def test_a_sequential_design_needs_its_seeds(tiny_study):
    with pytest.raises(
        ValueError, match="max_seeds=9 needs at least that many seeds, taken in order \\(seeds has 2\\)"
    ):
        load_config(**{**tiny_study, **DESIGN, "seeds": [0, 1]})


def test_each_look_is_judged_once_stored_and_read_by_the_claim(tmp_path, monkeypatch, tiny_study):
    _, claims, _ = _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})
    stored = json.loads((tmp_path / "run" / "decisions.json").read_text())
    ((decision,),) = stored["looks"]  # one look, which decided the one comparison
    assert (decision["rival"], decision["verdict"], decision["look"], decision["seeds"]) == (
        "single",
        "supported",
        1,
        3,
    )

    def replayed(*_):
        raise AssertionError("the claim judged the looks again")

    monkeypatch.setattr(train_verdicts, "looks_judged", replayed)
    again, _ = claim.report(tmp_path / "run")
    pd.testing.assert_frame_equal(again, claims)


@pytest.mark.parametrize("stale", [1, 2])
def test_a_record_of_a_stale_format_is_judged_anew_from_the_rows(tmp_path, monkeypatch, tiny_study, stale):
    # Format 1 held each look's first Holm level, not the level each decision was tested at; format 2 was judged
    # without the retest of earlier looks (Maurer-Bretz recycling) and holds no earlier looks' statistics.
    _, claims, _ = _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})
    path = tmp_path / "run" / "decisions.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": stale, "looks": [[{"level": 0.5}]]}))
    again, _ = claim.report(tmp_path / "run")
    pd.testing.assert_frame_equal(again, claims)
    _, _, lines = _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})  # resumed: rewritten
    assert f"{path}: written in format {stale}, not 3: rewritten" in lines
    assert json.loads(path.read_text())["format"] == 3


def test_a_record_keeps_each_looks_statistics_for_the_retest():
    # Three comparisons over the looks of (4, 8, 12) seeds: the decisions read back are those judged, each look's
    # (difference, p, TOST p) with them; a history that does not reach its look is not a decision.
    design = designs.Design(design="group-sequential", seeds_per_round=4, max_seeds=12)
    rng = np.random.default_rng(0)
    samples = {
        comparison_key({"arch": "vgg11"}, rival): (rng.normal(shift, 1, 12), rng.normal(0, 1, 12))
        for rival, shift in (("single", 2.0), ("linear-stack", 0.8), ("dilated", 0.0))
    }
    judged = looks_judged(design.rule, samples, 0.1)
    record = json.loads(json.dumps(decisions_record(judged, design, 0.1)))
    recorded = recorded_decisions(record, design, 0.1, "decisions.json")
    np.testing.assert_equal(
        {key: asdict(found) for key, found in recorded.items()},
        {key: asdict(found) for key, found in judged[-1].items()},
    )  # NaNs as equal: a decided comparison's mde
    assert all(type(found.history[-1]) is tuple for found in recorded.values())  # as judging gives it
    assert [len(found.history) for found in recorded.values()] == [found.look for found in recorded.values()]
    record["looks"][-1][0]["history"].pop()
    with pytest.raises(InputError, match=r"decisions\.json: look 3 holds .* not a decision: remove it to judge anew"):
        recorded_decisions(record, design, 0.1, "decisions.json")


def test_a_resumed_run_rewrites_stored_looks_its_rows_do_not_give(tmp_path, monkeypatch, tiny_study):
    _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})
    path = tmp_path / "run" / "decisions.json"
    judged = path.read_text()
    path.write_text(judged.replace('"supported"', '"contradicted"'))
    _, _, lines = _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})
    assert f"{path}: not the looks the trials' rows give (a trial redone since?): rewritten" in lines
    assert path.read_text() == judged
    _, _, lines = _run(tmp_path, monkeypatch, tiny_study, {"stack": 0.9, "single": 0.5})
    assert not any("rewritten" in line for line in lines)  # a resumed run whose rows gave these looks: kept


def test_the_design_key_names_a_rule_of_the_registry(tmp_path, monkeypatch, tiny_study):
    class FirstAndLast(GroupSequential):  # a rule of the test's own: a look at the first round, then at max_seeds
        @classmethod
        def of(cls, design):
            return cls((design.seeds_per_round, design.max_seeds), design.spending)

    registered = designs.rule_class
    monkeypatch.setattr(
        designs, "rule_class", lambda name: FirstAndLast if name == "group-sequential" else registered(name)
    )
    assert isinstance(load_config(**{**tiny_study, **DESIGN}).design.rule, FirstAndLast)
    means = {"stack": 0.8, "single": 0.8}
    _, claims, lines = _run(tmp_path, monkeypatch, tiny_study, means, equivalence_margin=1e-4)
    assert [line for line in lines if line.startswith("round")] == [
        "round 1 of 2 (up to 3 seeds per arm): 6 trials to run",
        "round 2 of 2 (up to 9 seeds per arm): 12 trials to run",
    ]
    row = claims[(claims["claim"] == "higher accuracy") & (claims["analysis"] == "primary")].iloc[0]
    assert (row["look"], row["looks"], row["seeds_variant"]) == (2, 2, 9)


def _claim_text(tmp_path) -> str:
    return (tmp_path / "run" / "claim.md").read_text()


def test_a_run_resumed_unchanged_keeps_its_design_fixed_before_the_run(tmp_path, monkeypatch, tiny_study):
    means = {"stack": 0.9, "single": 0.5}
    _run(tmp_path, monkeypatch, tiny_study, means)
    _run(tmp_path, monkeypatch, tiny_study, means)
    sittings = json.loads((tmp_path / "run" / "metadata.json").read_text())["sittings"]
    assert len(sittings) == 2 and len({sitting["config_digest"] for sitting in sittings}) == 1
    assert len(sittings[0]["config_digest"]) == 16 and sittings[0]["comparisons"] == ["vgg11-stack-r64-px32 vs single"]
    assert sittings[0]["design"] == {
        "design": "group-sequential",
        "seeds_per_round": 3,
        "spending": "obrien-fleming",
        "max_seeds": 9,
        "equivalence_margin": 0.01,
    }
    assert "a group-sequential design fixed before the run" in _claim_text(tmp_path)
    assert "sittings" not in _claim_text(tmp_path)


def test_a_run_resumed_with_a_grown_family_says_so_in_place_of_fixed_before_the_run(tmp_path, monkeypatch, tiny_study):
    means = {"stack": 0.9, "single": 0.5, "linear-stack": 0.5}
    _run(tmp_path, monkeypatch, tiny_study, means)
    grown = load_config(**{**tiny_study, **DESIGN, "kinds": ["train"], "variants": ["stack", "single", "linear-stack"]})
    study.run(grown, tmp_path / "run", force=True, report=lambda line: None)
    write_reports(tmp_path / "run")
    sittings = json.loads((tmp_path / "run" / "metadata.json").read_text())["sittings"]
    assert sittings[0]["config_digest"] != sittings[1]["config_digest"]
    text = _claim_text(tmp_path)
    assert "fixed before the run" not in text
    assert "a look after every 3 seeds per arm" in text  # the rule's sentence stays, without those words
    assert (
        "The design or the family of the accuracy comparisons changed between the run's sittings (metadata.json): "
        "between sittings 1 and 2, the family from 1 to 2 comparisons (added: vgg11-stack-r64-px32 vs linear-stack)."
    ) in text
    assert "between sittings 1 and 2, the family from 1 to 2" in (tmp_path / "run" / "report.html").read_text()


def test_a_stored_record_unlike_the_rows_says_why_it_is_rewritten():
    from vggbench.verdicts.decisions import unlike

    record = {"format": 2, "design": {"design": "group-sequential"}, "equivalence_margin": 0.01, "looks": [[1], [2]]}
    assert unlike(record, {**record, "looks": [[1]]}) is None  # an earlier sitting's looks, extended: kept
    assert unlike(record, record) is None
    assert unlike(record, {**record, "looks": [[3]]}) == "not the looks the trials' rows give (a trial redone since?)"
    assert unlike(record, {**record, "equivalence_margin": 0.02}).startswith("judged under another design")
    assert unlike(record, {**record, "design": {"design": "fixed"}}).startswith("judged under another design")
    assert unlike(record, {**record, "format": 1}) == "written in format 1, not 2"
    assert unlike(record, ["looks"]) == "not a record of decisions"

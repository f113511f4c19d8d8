"""The quality targets of the benchmark suites: judging, strict mode, and the summary read back from bench.json."""

import importlib.util
import json
from pathlib import Path

import pytest

# bench/ is not a package (its suites import their conftest by name): load its module from its path.
_PATH = Path(__file__).parents[1] / "bench" / "quality.py"
_SPEC = importlib.util.spec_from_file_location("bench_quality", _PATH)
quality = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(quality)


def _bench_json(path: Path, records: list[dict], session: list[dict] = ()) -> Path:
    """A pytest-benchmark file cut down to what the summary reads, with one benchmark that has no target, and
    the session's own records (bench/conftest.py adds them as "quality")."""
    benchmarks = [{"name": "test_plain", "extra_info": {"device": "cpu"}}]
    benchmarks += [{"name": f"test_{i}", "extra_info": {"quality": record}} for i, record in enumerate(records)]
    path.write_text(json.dumps({"benchmarks": benchmarks, **({"quality": list(session)} if session else {})}))
    return path


def test_judge_in_both_directions():
    assert quality.judge("interval", 0.021, 0.05, "<", "half-width")["passed"] is True
    assert quality.judge("interval", 0.05, 0.05, "<", "half-width")["passed"] is False
    assert quality.judge("ratio", 0.9, 0.9, ">=", "loop over bare")["passed"] is True
    assert quality.judge("ratio", 0.87, 0.9, ">=", "loop over bare")["passed"] is False
    with pytest.raises(ValueError, match="comparison"):
        quality.judge("ratio", 1.0, 0.9, ">", "loop over bare")


def test_a_miss_fails_only_in_strict_mode():
    met = quality.judge("ratio", 0.95, 0.9, ">=", "loop over bare")
    missed = quality.judge("ratio", 0.87, 0.9, ">=", "loop over bare")
    assert quality.failure(missed, strict=False) is None
    assert quality.failure(met, strict=True) is None
    reason = quality.failure(missed, strict=True)
    assert "MISSED" in reason
    assert "0.87" in reason


def test_summary_read_back_from_bench_json(tmp_path, capsys):
    records = [
        quality.judge("paired timing, A/A interval", 0.0213, 0.05, "<", "half-width of the interval"),
        quality.judge("training loop against a bare step", 0.874, 0.9, ">=", "img/s ratio"),
    ]
    path = _bench_json(tmp_path / "bench.json", records)
    assert quality.read(path) == records

    quality.main([str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert str(path) in lines[0]
    assert lines[1].strip() == "PASS    paired timing, A/A interval: 0.0213 (target < 0.05; half-width of the interval)"
    assert lines[2].strip() == "MISSED  training loop against a bare step: 0.874 (target >= 0.9; img/s ratio)"
    assert lines[3].strip() == "1 of 2 quality targets met, 1 missed"


def test_the_sessions_quiet_machine_check_is_read_after_the_benchmarks(tmp_path):
    interval = quality.judge("paired timing, A/A interval", 0.009, 0.05, "<", "half-width")
    busy = quality.judge("a quiet machine", 1.96, 0.25, "<", "cores other processes kept busy")
    path = _bench_json(tmp_path / "bench.json", [interval], session=[busy])
    assert quality.read(path) == [interval, busy]
    assert quality.summary(quality.read(path))[-1] == "1 of 2 quality targets met, 1 missed"


def test_summary_without_checks(tmp_path, capsys):
    quality.main([str(_bench_json(tmp_path / "bench.json", []))])
    assert capsys.readouterr().out.startswith("No quality checks in ")

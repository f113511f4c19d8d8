"""Quality targets of the benchmark suites: judged, recorded, summarized.

A benchmark that checks a quality target (an interval narrow enough, a ratio high
enough) records the figure against its target in its extra_info["quality"], which
pytest-benchmark writes to the JSON file. On a shared machine noise alone can miss a
target, so a miss fails its test only in strict mode (bench/conftest.py).

Standard library only, so that the test suite can import it without the bench fixtures.
As a script it prints the summary of a JSON file:

    python bench/quality.py results/bench.json
"""

import argparse
import json
import operator
from pathlib import Path

COMPARISONS = {">=": operator.ge, "<": operator.lt}


def judge(check: str, figure: float, target: float, comparison: str, what: str) -> dict:
    """The record of one check: `figure comparison target` must hold; `what` says what the figure is, with its unit."""
    if comparison not in COMPARISONS:
        raise ValueError(f"comparison must be one of {', '.join(COMPARISONS)}, not {comparison!r}")
    figure = float(figure)
    return {
        "check": check,
        "figure": figure,
        "target": target,
        "comparison": comparison,
        "passed": bool(COMPARISONS[comparison](figure, target)),
        "what": what,
    }


def failure(record: dict, strict: bool) -> str | None:
    """Why the check's test fails, or None: only a missed target in strict mode fails it."""
    if strict and not record["passed"]:
        return f"quality target missed: {line(record)}"
    return None


def line(record: dict) -> str:
    status = "PASS" if record["passed"] else "MISSED"
    return (
        f"{status:<6}  {record['check']}: {record['figure']:.4g} "
        f"(target {record['comparison']} {record['target']:g}; {record['what']})"
    )


def summary(records: list[dict]) -> list[str]:
    """One line per check, then the count of targets met and missed."""
    missed = sum(not record["passed"] for record in records)
    return [*map(line, records), f"{len(records) - missed} of {len(records)} quality targets met, {missed} missed"]


def read(path: Path) -> list[dict]:
    """The quality records in a pytest-benchmark JSON file, in the order the benchmarks ran, then the session's."""
    written = json.loads(Path(path).read_text())
    benchmarks = written["benchmarks"]
    records = [benchmark["extra_info"]["quality"] for benchmark in benchmarks if "quality" in benchmark["extra_info"]]
    return records + written.get("quality", [])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Print the quality targets recorded in a pytest-benchmark JSON file.")
    parser.add_argument("bench_json", type=Path, help="for example results/bench.json")
    path = parser.parse_args(argv).bench_json
    records = read(path)
    if not records:
        print(f"No quality checks in {path}.")
        return
    print(f"Quality targets of the benchmarks in {path} (a miss is reported; `nox -s bench -- --strict` fails on it):")
    for text in summary(records):
        print(f"  {text}")


if __name__ == "__main__":
    main()

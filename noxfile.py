"""Sessions: `nox -s bench` (the main job), `nox -s tests`, `nox -s lint`, `nox -s docs`.

Virtual environments are reused: installing torch takes minutes and gigabytes.
"""

import os
import shutil
from pathlib import Path

import nox

DEBIAN_DATA = "/usr/share/datasets/fashion-mnist"

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint"]


def _install(session: nox.Session) -> None:
    # The ray extra too: its tests run a Ray cluster on this machine, and `nox -s bench -- --executor ray` works.
    session.install("-e", ".[dev,ray]")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the whole test suite (tests that need the data set or a GPU skip with a reason).

    `nox -s tests -- -m "not slow"` gives the quick subset (about a minute on 2 cores): it leaves out the tests
    marked slow, those that train, run a study, start Ray, a browser or vggbench processes that import torch.
    """
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The main job: static tables, the benchmark suites, the study with its claim report, and the quality summary.

    Static tables and the suites' JSON go under results/, the study under runs/PRESET/
    (its tables, claim.md, figures/ and report.html).
    The suites' quality targets are reported, not enforced: their figures go into
    results/bench.json and a summary printed at the end. `--strict` after `--` makes a
    missed target fail its benchmark, which stops the job before the study.
    The other arguments after `--` go to `vggbench run` (default: --preset quick), for
    example `nox -s bench -- --preset claim --device cuda`.
    """
    strict = "--strict" in session.posargs
    study_args = [arg for arg in session.posargs if arg != "--strict"] or ["--preset", "quick"]
    _install(session)
    _ensure_data(session)
    session.run(
        "vggbench",
        "static",
        "--arch",
        "vgg11",
        "vgg13",
        "vgg16",
        "vgg19",
        "--ratio",
        "1",
        "8",
        "--out",
        "results/static.csv",
        "--blocks",
        "results/blocks.csv",
        "--layers",
        "results/layers.csv",
    )
    session.run("pytest", "bench", "--benchmark-json", "results/bench.json", *(["--strict-quality"] if strict else []))
    session.run("vggbench", "run", *study_args)
    session.run("python", "bench/quality.py", "results/bench.json")


def _ensure_data(session: nox.Session) -> None:
    """Fashion-MNIST from Debian's package when it is not there yet (vggbench finds it there; see the README)."""
    if os.environ.get("VGGBENCH_DATA") or Path(DEBIAN_DATA).is_dir():
        return
    if shutil.which("apt-get") and os.geteuid() == 0:
        session.run("apt-get", "update", "-qq", external=True)
        session.run("apt-get", "install", "-y", "-qq", "dataset-fashion-mnist", external=True)
    else:
        session.warn(f"Fashion-MNIST is not in {DEBIAN_DATA}: vggbench will try torchvision's download")


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site from docs/ into build/docs/ with --strict: a broken link, a missing anchor or
    a reference to a name the code no longer has fails the build. Its reference pages are made from the code."""
    session.install("-e", ".[docs]")
    session.run("mkdocs", "build", "--strict", env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting check; import-linter: the layers contract of pyproject.toml."""
    session.install("ruff", "import-linter>=2")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports", "--no-cache", env={"PYTHONPATH": "."})

"""Sessions: `nox -s bench` (the main job), `nox -s tests`, `nox -s lint`.

Virtual environments are reused: installing torch takes minutes and gigabytes.
"""

import nox

nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint"]


def _install(session: nox.Session) -> None:
    session.install("-e", ".[dev]")


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (fast; tests that need the data set or a GPU skip with a reason)."""
    _install(session)
    session.run("pytest", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """The study so far: static cost of every preset in every variant, and the benchmark suites.

    Tables and the suites' JSON go under results/. Arguments after `--` replace the
    default `vggbench static` options.
    """
    _install(session)
    args = session.posargs or [
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
    ]
    session.run("vggbench", "static", *args)
    session.run("pytest", "bench", "--benchmark-json", "results/bench.json")


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting check."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")

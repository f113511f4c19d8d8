"""The registry of measurement kinds: a new kind is one module in vggbench/engine/kinds/ and one line here."""

from __future__ import annotations

import importlib

from vggbench.engine.contract import Kind, LoadData, Outcome, Report, Trial
from vggbench.util.validate import InputError

KIND_MODULES = (
    "static",
    "speed",
    "pairs",
    "train",
    "erf",
    "density",
)
KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (importlib.import_module(f"vggbench.engine.kinds.{name}").KIND for name in KIND_MODULES)
}


def run_trial(trial: Trial, inputs: dict[str, bytes], load_data: LoadData, report: Report | None = None) -> Outcome:
    """Run one trial, anywhere: it reads only `inputs` and the data set, and writes nothing. A trial that
    fails gives back its error instead of rows."""
    try:
        return KINDS[trial.kind].run(trial, inputs, load_data, report)
    except (InputError, RuntimeError) as error:  # a bad input or a failure of torch; any other error is a bug
        return Outcome([], error=f"{type(error).__name__}: {error}")

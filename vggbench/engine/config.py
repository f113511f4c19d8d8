"""A study's configuration: one flat set of keys, from a preset, a TOML file and explicit values.

The keys are the knobs of the study's scope (kinds, seeds), its grid of models, the
machine, the verdicts' margins, and the setup of every registered kind (see
`vggbench.util.knobs`); each is declared once, there. A configuration is checked whole when it is made: an unknown
key or a bad value stops the run before anything starts.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import CONFIG, RunDir
from vggbench.engine.tuning import Tuning
from vggbench.measure.hardware import Machine
from vggbench.measure.setups import MODES
from vggbench.models.arch import Grid, ModelSpec
from vggbench.util import knobs
from vggbench.util.csvio import MAX_CONFIG_BYTES, parse_nested, read_bytes
from vggbench.util.knobs import Setup, knob
from vggbench.util.validate import MAX_SEED, InputError, did_you_mean, one_of, shown
from vggbench.verdicts.designs import Design


@dataclass(frozen=True)
class Scope(Setup):
    """What a study measures besides the grid: which kinds, and over which seeds."""

    GROUP = "study"

    kinds: tuple[str, ...] | None = knob(
        None,
        "the measurement kinds to run (default: every registered kind that applies and runs by default)",
        flags=None,
    )
    seeds: tuple[int, ...] = knob(
        (0,),
        "random seed(s), one trained model each (initial weights, data order, dropout); an untrained "
        "effective field starts its initialisations with them",
        flags=("--seeds", "--seed", "--init-seeds"),
        minimum=0,
        maximum=MAX_SEED,
        metavar="SEED",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for kind in self.kinds or ():
            one_of("kinds entry", kind, KINDS)


@dataclass(frozen=True)
class Margins(Setup):
    """What counts as no difference; a study's config fixes them before it runs."""

    GROUP = "verdicts"

    equivalence_margin: float = knob(
        0.01,
        "accuracies within +- this of each other are equivalent when both one-sided tests (TOST) reject",
        above=0,
        maximum=1,
    )
    erf_margin: float = knob(
        0.02,
        "effective fields are the same when the 90%% interval of the difference of their area ratios (the share "
        "of the image holding half the input gradient) lies within +- this",
        above=0,
        maximum=1,
    )


@dataclass(frozen=True)
class Rules(Design, Margins):
    """How a run's verdicts are reached: what counts as no difference, and the design of the accuracy
    comparisons (how many seeds, looked at when); and, no knob, the decisions a sequential run's rounds stored
    (by comparison: vggbench.verdicts.decisions.recorded_decisions), which the claim reads instead of judging the
    looks again (None: judged from the rows)."""

    decisions: dict | None = dataclasses.field(default=None, compare=False, repr=False)


CORE = (Scope, Grid, Machine, Margins, Design, Tuning)

# The claim presets' condition and budget: ratio 8, 32 px, batch norm off and on, 5 epochs of each seed's own
# 20,000 images, seeds in rounds until each comparison is decided.
_SEQUENTIAL_AT_32PX = {
    "ratios": [8],
    "resolutions": [32],
    "batch_norm": [False, True],
    "design": "group-sequential",
    "epochs": 5,
    "train_limit": 20_000,
    "subset_per_seed": True,
}
# Every preset times both modes for at least a second per measurement.
_TIMING = {"speed_modes": list(MODES), "speed_min_time_s": 1.0}
PRESETS = {
    # vgg11 and vgg13 (a 5x5 against two 3x3) and vgg16 (a 7x7 against three 3x3), all
    # three variants, at 32 px, two seeds, two short epochs on a third of the data:
    # 4 to 8 minutes on two CPU cores.
    "quick": {
        "archs": ["vgg11", "vgg13", "vgg16"],
        "ratios": [8],
        "resolutions": [32],
        "seeds": [0, 1],
        "epochs": 2,
        "train_limit": 20_000,
        "subset_per_seed": True,
        "pairs": 32,
        "rebuilds": 8,
        **_TIMING,
    },
    # Three width ratios, batch norm off and on, three seeds, every training image but those held out for validation
    # (as every preset holds them out): hours on a CPU, minutes on a GPU.
    "claim": {
        "archs": ["vgg11", "vgg13", "vgg16"],
        "ratios": [4, 8, 16],
        "resolutions": [64],
        "batch_norm": [False, True],
        "seeds": [0, 1, 2],
        "epochs": 5,
        **_TIMING,
    },
    # The book's recipe, stack against single, for vgg11 (the book's configuration A) and vgg13 (B, where the
    # VGG paper put one 5x5 conv in place of each pair of 3x3): for a GPU.
    "paper": {
        "archs": ["vgg11", "vgg13"],
        "variants": ["stack", "single"],
        "ratios": [8],
        "resolutions": [224],
        "seeds": [0, 1, 2],
        "epochs": 5,
        **_TIMING,
    },
    # vgg13 stack against single, batch norm off and on, each decided by a group-sequential design (O'Brien-Fleming
    # spending): a look after every 4 seeds per arm, up to 24; training only. The fixed run it replaced took 22
    # seeds per arm (49 minutes on two CPU cores, about 2 min 18 s per pair of runs, one seed at a time);
    # `vggbench design` on that run's seeds expects 10 here.
    "verdict": {
        **_SEQUENTIAL_AT_32PX,
        "archs": ["vgg13"],
        "variants": ["stack", "single"],
        "seeds": list(range(24)),
        "seeds_per_round": 4,
        "max_seeds": 24,
        "kinds": ["static", "train"],
    },
    # Where the claim holds: stack against the single kernel and against the single kernel only where the map
    # is as wide as it, for vgg11, vgg13 and vgg16, batch norm off and on, at 32 px; each run a budget (a cosine
    # decay over 5 epochs of its own 20,000 images), rounds of 5 seeds until decided (up to 15). Static counts
    # and the effective field beside: no timing (the machine is busy training).
    "map": {
        **_SEQUENTIAL_AT_32PX,
        "archs": ["vgg11", "vgg13", "vgg16"],
        "variants": ["stack", "single", "single-fits"],
        "seeds": list(range(15)),
        "seeds_per_round": 5,
        "max_seeds": 15,
        "lr_schedule": "cosine",
        "kinds": ["static", "train", "erf"],
    },
    # The map's stack against single-fits, each arm at its own recipe: the same search for every arm (12 candidates,
    # one tuning seed each, on the 10,000 validation images), then the map's group-sequential seeds at each arm's
    # chosen recipe. The space spans the VGG paper's recipe (SGD, momentum 0.9) and the book's (Adam), torchvision's
    # Kaiming initialisation and PyTorch's default, and three decades of learning rate around both recipes' values.
    "tuned-map": {
        **_SEQUENTIAL_AT_32PX,
        "archs": ["vgg11", "vgg13", "vgg16"],
        "variants": ["stack", "single-fits"],
        "seeds": list(range(15)),
        "seeds_per_round": 5,
        "max_seeds": 15,
        "lr_schedule": "cosine",
        "kinds": ["static", "train"],
        "tune_candidates": 12,
        "tune_per_round": 4,
        "tune_seeds": [1000],
        "tune_space": ["optimizer=adam|sgd", "lr=log(1e-4,1e-1)", "momentum=0.9", "init=default|kaiming"],
    },
}

# What each preset is, in a few words (the command line's help for --preset).
PRESET_SUMMARIES = {
    "quick": "vgg11/13/16 at 32 px, 2 seeds, short training (minutes on a CPU)",
    "claim": "ratios 4, 8, 16, batch norm off and on, 3 seeds (hours on a CPU)",
    "paper": "the book's recipe for vgg11 and vgg13, stack against single (GPU)",
    "verdict": "vgg13 stack against single, batch norm off and on, rounds of 4 seeds each until decided (up to 24), "
    "training only",
    "map": "where the claim holds: vgg11/13/16, batch norm off and on, the large kernel everywhere or where it "
    "fits, rounds of 5 seeds until decided (up to 15)",
    "tuned-map": "the map's stack against single-fits, each arm at the recipe the same search chose for it on "
    "validation images (12 candidates per arm), then rounds of 5 seeds until decided (up to 15)",
}


def known_keys() -> list[str]:
    """Every config key: the core's and every registered kind's."""
    classes = [*CORE, *(kind.setup for kind in KINDS.values() if kind.setup is not None)]
    return list(dict.fromkeys(key for cls in classes for key in knobs.config_keys(cls)))


def refuse_unknown(values: Mapping[str, object], source: str | None = None) -> None:
    """Refuse keys that are no config key, each with the known key it is closest to (and the file they came
    from, `source`)."""
    known = known_keys()
    unknown = sorted(set(values) - set(known))
    if unknown:
        named = ", ".join(f"{shown(key, quoted=False)}{did_you_mean(key, known)}" for key in unknown[:5])
        named += f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
        where = f"{source}: " if source else ""
        raise InputError(f"{where}unknown config key(s) {named}: allowed are {', '.join(sorted(known))}")


class StudyConfig:
    """A checked configuration: every key of every kind is checked, selected or not; `values` holds every key
    of the core and of the selected kinds, defaults filled in and the machine resolved (what config.json
    records; the tuning keys only where it tunes). Its keys read as attributes: `config.seeds`, `config.epochs`.
    `recipes` holds each arm's chosen recipe once tuning chose them (`with_recipes`), else None."""

    def __init__(self, values: Mapping[str, object]) -> None:
        refuse_unknown(values)
        machine, grid, scope, margins, design = (
            knobs.settings(cls, values) for cls in (Machine, Grid, Scope, Margins, Design)
        )
        resolved = {**values, **machine}
        self.machine, self.grid, self.design = Machine(**machine), Grid(**grid), Design(**design)
        self.values: dict[str, object] = {**scope, **grid, **machine, **margins, **design}
        self._check_design()
        if self.grid.factory is not None:  # every variant must rewrite some chain of the factory's net
            from vggbench.models.factory import chain_table

            chain_table(self.models())
        self.tuning, self.recipes = Tuning(**knobs.settings(Tuning, values)), None
        if self.tuning.enabled:  # recorded only then: the config.json of a run that does not tune stays as it was
            self.values.update(self.tuning.recorded())
        # Every kind's keys are checked, whether it runs or not; those of the kinds that run are kept.
        setups = {name: knobs.settings(kind.setup, resolved) for name, kind in KINDS.items() if kind.setup is not None}
        self.values["kinds"] = self._select(scope["kinds"])
        for name in self.kinds:
            self.values.update(setups.get(name, {}))
        self.tuning.check(self)

    def _check_design(self) -> None:
        if self.design.sequential and len(self.seeds) < self.design.max_seeds:
            raise InputError(
                f"design={self.design.design!r} with max_seeds={self.design.max_seeds} needs at least that many "
                f"seeds, taken in order (seeds has {len(self.seeds)}): give more seeds or a smaller max_seeds"
            )

    @property
    def trained_seeds(self) -> tuple[int, ...]:
        """The seeds a model may train: all of `seeds`, or under a sequential design the first max_seeds."""
        return self.seeds[: self.design.max_seeds] if self.design.sequential else self.seeds

    @property
    def first_seeds(self) -> tuple[int, ...]:
        """The seeds every model trains: all of them, or under a sequential design the first round's."""
        return self.seeds[: self.design.seeds_per_round] if self.design.sequential else self.seeds

    def _select(self, asked: tuple[str, ...] | None) -> tuple[str, ...]:
        """The kinds asked for (each must apply), or every registered kind chosen by default that applies."""
        self.values["kinds"] = asked or tuple(name for name, kind in KINDS.items() if kind.by_default)
        selected = []
        for name in self.values["kinds"]:
            try:
                KINDS[name].check(self)
            except InputError:
                if asked:
                    raise
                continue
            selected.append(name)
        return tuple(selected)

    def __getattr__(self, name: str):
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"the configuration has no key {name!r}")

    def with_recipes(self, recipes: dict[str, dict]) -> StudyConfig:
        """This configuration with each arm's chosen recipe (arm name -> {knob: value}): its training trials are
        planned at them."""
        tuned = copy.copy(self)
        tuned.recipes = recipes
        return tuned

    def models(self) -> list[ModelSpec]:
        return self.grid.models()

    def notes(self) -> list[str]:
        """What a run of this configuration does that its keys do not say, told once before it runs: a factory's
        twins, chain by chain, and its seeds trained one at a time."""
        if self.grid.factory is None:
            return []
        from vggbench.models.factory import chain_table

        notes = [note] if (note := chain_table(self.models())) else []
        if "train" in self.kinds and self.seed_batch > 1:
            notes.append(
                f"{self.grid.factory}: its models train one seed at a time (seed_batch={self.seed_batch} groups the "
                "seeds of VGGs only, whose layers vggbench knows); their rows say seed_batch 1"
            )
        return notes

    def setups(self, cls, **fixed) -> list:
        """The setups of class `cls` this configuration describes: one per combination of its axes."""
        return knobs.expand(cls, self.values, fixed)

    def to_dict(self) -> dict:
        """The values as config.json holds them: lists for tuples, a block's per-conv widths too."""
        return {key: _plain(value) for key, value in self.values.items()}


def _plain(value):
    return [_plain(entry) for entry in value] if isinstance(value, tuple) else value


# Keys that describe a user's own net (`--arch custom`, or a factory), and the preset keys that describe the
# preset's: a file or option giving the first makes the preset's models and width ratio not apply unless it gives
# them too.
OWN_NET_KEYS = ("convs", "widths", "kernel", "factory")
PRESET_NET_KEYS = ("archs", "ratios")


def load_config(preset: str | None = None, toml_path: str | Path | None = None, **overrides) -> StudyConfig:
    """A preset, then the TOML file's keys, then explicit overrides (None: not given)."""
    values: dict = {}
    if preset is not None:
        one_of("preset", preset, PRESETS)
        values.update(PRESETS[preset])
    given = {}
    if toml_path is not None:
        given = _read_toml(Path(toml_path))
        refuse_unknown(given, f"config file {toml_path}")
    given.update({key: value for key, value in overrides.items() if value is not None})
    if any(key in given for key in OWN_NET_KEYS):  # the user's own net replaces the preset's VGGs, and their ratio
        values = {key: value for key, value in values.items() if key not in PRESET_NET_KEYS or key in given}
    values.update(given)
    return StudyConfig(values)


def _read_toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return parse_nested(tomllib.loads, read_bytes(path, MAX_CONFIG_BYTES).decode("utf-8"), f"config file {path}")
    except OSError as error:
        raise InputError(f"config file {path} cannot be read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"config file {path} is not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise InputError(f"config file {path} is not valid TOML: it is not UTF-8 text ({error})") from None


def run_config(directory: RunDir, missing_ok: bool = False) -> dict:
    """The configuration of the run in `directory`, checked as a run checks one (known keys, allowed values: a
    StudyConfig), by every command and the API alike: an InputError names the file and the key. Where there is
    none: {} if `missing_ok`, else an InputError."""
    config = directory.stored_config(missing_ok)
    if config:
        try:
            StudyConfig(config)
        except InputError as error:
            raise InputError(f"{directory.path(CONFIG)} holds a configuration vggbench cannot run: {error}") from None
    return config

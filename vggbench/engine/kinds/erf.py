"""Effective receptive field of each model, untrained (over several initialisations, the seeds' first) and
trained (over the seeds' trained models, read from their checkpoints), or of given checkpoints. Untrained models
with and without batch norm are the same models: measured once, in one row that says so (`_untrained`)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
from dataclasses import dataclass

from vggbench.engine.contract import Files, Kind, Outcome, Table, Trial
from vggbench.engine.kinds.train import checkpoint_of, checkpoint_part, trial_key
from vggbench.engine.rundir import ERF_MAPS, erf_map_name, model_key, spec_key
from vggbench.measure import data
from vggbench.measure.setups import RESAMPLES
from vggbench.models.arch import FactoryArch, ModelSpec
from vggbench.models.schema import ARCH, BOTH_NORMS, NAME_KEYS, STANDS_FOR
from vggbench.util.csvio import BOOLEAN, COUNT, INTEGER, NUMBER, TEXT
from vggbench.util.knobs import Setup, knob, refuse_ignored
from vggbench.util.validate import InputError

COLUMNS = (
    *NAME_KEYS,
    "trained",
    STANDS_FOR,
    "erf_resolution",
    "rf_px",
    "erf_side_t50",
    "erf_side_t50_low",
    "erf_side_t50_high",
    "uniform_side_t50",
    "erf_share_t50",
    "erf_share_t50_low",
    "erf_share_t50_high",
    "erf_share_t50_models",
    "erf_area_ratio_t50",
    "replknet_area_ratio_t50",
    "erf_side_t99",
)


@dataclass(frozen=True)
class ErfSetup(Setup):
    """How to measure an effective field."""

    GROUP = "measurement"

    images: int = knob(64, "test images to average over", key="erf_images", minimum=1, maximum=data.COUNTS["test"])
    resolution: int | None = knob(
        None,
        "input side for the effective field, whatever the side the model was trained at (default: per model, "
        "the smallest multiple of 2**blocks at which the central unit's theoretical field fits in the image)",
        key="erf_resolution",
        flags=("--erf-resolution",),
        minimum=1,
        metavar="PX",
    )
    resamples: int = knob(
        RESAMPLES,
        "bootstrap resamples of images and models for each figure's interval",
        key="erf_resamples",
        minimum=2,
        maximum=100_000,  # far beyond, the interval no longer moves while memory and time grow with the draws
    )
    at_training_resolution: bool = knob(
        False,
        "also measure each model at the side it was trained at, beside the fitting side (where the theoretical "
        "field does not fit there, rf_fits says so)",
        key="erf_at_training_resolution",
    )
    untrained_models: int = knob(
        5,
        "freshly initialised models per arm for the untrained field: the trained seeds' initial weights first, "
        "then the study's later seeds, then the next unused integers (the interval is a t-interval over models)",
        key="erf_untrained_models",
        minimum=2,
        maximum=1000,
    )
    checkpoints: tuple[str, ...] | None = knob(
        None,
        "measure these trained models (from vggbench train --save-checkpoint) instead (default: none, the models of "
        "the model options, untrained)",
        key="erf_checkpoints",
        flags=("--checkpoint",),
        metavar="PATH",
    )
    # Set per trial: the models are trained ones (from checkpoints), or fresh ones of these seeds.
    trained: bool = False
    seeds: tuple[int, ...] = (0,)
    at_training: bool = False  # this trial measures at the training side

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("untrained_models", "at_training_resolution"):
            refuse_ignored(self, name, not self.checkpoints, "checkpoints", "without erf_checkpoints")


def _initialisations(first: tuple[int, ...], seeds: tuple[int, ...], setup: ErfSetup) -> tuple[int, ...]:
    """The seeds of the untrained models: those every model trains, then the study's other seeds, then
    unused integers, until there are `untrained_models` (never fewer than the trained ones)."""
    chosen = list(dict.fromkeys((*first, *seeds)))[: max(setup.untrained_models, len(first))]
    spare = (seed for seed in itertools.count() if seed not in chosen)
    chosen += itertools.islice(spare, max(setup.untrained_models - len(chosen), 0))
    return tuple(chosen)


def _untrained(models: list[ModelSpec]) -> list[tuple[ModelSpec, str | None]]:
    """The models whose untrained field is measured, each with what else its row stands for: a model with batch
    norm whose twin without it is in the study is not measured, its twin's row stands for both.

    At initialisation batch norm (in eval mode: mean 0, variance 1, weight 1, bias 0) only divides each conv's
    output by sqrt(1 + eps), and it draws no random numbers: from a seed the twins' convs get the same weights.
    With eps = 0 their gradient maps are equal; with PyTorch's 1e-5 each conv's bias is divided once while the
    signal below it was divided at every layer, so they differ slightly: in the map run of 2026-11-30 (vgg11, 13
    and 16, measured apart) each model's share agreed with its twin's within 4e-4 (relative) but for one vgg16
    stack model (2e-3), while the shares spread 3 to 8% between models.
    """
    measured = []
    for spec in models:
        # A factory's model has no twin with batch norm: the factory builds the whole net.
        if (
            isinstance(spec.arch, FactoryArch)
            or dataclasses.replace(spec, batch_norm=not spec.batch_norm) not in models
        ):
            measured.append((spec, None))
        elif not spec.batch_norm:
            measured.append((spec, BOTH_NORMS))
    return measured


def _digest(path: str) -> str:
    """The SHA-256 of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as error:
        raise OSError(f"cannot read {path}: {error.strerror or error}") from None
    return digest.hexdigest()


def _state(setup: ErfSetup) -> str:
    return ("trained" if setup.trained else "untrained") + ("-at-training-px" if setup.at_training else "")


class Erf(Kind):
    name = "erf"
    setup = ErfSetup
    needs_data = True
    uses_seeds = True
    models_from = "erf_checkpoints"
    tables = (
        Table(
            "erf",
            "Effective receptive field (sides in px)",
            COLUMNS,
            reads=(
                ("arch", ARCH),
                ("variant", TEXT),
                ("trained", BOOLEAN),
                ("erf_resolution", COUNT),
                ("rf_px", INTEGER),
                *((column, NUMBER) for column in ("centre_px", "erf_side_t50", "erf_side_t99")),
            ),
        ),
    )
    files = Files(ERF_MAPS, "--save-maps", "DIR", "save each contribution map as .npy here")
    help = "effective receptive field of each model, untrained or from checkpoints"
    description = (
        "The effective receptive field (Luo et al. 2016, measured as RepLKNet does): the clamped input gradient "
        "of the central unit of the last feature map, averaged over Fashion-MNIST test images; then the side of "
        "the smallest centred square holding 20, 30, 50 and 99% of it, against the theoretical receptive field."
    )

    def check(self, config) -> None:
        data.check_fits(config.in_channels)
        if config.grid.factory is None:
            return
        from vggbench.measure import erf

        for spec in config.models():  # the central unit is placed by the theoretical field: it must be followed
            try:
                erf.fitting_resolution(spec)
            except ValueError as error:
                raise InputError(
                    f"erf cannot measure {spec.arch.target} {spec.variant}: the field of its feature map's units is "
                    f"not known ({error}; leave erf out of kinds)"
                ) from None

    def plan(self, config) -> list[Trial]:
        base = config.setups(ErfSetup, seeds=config.first_seeds)[0]  # the seeds every model trains
        if base.checkpoints:
            return [self._of_checkpoint(path, base) for path in base.checkpoints]
        sides = (False, True) if base.at_training_resolution else (False,)
        untrained = dataclasses.replace(base, seeds=_initialisations(config.first_seeds, config.seeds, base))
        plan = [
            self._trial(spec, dataclasses.replace(untrained, at_training=at), stands_for)
            for spec, stands_for in _untrained(config.models())
            for at in sides
        ]
        if "train" in config.kinds:  # after training, from its checkpoints
            for spec in config.models():
                part = checkpoint_part(config)  # with tuning alone, the tuned models
                needs = tuple(("train", trial_key(spec, seed, part)) for seed in config.first_seeds)
                reads = tuple(checkpoint_of(spec, seed, part) for seed in config.first_seeds)
                for at in sides:
                    trained = dataclasses.replace(base, trained=True, at_training=at)
                    plan.append(self._trial(spec, trained, needs=needs, reads=reads))
        return plan

    def count(self, config) -> int:
        base = config.setups(ErfSetup, seeds=config.first_seeds)[0]
        if base.checkpoints:
            return len(base.checkpoints)
        models = config.models()
        trained = len(models) if "train" in config.kinds else 0
        return (len(_untrained(models)) + trained) * (2 if base.at_training_resolution else 1)

    def _trial(self, spec, setup: ErfSetup, stands_for: str | None = None, **files) -> Trial:
        from vggbench.measure import erf

        side = spec.resolution if setup.at_training else setup.resolution or erf.fitting_resolution(spec)
        if side < spec.min_resolution:
            raise InputError(
                f"erf_resolution={side} is not allowed for {spec.arch.name}: its {spec.arch.num_blocks} 2x2 "
                f"poolings need at least {spec.min_resolution} px (the default fits the theoretical field)"
            )
        setup = dataclasses.replace(setup, resolution=side)
        labels = (("trained", setup.trained), *(("checkpoint", path) for path in setup.checkpoints or ()))
        labels += ((STANDS_FOR, stands_for),) if stands_for else ()  # where set only: other fingerprints stay
        return Trial(self.name, spec, f"{spec_key(spec)}-{_state(setup)}", setup, labels, **files)

    def _of_checkpoint(self, path: str, base: ErfSetup) -> Trial:
        from vggbench.measure.checkpoints import checkpoint_spec

        spec = checkpoint_spec(path)
        setup = dataclasses.replace(base, trained=True, checkpoints=(path,))
        return self._trial(spec, setup, reads=(path,), upstream=(_digest(path),))  # the file by its content

    def run(self, trial, inputs, load_data, report) -> Outcome:
        import numpy as np

        from vggbench.measure import erf
        from vggbench.measure.checkpoints import load_checkpoint

        spec, setup = trial.spec, trial.setup
        images = data.prepare(load_data().test_images[: setup.images], setup.resolution)
        if setup.trained:
            missing = [name for name in trial.reads if name not in inputs]
            if missing:
                raise InputError(f"no trained model for {', '.join(missing)}: its training trial failed")
            models = [load_checkpoint(inputs[name], spec)[0] for name in trial.reads]
            row, contribution = erf.measure_models(spec, models, images, True, setup.resamples)
        else:
            row, contribution = erf.measure_untrained(spec, images, setup.seeds, setup.resamples)
        row.update(trial.labels)  # its checkpoint, what else it stands for
        buffer = io.BytesIO()
        np.save(buffer, contribution)
        return Outcome([row], {f"{ERF_MAPS}/{erf_map_name(spec_key(spec), _state(setup))}": buffer.getvalue()})

    def estimate_s(self, trial, gflops) -> float:
        from vggbench.measure.static import flops_per_image

        models = len(trial.reads) if trial.setup.trained else len(trial.setup.seeds)
        scale = (trial.setup.resolution / trial.spec.resolution) ** 2  # the convs' work grows with the image
        return 2 * flops_per_image(trial.spec) * scale * trial.setup.images * models / (gflops * 1e9)

    def memory(self, trial):
        from vggbench.measure.memory import needed_bytes, shapes

        spec, setup = trial.spec, trial.setup
        models = len(trial.reads) if setup.trained else len(setup.seeds)
        parameters, _ = shapes(spec)
        gradients = needed_bytes(spec, setup.images, True, False, setup.resolution)
        maps = 8 * setup.resolution**2 * (models * setup.images + 3 * setup.resamples)  # float64 maps, bootstrap
        return models * parameters * 4 + gradients + maps, "cpu"

    def describe(self, rows) -> str:
        row = rows[0]
        return f"99% of the gradient within {row['erf_side_t99']} px (theoretical field {row['rf_px']} px)"

    def judge(self, tables, rules) -> list[dict]:
        from vggbench.verdicts import erf as erf_verdicts

        return erf_verdicts.claims(tables["erf"], rules.erf_margin)

    def figures(self):
        from vggbench.figures import erf as erf_figures

        return erf_figures.figures(ERF_MAPS, lambda model, state: erf_map_name(model_key(*model), state))


KIND = Erf()

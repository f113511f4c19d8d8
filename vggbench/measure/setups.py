"""The setups of the speed and training measurements (their knobs, allowed values and defaults), and
the defaults that other setups share with the measurements.

They live here, not beside the measurements in vggbench/measure/ (which import torch), so that the
command line builds its options from them, and answers --help, without importing torch. Torch is
imported where it is needed: for the default device and thread count (vggbench.measure.hardware.Machine)
when a setup is made, and for the columns of a timed row.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

from vggbench.measure.data import COUNTS
from vggbench.measure.hardware import Machine, device_name
from vggbench.measure.training_rules import FAILURE_LOSS_RATIO, PLATEAU_GAIN
from vggbench.models.arch import FactoryArch, ModelSpec
from vggbench.util.knobs import NOT_A_KEY, knob, refuse_ignored
from vggbench.util.validate import InputError, shown

MODES = ("infer", "train")
PRECISIONS = ("fp32", "bf16", "fp16")
MAX_EPOCHS = 10_000  # the most epochs a run may ask for: more is a typo, not a budget
MAX_TIMED_S = 3600  # the longest a timing may be asked to last: longer is a typo, not a measurement
OPTIMIZERS = ("adam", "sgd")
LR_SCHEDULES = ("constant", "cosine", "linear")
INITS = ("default", "kaiming", "xavier")  # what each does: vggbench.models.vgg.initialize
# The fast path per device, chosen by measurement (bench/test_train_settings.py; docs/measuring.md, "Training speed").
DEVICE_DEFAULTS = {
    "cpu": {"channels_last": True, "precision": "fp32", "seed_batch": 4, "seed_lanes": 2},
    "cuda": {"channels_last": False, "precision": "fp32", "seed_batch": 1, "seed_lanes": 1},
}


def _per_device(name: str) -> str:
    """A training setting's default on each device, as the help says it: "4 for cpu, 1 for cuda"."""
    words = [
        f"{ ({True: 'on', False: 'off'}[value] if isinstance(value, bool) else value) } for {device}"
        for device, value in ((device, values[name]) for device, values in DEVICE_DEFAULTS.items())
    ]
    return ", ".join(words)


RESAMPLES = 200  # bootstrap resamples of images and models for an effective field's intervals


def seconds_knob(default: float, help: str, key: str, flag: str):
    """A duration of timing in seconds, from 0 to MAX_TIMED_S."""
    return knob(default, help, key=key, flags=(flag,), minimum=0, maximum=MAX_TIMED_S, metavar="SECONDS")


@dataclass(frozen=True)
class SpeedSetup(Machine):
    """How to time a model; validated when made. `mode` and `batch_size` are axes: a study times
    every model in each mode and batch size it lists."""

    GROUP = "timing"

    mode: str = knob(
        "infer",
        "infer: eval mode under inference_mode; train: forward, loss, backward, Adam step",
        key="speed_modes",
        flags=("--mode",),
        choices=MODES,
        axis=True,
    )
    batch_size: int = knob(64, "batch size(s)", key="speed_batch_size", minimum=1, axis=True)
    precision: str = knob(
        "fp32",
        "fp32, or autocast to bf16 or fp16 (fp16 on CUDA only)",
        key="speed_precision",
        choices=PRECISIONS,
    )
    channels_last: bool = knob(False, "channels-last memory format for model and input", key="speed_channels_last")
    compiled: bool = knob(
        False, "torch.compile the model (compilation is warm-up)", key="speed_compile", flags=("--compile",)
    )
    min_time_s: float = seconds_knob(
        2.0, "seconds of timed steps per measurement (per model when --paired)", "speed_min_time_s", "--min-time"
    )
    target_half_width: float = knob(
        0.03,
        "keep timing until the 95%% interval of the median step time (paired: of each time ratio) is within "
        "+- this share of it, or --max-time has passed; a row that misses it is flagged stable=False",
        key="speed_target_half_width",
        above=0,
        maximum=1,
        metavar="SHARE",
    )
    max_time_s: float = seconds_knob(
        10.0,
        "the longest a measurement may go on sampling to reach --target-half-width (a paired comparison: all "
        "its variants together); never less than --min-time",
        "speed_max_time_s",
        "--max-time",
    )
    cudnn_benchmark: bool = knob(True, "let cuDNN pick the fastest algorithms (CUDA only)", key="speed_cudnn_benchmark")
    oom_retry: bool = knob(
        False,
        "after CUDA out-of-memory, halve the batch until it fits (the row records the batch used); "
        "without it the row says error=oom and the run goes on",
        key="speed_oom_retry",
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.precision == "fp16" and self.device == "cpu":
            raise InputError("precision='fp16' is not allowed on device='cpu': use fp32 or bf16 there")

    @property
    def tf32(self) -> bool:
        """Whether fp32 convolutions may run in TF32 (cuDNN's default on Ampere and newer)."""
        import torch

        return self.device == "cuda" and self.precision == "fp32" and torch.backends.cudnn.allow_tf32

    def columns(self) -> dict:
        import torch

        return {
            "mode": self.mode,
            "device": self.device,
            "device_name": device_name(self.device),
            "batch_size": self.batch_size,
            "precision": self.precision,
            "channels_last": self.channels_last,
            "compiled": self.compiled,
            "threads": self.threads,
            "cudnn_benchmark": self.device == "cuda" and self.cudnn_benchmark,
            "tf32": self.tf32,
            "min_time_s": self.min_time_s,
            "target_half_width": self.target_half_width,
            "max_time_s": self.max_time_s,
            "torch_version": torch.__version__,
        }


# The TrainConfig knobs that make a training recipe, which a search may vary (vggbench.engine.tuning) and the claim
# compares between arms (vggbench.verdicts.train.recipe_note): not the budget, the data or the machine (those that
# TrainConfig has: `init` where it is a knob).
RECIPE_KNOBS = ("lr", "optimizer", "momentum", "weight_decay", "lr_schedule", "batch_size", "normalize", "init")


@dataclass(frozen=True)
class TrainConfig(Machine):
    """How to train; validated when made. The defaults are the book's recipe (d2l.ai's VGG chapter)."""

    GROUP = "training"

    epochs: int = knob(
        5,
        "passes over the training set; several: each its own runs, the learning-rate schedule over that many "
        "epochs (a budget axis: the claim compares the stack's lead between budgets)",
        minimum=1,
        maximum=MAX_EPOCHS,
        axis=True,
        one_as_value=True,
    )
    batch_size: int = knob(64, "training batch size", minimum=1)
    lr: float = knob(1e-3, "learning rate", above=0, maximum=10)
    optimizer: str = knob("adam", "optimizer", choices=OPTIMIZERS)
    lr_schedule: str = knob(
        "constant",
        "the learning rate over the run: constant (the book's), or decaying from lr to zero over the run's "
        "optimizer steps along a half cosine or a straight line",
        choices=LR_SCHEDULES,
    )
    momentum: float = knob(0.0, "SGD momentum (the VGG paper's: 0.9)", minimum=0, maximum=1)
    weight_decay: float = knob(0.0, "L2 weight decay (the VGG paper's: 5e-4)", minimum=0, maximum=1)
    init: str = knob(
        "default",
        "initial weights: default (PyTorch's layers as built, the book's VGG chapter), kaiming (torchvision's VGG: "
        "convs Kaiming-normal fan-out, linear layers normal(0, 0.01), biases 0) or xavier (Glorot and Bengio "
        "2010, as the VGG paper notes: weights uniform, biases 0)",
        choices=INITS,
    )
    validation_images: int = knob(
        10_000,
        "hold out this many training images, the same ones in every run (a fixed draw), from every seed's "
        "training, and report accuracy on them each epoch (val_acc), for choosing recipes apart from the test set; "
        "10,000 doubles each epoch's evaluation (0: no split, val_acc empty)",
        minimum=0,
        maximum=COUNTS["train"] - 1,
        metavar="N",
    )
    train_limit: int | None = knob(
        None,
        "train on the first N training images not held out for validation only (default: all of them, 60,000 "
        "less validation_images)",
        minimum=1,
        maximum=COUNTS["train"],
        metavar="N",
    )
    subset_per_seed: bool = knob(
        False,
        "where train_limit is below the training images not held out, draw each seed's train_limit images from them "
        "all with a stream of that seed (default: every seed trains on the first train_limit)",
    )
    normalize: bool = knob(False, "subtract the training pixels' mean and divide by their std (the book does not)")
    failure_loss_ratio: float = knob(
        FAILURE_LOSS_RATIO,
        "the failure rule, fixed before a run: a run failed when its final training loss is above this share "
        "of the loss at chance, ln(classes), or is not a number; failed runs are counted apart from the "
        "accuracy comparison",
        above=0,
        maximum=10,
    )
    plateau_gain: float = knob(
        PLATEAU_GAIN,
        "a model is still learning when its mean test-accuracy gain over the last epoch is above this",
        minimum=0,
        maximum=1,
    )
    channels_last: bool | None = knob(
        None,
        f"channels-last memory format for the model and its batches (default: {_per_device('channels_last')})",
    )
    precision: str | None = knob(
        None,
        "fp32, or autocast to bf16 or fp16 (fp16 on CUDA only, with a gradient scaler) (default: "
        f"{_per_device('precision')})",
        choices=PRECISIONS,
    )
    compile: bool = knob(False, "torch.compile the convolutional part (compiling counts in the first epoch's time)")
    seed_batch: int | None = knob(
        None,
        f"train this many seeds of a model together, as one network (default: {_per_device('seed_batch')})",
        minimum=1,
    )
    seed_lanes: int | None = knob(
        None,
        "split those seeds into this many lanes that train at once, each in its own thread with threads/lanes "
        "intra-op threads (small convolutions use several cores poorly) (default: "
        f"{_per_device('seed_lanes')}, at most threads)",
        minimum=1,
    )
    # Set per trial: its seed, or the seeds it trains together.
    seed: int = knob(0, "random seed: weights, shuffling, dropout", key=NOT_A_KEY, flags=None, minimum=0)
    seeds: tuple[int, ...] = ()
    # No pruning thresholds: a class attribute, not a field, so that a setup's fields (its trials' fingerprints)
    # stay those of runs made before pruning; a pruned tuning candidate's are CandidateConfig's field.
    prune_below: ClassVar[tuple[float, ...]] = ()

    def __post_init__(self) -> None:
        super().__post_init__()
        for name, value in DEVICE_DEFAULTS.get(self.device, DEVICE_DEFAULTS["cpu"]).items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, min(value, self.threads) if name == "seed_lanes" else value)
        if self.seed_lanes > self.threads:
            raise InputError(
                f"seed_lanes={self.seed_lanes} is more than threads={self.threads}: each lane needs one "
                f"(allowed: 1 to {self.threads})"
            )
        if self.precision == "fp16" and self.device != "cuda":
            raise InputError(f"precision='fp16' is not allowed on device={shown(self.device)}: use fp32 or bf16 there")
        refuse_ignored(self, "momentum", self.optimizer == "sgd", "optimizer", "with optimizer='sgd'")
        pool = self.training_pool
        if (self.train_limit or 0) > pool:
            raise InputError(
                f"train_limit={self.train_limit} is not allowed with validation_images={self.validation_images}: it "
                f"must be at most {pool:,}, the training images not held out (60,000 less validation_images)"
            )
        limited, below = (self.train_limit or pool) < pool, f"below {pool:,}"
        refuse_ignored(self, "subset_per_seed", limited, "train_limit", f"with a train_limit {below} training images")

    @property
    def training_pool(self) -> int:
        """How many of Fashion-MNIST's training images a seed may train on: those not held out for validation."""
        return COUNTS["train"] - self.validation_images

    @property
    def trained_seeds(self) -> tuple[int, ...]:
        """The seeds this setup trains: its group, or its one seed."""
        return self.seeds or (self.seed,)

    def seeds_together(self, spec: ModelSpec) -> int:
        """How many seeds of `spec`'s model train as one network: seed_batch, or 1 for a factory's model (grouping
        seeds, SeedGroup, needs a VGG's layers)."""
        return 1 if isinstance(spec.arch, FactoryArch) else self.seed_batch

    def stops_after(self, epoch: int, val_acc: float) -> bool:
        """Whether the run stops after `epoch` (from 1) with validation accuracy `val_acc` there: below that
        epoch's pruning threshold (CandidateConfig; never where either is NaN)."""
        return epoch <= len(self.prune_below) and val_acc < self.prune_below[epoch - 1]


@dataclass(frozen=True)
class CandidateConfig(TrainConfig):
    """A tuning candidate's training under a pruning rule (vggbench.engine.tuning): TrainConfig and, per epoch,
    the validation accuracy below which its run stops after that epoch. A class of its own, made only where a
    candidate has a threshold, so that every other trial's setup (and fingerprint) keeps TrainConfig's fields."""

    prune_below: tuple[float, ...] = ()  # epoch 1 first; NaN, or past its end: the run goes on

    @classmethod
    def of(cls, setup: TrainConfig, prune_below) -> CandidateConfig:
        fields = {field.name: getattr(setup, field.name) for field in dataclasses.fields(TrainConfig)}
        return cls(**fields, prune_below=tuple(prune_below))

"""Short training on Fashion-MNIST: the accuracy column, reproducible and fast. The trainer: the epoch
loop, for one seed alone or for several trained together, and the step it repeats (`training_step`,
which the time estimates and bench/ time). What a run sets up before its first step is in
train_setup; saving and loading trained models, in checkpoints.

The defaults are the book's recipe (Adam, lr 0.001, batch 64, 5 epochs, mean
cross-entropy). Unlike the book's loop, the test set, and the training images held out for
validation (vggbench.measure.validation), are evaluated once per epoch, in eval mode without
gradients, on the model's device; the whole data set stays on the device as uint8 and each
batch is scaled and resized there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch
from torch import nn

from vggbench.measure import _train_setup as train_setup
from vggbench.measure import validation
from vggbench.measure._seedgroup import SeedGroup, seeded_dropout
from vggbench.measure.data import FashionMNIST, prepare
from vggbench.measure.flops import step_flops
from vggbench.measure.hardware import device_name
from vggbench.measure.setups import TrainConfig
from vggbench.measure.training_rules import is_failure
from vggbench.models.arch import ModelSpec
from vggbench.models.schema import identity
from vggbench.models.vgg import VGG
from vggbench.stats import correctness

EVAL_BATCH = 500
PROGRESS_EVERY = 25  # steps between progress-bar updates (each reads the loss back from the device)


class _Split:
    """Time spent preparing batches and computing, added up over an epoch.

    On CUDA it records events instead of synchronizing each step, and reads them
    once at the end.
    """

    def __init__(self, device: str) -> None:
        self.cuda = device == "cuda"
        self.marks: list = []

    def mark(self) -> None:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.append(event)
        else:
            self.marks.append(time.perf_counter())

    def _seconds(self, start, end) -> float:
        return start.elapsed_time(end) / 1e3 if self.cuda else end - start

    def totals(self) -> tuple[float, float]:
        """(data seconds, compute seconds): marks alternate data start, compute start, ..., end."""
        if self.cuda:
            torch.cuda.synchronize()
        data = sum(self._seconds(a, b) for a, b in zip(self.marks[0:-1:2], self.marks[1::2], strict=False))
        compute = sum(self._seconds(a, b) for a, b in zip(self.marks[1:-1:2], self.marks[2::2], strict=False))
        return data, compute


Reporter = Callable[[str], None]


def _progress_bar(total: int, description: str):
    """A tqdm bar on a terminal; None when output is not a terminal (plain lines instead)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="batch", leave=False, file=sys.stderr)


class _Lone:
    """One model, trained as it is (K = 1: the plain path)."""

    def __init__(self, spec: ModelSpec, models: list[VGG], config: TrainConfig) -> None:
        self.module = models[0]
        blocks = nn.Sequential(*self.module.blocks)  # shares the model's layers
        self.features = torch.compile(blocks) if config.compile else blocks

    def inputs(self, batches: list[torch.Tensor]) -> torch.Tensor:
        return batches[0]

    def logits(self, images: torch.Tensor, dropouts: list[torch.Generator]) -> torch.Tensor:
        values = self.features(images)
        for layer in self.module.head:
            if not isinstance(layer, nn.Dropout):
                values = layer(values)
            elif self.module.training:
                values = seeded_dropout(values, layer.p, dropouts[0])
        return values[None]

    def models(self) -> list[VGG]:
        return [self.module]


class _Whole:
    """A model that is no VGG (a factory's): called as it is, one seed, its dropout drawing from torch's generator
    (seeded with the seed before the model was built)."""

    def __init__(self, spec: ModelSpec, models: list[nn.Module], config: TrainConfig) -> None:
        self.module = models[0]
        self.forward = torch.compile(self.module) if config.compile else self.module

    def inputs(self, batches: list[torch.Tensor]) -> torch.Tensor:
        return batches[0]

    def logits(self, images: torch.Tensor, dropouts: list[torch.Generator]) -> torch.Tensor:
        return self.forward(images)[None]

    def models(self) -> list[nn.Module]:
        return [self.module]


class _Group:
    """K models trained together as one SeedGroup: seed k's images are channels k of the input."""

    def __init__(self, spec: ModelSpec, models: list[VGG], config: TrainConfig) -> None:
        self.module = SeedGroup(spec, models)
        if config.compile:
            self.module.features = torch.compile(self.module.features)

    def inputs(self, batches: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(batches, dim=1)

    def logits(self, images: torch.Tensor, dropouts: list[torch.Generator]) -> torch.Tensor:
        return self.module(images, dropouts)

    def models(self) -> list[VGG]:
        return self.module.models()


class _Runs:
    """The runs of one model for some seeds, trained together: the network, its optimizer, each seed's data
    order and dropout stream, and the data on the device."""

    def __init__(self, spec: ModelSpec, config: TrainConfig, seeds, data: FashionMNIST, report, test_set=True) -> None:
        self.spec, self.config, self.seeds, self.report = spec, config, tuple(seeds), report
        self.test_set = test_set  # False: a tuning candidate, which the test set must not inform
        models = train_setup.initial_models(spec, self.seeds, config.init)
        net = _Whole if not isinstance(models[0], VGG) else _Lone if len(models) == 1 else _Group
        if net is _Whole and len(models) > 1:
            raise ValueError("a factory's model trains one seed at a time (Train.batch groups none)")
        self.net = net(spec, models, config)
        self.format = train_setup.memory_format(config)
        self.net.module.to(config.device, memory_format=self.format)
        self.optimizer = train_setup.optimizer(self.net.module, config)
        self.scaler = train_setup.grad_scaler(config)
        self.shuffles, self.dropouts = train_setup.streams(self.seeds, config.device)
        self.data = data.to(config.device)
        self.images, self.labels = self.data.train_images, self.data.train_labels
        subsets = train_setup.subsets(len(self.labels), self.seeds, config)
        self.subsets = [subset.to(config.device) for subset in subsets]  # each seed's training images
        self.count, self.rest = len(subsets[0]), len(self.labels) - config.validation_images
        held = validation.split(len(self.labels), config.validation_images)[0].to(config.device)
        self.held_images, self.held_labels = self.images[held], self.labels[held]  # no seed trains on them
        self.schedule = train_setup.scheduler(self.optimizer, config, config.epochs * self._steps_per_epoch)
        self.norms = [train_setup.normalization(self.images[subset], config.normalize) for subset in self.subsets]

    @property
    def _steps_per_epoch(self) -> int:
        return -(-self.count // self.config.batch_size)

    def _inputs(self, images: list[torch.Tensor]) -> torch.Tensor:
        batches = [prepare(part, self.spec.resolution, *norm) for part, norm in zip(images, self.norms, strict=True)]
        return self.net.inputs(batches).contiguous(memory_format=self.format)

    def _step(self, indices: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step for every seed: (each seed's summed loss, each seed's correct predictions)."""
        targets = torch.stack([self.labels[index] for index in indices])  # (K, B)
        images = self._inputs([self.images[index] for index in indices])
        self.optimizer.zero_grad(set_to_none=True)
        with train_setup.autocast(self.config):
            logits = self.net.logits(images, self.dropouts).float()  # (K, B, classes)
        losses = nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="none")
        losses = losses.view(targets.shape).mean(dim=1)  # each seed's mean loss, as a lone run's
        self.scaler.scale(losses.sum()).backward()  # the seeds share no weight: each gets its own gradient
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.schedule.step()
        return losses.detach() * targets.shape[1], (logits.argmax(-1) == targets).sum(dim=1)

    def _train_pass(self, epoch: int) -> tuple[list[float], list[int], float, float]:
        """One pass over the training images for every seed: (summed losses, correct predictions, data seconds,
        compute seconds), per seed for the first two."""
        config, labels = self.config, self.labels
        self.net.module.train()
        split, steps = _Split(config.device), self._steps_per_epoch
        loss_sums = torch.zeros(len(self.seeds), device=labels.device)
        correct = torch.zeros(len(self.seeds), dtype=torch.long, device=labels.device)
        bar = _progress_bar(steps, f"{self.spec.arch.name} {self.spec.variant} seeds {self.seeds} epoch {epoch}")
        orders = [
            subset[torch.randperm(self.count, generator=shuffle).to(labels.device)]
            for subset, shuffle in zip(self.subsets, self.shuffles, strict=True)
        ]
        for step in range(steps):
            split.mark()
            indices = [order[step * config.batch_size : (step + 1) * config.batch_size] for order in orders]
            split.mark()
            step_losses, step_correct = self._step(indices)
            loss_sums += step_losses
            correct += step_correct
            if bar is not None and (step + 1) % PROGRESS_EVERY == 0:
                seen = min((step + 1) * config.batch_size, self.count)
                bar.set_postfix(loss=f"{loss_sums.mean().item() / seen:.4f}")
                bar.update(PROGRESS_EVERY)
        split.mark()
        if bar is not None:
            bar.close()
        return (loss_sums.tolist(), correct.tolist(), *split.totals())

    def evaluate(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[list[float], torch.Tensor]:
        """Each seed's accuracy on `images`, and whether it got each one right (seeds x images), in eval mode
        without gradients."""
        self.net.module.eval()
        hits = []
        with torch.inference_mode(), train_setup.autocast(self.config):
            for start in range(0, len(labels), EVAL_BATCH):
                inputs = self._inputs([images[start : start + EVAL_BATCH]] * len(self.seeds))
                logits = self.net.logits(inputs, self.dropouts)
                hits.append(logits.argmax(-1) == labels[start : start + EVAL_BATCH])
        right = torch.cat(hits, dim=1)
        return [count / len(labels) for count in right.sum(dim=1).tolist()], right

    def _validation_accuracy(self) -> list[float]:
        """Each seed's accuracy on the held-out training images (NaN without a validation split)."""
        if not len(self.held_labels):
            return [math.nan] * len(self.seeds)
        return self.evaluate(self.held_images, self.held_labels)[0]

    def epoch(self, epoch: int) -> list[dict]:
        """One epoch for every seed: a row per seed."""
        start = time.perf_counter()
        loss_sums, correct, data_s, compute_s = self._train_pass(epoch)
        train_s = time.perf_counter() - start
        if self.test_set:
            test_acc, right = self.evaluate(self.data.test_images, self.data.test_labels)
            right = right.cpu().numpy()  # each image's outcome at every epoch: the intervals of each budget's verdict
        else:
            test_acc, right = [math.nan] * len(self.seeds), [None] * len(self.seeds)
        val_acc = self._validation_accuracy()
        shared = self._shared(epoch, train_s, time.perf_counter() - start, data_s, compute_s)
        rows = []
        outcomes = zip(self.seeds, loss_sums, correct, right, test_acc, val_acc, strict=True)
        for seed, loss, hits, images, accuracy, validated in outcomes:
            row = {**identity(self.spec), "seed": seed, "epoch": epoch, "train_loss": loss / self.count}
            row.update(train_acc=hits / self.count, test_acc=accuracy, val_acc=validated, **shared)
            if images is not None:
                row["test_correct"] = correctness.encode(images)
            row["failed"] = is_failure(row["train_loss"], self.spec.num_classes, self.config.failure_loss_ratio)
            rows.append(row)
            self._report(row)
        return rows

    def _shared(self, epoch: int, train_s: float, epoch_s: float, data_s: float, compute_s: float) -> dict:
        """The columns every seed's row of an epoch shares: time, throughput, budget and how it was run."""
        config, images = self.config, self.count * len(self.seeds)  # every seed's images
        return {
            "epoch_s": epoch_s,
            "train_s": train_s,
            "train_img_per_s": images / train_s,
            "train_gflops": step_flops(self.spec, "train") * images / train_s / 1e9,
            "data_s": data_s,
            "compute_s": compute_s,
            "train_images": self.count,
            "subset_per_seed": config.subset_per_seed and self.count < self.rest,
            "validation_images": len(self.held_labels),
            "test_images": len(self.data.test_labels),
            "optimizer_steps": epoch * self._steps_per_epoch,
            "schedule_epochs": config.epochs,  # the run's own schedule, whichever epoch the row reached
            "batch_size": config.batch_size,
            "seed_batch": len(self.seeds),
            "optimizer": config.optimizer,
            "lr": config.lr,
            "lr_schedule": config.lr_schedule,
            "momentum": config.momentum,
            "weight_decay": config.weight_decay,
            "init": config.init,
            "precision": config.precision,
            "channels_last": config.channels_last,
            "compiled": config.compile,
            "device": config.device,
            "device_name": device_name(config.device),
            "threads": config.threads,
            "torch_version": torch.__version__,
            "plateau_gain": config.plateau_gain,
        }

    def _report(self, row: dict) -> None:
        if self.report is not None:
            spec, tested = self.spec, f"test acc {row['test_acc']:.3f}, " if self.test_set else ""
            self.report(
                f"{spec.arch.name} {spec.variant} ratio {spec.ratio} seed {row['seed']} epoch {row['epoch']}/"
                f"{self.config.epochs}: loss {row['train_loss']:.4f}, train acc {row['train_acc']:.3f}, "
                f"{tested}val acc {row['val_acc']:.3f}, {row['epoch_s']:.1f} s"
            )


def _lanes(seeds: tuple[int, ...], config: TrainConfig) -> list[tuple[int, ...]]:
    """`seeds` in at most `config.seed_lanes` contiguous lanes, as even as can be, none empty."""
    size = -(-len(seeds) // min(config.seed_lanes, len(seeds)))
    return [seeds[start : start + size] for start in range(0, len(seeds), size)]


def _in_lanes(
    spec: ModelSpec, config: TrainConfig, seeds, data: FashionMNIST, report, test_set: bool = True
) -> tuple[list, int]:
    """A _Runs per lane, made in seed order in this thread (each seed's initial weights as alone), and the
    intra-op threads of each lane."""
    lanes = _lanes(tuple(seeds), config)
    step_flops(spec, "train")  # counted once, here: the counting mode must not run in two threads at once
    made = [_Runs(spec, config, lane, data, report, test_set) for lane in lanes]
    return made, max(1, config.threads // len(lanes))


def _lane_pool(lanes: int, threads: int) -> ThreadPoolExecutor:
    """A thread per lane, each with `threads` intra-op threads (a new thread starts with torch's default)."""
    return ThreadPoolExecutor(lanes, initializer=torch.set_num_threads, initargs=(threads,))


def training_step(spec: ModelSpec, config: TrainConfig, seeds, data: FashionMNIST) -> Callable[[], None]:
    """One optimizer step of the trainer for `seeds` (every lane's, at once) on fixed batches (the first
    images of the training set, for every seed), to time settings against each other: the step a training
    run repeats."""
    torch.backends.cudnn.benchmark = True
    config = dataclasses.replace(config, validation_images=0)  # its batches are fixed: none to hold out
    runs, threads = _in_lanes(spec, config, seeds, data, None)
    steps = []
    for run in runs:
        run.net.module.train()
        indices = [torch.arange(config.batch_size, device=run.labels.device)] * len(run.seeds)
        steps.append(lambda run=run, indices=indices: run._step(indices))
    if len(steps) == 1:
        return steps[0]
    pool = _lane_pool(len(steps), threads)  # kept for the step's life: starting threads is not the step's work
    return lambda: list(pool.map(lambda step: step(), steps))


def train_seeds(
    spec: ModelSpec,
    config: TrainConfig,
    seeds,
    data: FashionMNIST,
    report: Reporter | None = None,
    test_set: bool = True,
) -> tuple[list[dict], list[VGG]]:
    """Train one model for each of `seeds`, together (one seed: the plain path): rows per seed and epoch,
    and the trained models in seed order. Without `test_set` (a tuning candidate) the test images are never
    evaluated: the rows' test_acc is NaN. A tuning candidate under a pruning rule (`config.prune_below`) stops
    after the first epoch where the mean of its seeds' validation accuracy is below that epoch's threshold: the
    seeds trained together stop together, their rows end there.

    The seeds train in lanes (threads) at once, each lane's seeds as one network, an epoch at a time. Deterministic
    on the CPU for given seeds, thread count and settings: a seed fixes its model's initial weights, its data order
    and its dropout masks, and a lane's result does not depend on the other lanes.
    """
    torch.backends.cudnn.benchmark = True
    previous_threads = torch.get_num_threads()
    try:
        runs, threads = _in_lanes(spec, config, seeds, data, report, test_set)
        torch.set_num_threads(threads)
        rows: list[dict] = []
        with contextlib.ExitStack() as stack:
            pool = stack.enter_context(_lane_pool(len(runs), threads)) if len(runs) > 1 else None
            for epoch in range(1, config.epochs + 1):
                lanes = pool.map(_Runs.epoch, runs, [epoch] * len(runs)) if pool else [runs[0].epoch(epoch)]
                reached = [row for lane in lanes for row in lane]
                rows += reached
                if config.stops_after(epoch, statistics.fmean(row["val_acc"] for row in reached)):
                    break
        order = {seed: index for index, seed in enumerate(seeds)}
        rows.sort(key=lambda row: (row["epoch"], order[row["seed"]]))
        for row in rows:
            row["seed_lanes"] = len(runs)
        return rows, [model.cpu() for run in runs for model in run.net.models()]
    finally:
        torch.set_num_threads(previous_threads)


def train(
    spec: ModelSpec, config: TrainConfig, data: FashionMNIST, report: Reporter | None = None
) -> tuple[list[dict], VGG]:
    """Train one model for one seed (`config.seed`): one row per epoch, and the trained model."""
    rows, (model,) = train_seeds(spec, config, (config.seed,), data, report)
    return rows, model

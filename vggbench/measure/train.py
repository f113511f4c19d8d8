"""Short training on Fashion-MNIST: the accuracy column, reproducible and fast.

The defaults are the seed's recipe (Adam, lr 0.001, batch 64, 5 epochs, mean
cross-entropy). Unlike the seed's loop, the test set is evaluated once per epoch, in
eval mode without gradients, on the model's device; the whole data set stays on the
device as uint8 and each batch is scaled and resized there.
"""

from __future__ import annotations

import io
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from vggbench.arch import ModelSpec, spec_from_dict, spec_to_dict
from vggbench.csvio import write_bytes
from vggbench.data import FashionMNIST, prepare
from vggbench.hardware import Machine, device_name
from vggbench.knobs import NOT_A_KEY, knob
from vggbench.models import VGG, build_spec
from vggbench.schema import FAILURE_LOSS_RATIO, PLATEAU_GAIN, failed, final_epoch, identity, is_failure, keys_in

OPTIMIZERS = ("adam", "sgd")
EVAL_BATCH = 500
PROGRESS_EVERY = 25  # steps between progress-bar updates (each reads the loss back from the device)


@dataclass(frozen=True)
class TrainConfig(Machine):
    """How to train; validated when made. The defaults are the seed's recipe."""

    GROUP = "training"

    epochs: int = knob(5, "passes over the training set", minimum=1)
    batch_size: int = knob(64, "training batch size", minimum=1)
    lr: float = knob(1e-3, "learning rate", above=0)
    optimizer: str = knob("adam", "optimizer", choices=OPTIMIZERS)
    momentum: float = knob(0.0, "SGD momentum", minimum=0)
    weight_decay: float = knob(0.0, "L2 weight decay", minimum=0)
    train_limit: int | None = knob(
        None, "train on the first N training images only (default: all 60,000)", minimum=1, metavar="N"
    )
    normalize: bool = knob(False, "subtract the training pixels' mean and divide by their std (the seed does not)")
    failure_loss_ratio: float = knob(
        FAILURE_LOSS_RATIO,
        "the failure rule, fixed before a run: a run failed when its final training loss is above this share "
        "of the loss at chance, ln(classes), or is not a number; failed runs are counted apart from the "
        "accuracy comparison",
        minimum=0,
    )
    plateau_gain: float = knob(
        PLATEAU_GAIN,
        "a model is still learning when its mean test-accuracy gain over the last epoch is above this",
        minimum=0,
    )
    # Set per trial from the study's seeds.
    seed: int = knob(0, "random seed: weights, shuffling, dropout", key=NOT_A_KEY, flags=None, minimum=0)


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return torch.optim.Adam(model.parameters(), config.lr, weight_decay=config.weight_decay)


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


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, resolution: int, norm) -> float:
    """Test accuracy in eval mode, without gradients."""
    model.eval()
    correct = torch.zeros((), dtype=torch.long, device=labels.device)
    with torch.inference_mode():
        for start in range(0, len(labels), EVAL_BATCH):
            batch = prepare(images[start : start + EVAL_BATCH], resolution, *norm)
            correct += (model(batch).argmax(1) == labels[start : start + EVAL_BATCH]).sum()
    return correct.item() / len(labels)


Reporter = Callable[[str], None]


def _progress_bar(total: int, description: str):
    """A tqdm bar on a terminal; None when output is not a terminal (plain lines instead)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="batch", leave=False, file=sys.stderr)


class _Run:
    """One model and seed being trained: the model, its optimizer and its data on the device."""

    def __init__(self, spec: ModelSpec, config: TrainConfig, data: FashionMNIST, report: Reporter | None) -> None:
        torch.manual_seed(config.seed)
        self.spec, self.config, self.report = spec, config, report
        self.model = build_spec(spec).to(config.device)
        self.optimizer = _optimizer(self.model, config)
        self.loss_function = nn.CrossEntropyLoss()
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.data = data.to(config.device)
        count = min(config.train_limit or len(data.train_labels), len(data.train_labels))
        self.images, self.labels = self.data.train_images[:count], self.data.train_labels[:count]
        self.norm = _normalization(self.images, config.normalize)

    def _train_pass(self, epoch: int) -> tuple[float, int, float, float]:
        """One pass over the training images: (summed loss, correct predictions, data seconds, compute seconds)."""
        spec, config, labels = self.spec, self.config, self.labels
        self.model.train()
        split = _Split(config.device)
        loss_sum = torch.zeros((), device=labels.device)
        correct = torch.zeros((), dtype=torch.long, device=labels.device)
        steps = -(-len(labels) // config.batch_size)
        bar = _progress_bar(steps, f"{spec.arch.name} {spec.variant} seed {config.seed} epoch {epoch}")
        order = torch.randperm(len(labels), generator=self.shuffle).to(labels.device)
        for step in range(steps):
            split.mark()
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            batch, target = prepare(self.images[index], spec.resolution, *self.norm), labels[index]
            split.mark()
            self.optimizer.zero_grad(set_to_none=True)
            output = self.model(batch)
            loss = self.loss_function(output, target)
            loss.backward()
            self.optimizer.step()
            loss_sum += loss.detach() * len(target)
            correct += (output.argmax(1) == target).sum()
            if bar is not None and (step + 1) % PROGRESS_EVERY == 0:
                seen = min((step + 1) * config.batch_size, len(labels))
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{correct.item() / seen:.3f}")
                bar.update(PROGRESS_EVERY)
        split.mark()
        if bar is not None:
            bar.close()
        return (loss_sum.item(), correct.item(), *split.totals())

    def epoch(self, epoch: int) -> dict:
        spec, config, labels = self.spec, self.config, self.labels
        start = time.perf_counter()
        loss_sum, correct, data_s, compute_s = self._train_pass(epoch)
        train_s = time.perf_counter() - start
        test_acc = evaluate(self.model, self.data.test_images, self.data.test_labels, spec.resolution, self.norm)
        row = {
            **identity(spec),
            "seed": config.seed,
            "epoch": epoch,
            "train_loss": loss_sum / len(labels),
            "train_acc": correct / len(labels),
            "test_acc": test_acc,
            "epoch_s": time.perf_counter() - start,
            "train_s": train_s,
            "train_img_per_s": len(labels) / train_s,
            "data_s": data_s,
            "compute_s": compute_s,
            "train_images": len(labels),
            "test_images": len(self.data.test_labels),
            "optimizer_steps": epoch * -(-len(labels) // config.batch_size),
            "batch_size": config.batch_size,
            "optimizer": config.optimizer,
            "lr": config.lr,
            "device": config.device,
            "device_name": device_name(config.device),
            "threads": config.threads,
            "torch_version": torch.__version__,
            "plateau_gain": config.plateau_gain,
        }
        row["failed"] = is_failure(row["train_loss"], spec.num_classes, config.failure_loss_ratio)
        if self.report is not None:
            self.report(
                f"{spec.arch.name} {spec.variant} ratio {spec.ratio} seed {config.seed} epoch {epoch}/{config.epochs}: "
                f"loss {row['train_loss']:.4f}, train acc {row['train_acc']:.3f}, test acc {test_acc:.3f}, "
                f"{row['epoch_s']:.1f} s"
            )
        return row


def train(
    spec: ModelSpec, config: TrainConfig, data: FashionMNIST, report: Reporter | None = None
) -> tuple[list[dict], VGG]:
    """Train one model for one seed: one row per epoch, and the trained model.

    Deterministic on the CPU for a given seed and thread count: the seed fixes the
    initial weights, the shuffling and dropout.
    """
    torch.backends.cudnn.benchmark = True
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        run = _Run(spec, config, data, report)
        rows = [run.epoch(epoch) for epoch in range(1, config.epochs + 1)]
        return rows, run.model
    finally:
        torch.set_num_threads(previous_threads)


def _normalization(images: torch.Tensor, normalize: bool) -> tuple[float | None, float | None]:
    """(mean, std) of the training pixels in [0, 1] when normalizing, else (None, None)."""
    if not normalize:
        return None, None
    pixels = images.float().div(255)
    return pixels.mean().item(), pixels.std().item()


def checkpoint_bytes(model: nn.Module, spec: ModelSpec) -> bytes:
    """The state dict and the spec, as the bytes of a file that torch.load(weights_only=True) reads."""
    buffer = io.BytesIO()
    torch.save({"spec": spec_to_dict(spec), "state_dict": model.state_dict()}, buffer)
    return buffer.getvalue()


def save_checkpoint(path: str | Path, model: nn.Module, spec: ModelSpec) -> None:
    write_bytes(Path(path), checkpoint_bytes(model, spec))


def _read_checkpoint(source: str | Path | bytes, name: str) -> tuple[ModelSpec, dict]:
    """The spec and state dict of a checkpoint, read with torch.load(weights_only=True): no code runs."""
    try:
        saved = torch.load(
            io.BytesIO(source) if isinstance(source, bytes) else source, map_location="cpu", weights_only=True
        )
    except (OSError, EOFError, RuntimeError, pickle.UnpicklingError, ValueError) as error:
        raise ValueError(f"{name} is not a vggbench checkpoint: {error}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("spec"), dict):
        raise ValueError(f"{name} is not a vggbench checkpoint: it holds no spec (found {type(saved).__name__})")
    if not isinstance(saved.get("state_dict"), dict):
        raise ValueError(f"{name} is not a vggbench checkpoint: it holds no state dict")
    try:
        return spec_from_dict(saved["spec"]), saved["state_dict"]
    except (KeyError, TypeError) as error:
        raise ValueError(f"{name} has a spec that vggbench cannot read: {error!r} is missing or wrong") from None
    except ValueError as error:
        raise ValueError(f"{name} has a spec that is not allowed: {error}") from None


def load_checkpoint(source: str | Path | bytes, spec: ModelSpec | None = None) -> tuple[VGG, ModelSpec]:
    """The model saved at `source` (a path, or a checkpoint's bytes) and its spec; with `spec`, it must be
    the model that spec describes. The weights must have the spec's shapes, which are checked before any
    memory is taken for them."""
    name = "the checkpoint" if isinstance(source, bytes) else f"checkpoint {source}"
    saved_spec, state = _read_checkpoint(source, name)
    if spec is not None and saved_spec != spec:
        theirs, ours = spec_to_dict(saved_spec), spec_to_dict(spec)
        differences = ", ".join(
            f"{key} {theirs[key]!r} (asked {ours[key]!r})" for key in ours if theirs[key] != ours[key]
        )
        raise ValueError(f"{name} does not match the requested model: it has {differences}")
    with torch.device("meta"):  # shapes only, until they are known to match
        model = build_spec(saved_spec)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items() if isinstance(value, torch.Tensor)}
    if found != expected:
        wrong = sorted(
            set(expected) ^ set(found) | {key for key in expected if found.get(key, expected[key]) != expected[key]}
        )
        raise ValueError(f"{name} has weights that do not fit its spec ({', '.join(wrong[:3])} ...)")
    model = model.to_empty(device="cpu")
    model.load_state_dict(state)
    return model, saved_spec


def summarize(rows) -> pd.DataFrame:
    """Per model, over its seeds' runs at their final epoch: how many ran and how many failed; for those
    that did not fail, the test accuracy (mean, standard deviation, range) and its gain over the last
    epoch, and whether that gain says the model was still learning."""
    table = pd.DataFrame(rows)
    keys = keys_in(table)
    run = [*keys, "seed"]
    table = table.assign(failed=failed(table))
    before = table[table["epoch"] == table.groupby(run)["epoch"].transform("max") - 1].set_index(run)["test_acc"]
    final = final_epoch(table).set_index(run)
    final = final.assign(last_epoch_gain=final["test_acc"] - before).reset_index()  # NaN after one epoch
    counts = final.groupby(keys, sort=False).agg(
        epochs=("epoch", "max"),
        optimizer_steps=("optimizer_steps", "max"),
        seeds=("seed", "count"),
        failed=("failed", "sum"),
    )
    accuracy = (
        final[~final["failed"]]
        .groupby(keys, sort=False)
        .agg(
            test_acc_mean=("test_acc", "mean"),
            test_acc_std=("test_acc", "std"),
            test_acc_min=("test_acc", "min"),
            test_acc_max=("test_acc", "max"),
            last_epoch_gain=("last_epoch_gain", "mean"),
            train_img_per_s_median=("train_img_per_s", "median"),
        )
    )
    summary = counts.join(accuracy).reset_index()
    threshold = final["plateau_gain"].max() if "plateau_gain" in final else PLATEAU_GAIN
    return summary.assign(still_learning=summary["last_epoch_gain"] > threshold)

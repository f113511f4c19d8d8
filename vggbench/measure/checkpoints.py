"""Trained models as files: a checkpoint holds the model's spec and its state dict.

Checkpoints are read with torch.load(weights_only=True), so reading one runs no code; a
bad file (not a checkpoint, no spec, a spec vggbench cannot read, weights of another
shape) is the user's error, told by its message.
"""

from __future__ import annotations

import io
import pickle
import warnings
import zipfile
from pathlib import Path

import torch
from torch import nn

from vggbench.models.arch import ModelSpec, spec_from_dict, spec_to_dict
from vggbench.models.factory import build_model
from vggbench.models.vgg import VGG
from vggbench.util.csvio import write_bytes
from vggbench.util.validate import InputError, shown


def checkpoint_bytes(model: nn.Module, spec: ModelSpec) -> bytes:
    """The state dict and the spec, as the bytes of a file that torch.load(weights_only=True) reads."""
    buffer = io.BytesIO()
    torch.save({"spec": spec_to_dict(spec), "state_dict": model.state_dict()}, buffer)
    return buffer.getvalue()


def save_checkpoint(path: str | Path, model: nn.Module, spec: ModelSpec) -> None:
    write_bytes(Path(path), checkpoint_bytes(model, spec))


def _read_checkpoint(source: str | Path | bytes, name: str, mmap: bool) -> tuple[ModelSpec, dict]:
    """The spec and state dict of a checkpoint, read with torch.load(weights_only=True): no code runs. With
    `mmap` (a path only), the tensors are mapped from the file rather than read into memory."""
    try:
        with warnings.catch_warnings():  # torch warns of pickle protocols on its way to refusing them
            warnings.simplefilter("ignore")
            saved = torch.load(
                io.BytesIO(source) if isinstance(source, bytes) else source,
                map_location="cpu",
                weights_only=True,
                mmap=mmap,
            )
    except OSError as error:
        raise OSError(f"cannot read {name}: {error.strerror or error}") from None
    except pickle.UnpicklingError as error:  # weights_only refused an object: nothing of it ran
        raise InputError(f"{name} is not a vggbench checkpoint: {_refused_object(error)}") from None
    except Exception as error:  # anything else torch's loader raises on bytes that are not a checkpoint
        raise InputError(f"{name} is not a vggbench checkpoint: torch cannot read it ({_first_line(error)})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("spec"), dict):
        raise InputError(f"{name} is not a vggbench checkpoint: it holds no spec (found {type(saved).__name__})")
    if not isinstance(saved.get("state_dict"), dict):
        raise InputError(f"{name} is not a vggbench checkpoint: it holds no state dict")
    unknown = sorted(set(saved) - {"spec", "state_dict"}) + sorted(map(str, set(saved["spec"]) - set(SPEC_KEYS)))
    if unknown:
        raise InputError(
            f"{name} has key(s) a vggbench checkpoint does not: {', '.join(map(str, unknown))} (a checkpoint holds "
            f"spec and state_dict; a spec {', '.join(SPEC_KEYS)})"
        )
    try:
        spec = spec_from_dict(saved["spec"])
    except (KeyError, TypeError) as error:
        raise InputError(f"{name} has a spec that vggbench cannot read: {error!r} is missing or wrong") from None
    except ValueError as error:
        raise InputError(f"{name} has a spec that is not allowed: {error}") from None
    return spec, saved["state_dict"]


# head and dropout only where not the defaults; source_sha256 only for a factory's model
SPEC_KEYS = (*spec_to_dict(ModelSpec("vgg11")), "head", "dropout", "source_sha256")


def _first_line(error: Exception) -> str:
    """An exception as one short line: its type and its message's first non-empty line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def _refused_object(error: Exception) -> str:
    """One line of ours for a pickle that torch.load(weights_only=True) refused: which object it holds, where
    torch's text says (a GLOBAL or an operand)."""
    text = " ".join(str(error).split())
    for marker, what in (
        ("Unsupported global: GLOBAL ", "a pickled object ({})"),
        ("unsupported GLOBAL ", "a pickled object ({})"),
        ("Unsupported operand ", "pickle code (operand {})"),
    ):
        if marker in text:
            found = text.split(marker, 1)[1].split(" ")[0].rstrip(".,:")
            return f"it holds {what.format(found)} that is not weights, refused unread: nothing of it ran"
    return "it holds pickled objects that are not weights, refused unread: nothing of it ran"


def _name(source: str | Path | bytes) -> str:
    return "the checkpoint" if isinstance(source, bytes) else f"checkpoint {source}"


def _checked(source: str | Path | bytes, spec: ModelSpec | None, mmap: bool) -> tuple[VGG, ModelSpec, dict]:
    """The checkpoint's model without weights (on the meta device), its spec and its state dict, once the
    spec is found to be `spec` (where given) and the weights to have its shapes."""
    name = _name(source)
    saved_spec, state = _read_checkpoint(source, name, mmap)
    if spec is not None and saved_spec != spec:
        theirs, ours = spec_to_dict(saved_spec), spec_to_dict(spec)
        differences = ", ".join(
            f"{key} {shown(theirs[key])} (asked {shown(ours[key])})" for key in ours if theirs[key] != ours[key]
        )
        raise InputError(f"{name} does not match the requested model: it has {differences}")
    with torch.device("meta"):  # shapes only, until they are known to match
        model = build_model(saved_spec)
    expected = {key: tuple(value.shape) for key, value in model.state_dict().items()}
    found = {key: tuple(value.shape) for key, value in state.items() if isinstance(value, torch.Tensor)}
    if found != expected:
        wrong = sorted(
            set(expected) ^ set(found) | {key for key in expected if found.get(key, expected[key]) != expected[key]}
        )
        raise InputError(f"{name} has weights that do not fit its spec ({', '.join(wrong[:3])} ...)")
    return model, saved_spec, state


def checkpoint_spec(path: str | Path) -> ModelSpec:
    """The spec of the checkpoint at `path`, checked as `load_checkpoint` checks it, without reading its
    weights: they are mapped from the file (their shapes are all the check needs), not loaded. Enough to
    plan a trial on it."""
    # torch maps only its zip format; another file is read as it would be loaded, and refused alike.
    _, spec, _ = _checked(path, None, mmap=zipfile.is_zipfile(path))
    return spec


def load_checkpoint(source: str | Path | bytes, spec: ModelSpec | None = None) -> tuple[VGG, ModelSpec]:
    """The model saved at `source` (a path, or a checkpoint's bytes) and its spec; with `spec`, it must be
    the model that spec describes. The weights must have the spec's shapes, which are checked before any
    memory is taken for them."""
    model, saved_spec, state = _checked(source, spec, mmap=False)
    model = model.to_empty(device="cpu")
    model.load_state_dict(state)
    return model, saved_spec

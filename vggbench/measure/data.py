"""Fashion-MNIST: find the four IDX files, check them, and serve resized batches.

Where the data set is looked for, in order:
1. an explicit folder (`--data-root` or the VGGBENCH_DATA environment variable), which
   must hold the files: it is an error when it does not, never a silent fall-back;
2. torchvision's layout in the user cache (`~/.cache/vggbench/FashionMNIST/raw`);
3. Debian's package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`);
4. torchvision's download into the user cache.

A folder may hold the files directly or in torchvision's `FashionMNIST/raw/`, each
gzipped or not. Images stay uint8 tensors; a batch is moved to the training device,
scaled to [0, 1] and resized there (bilinear), with no per-sample transforms.
"""

from __future__ import annotations

import dataclasses
import gzip
import math
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from vggbench.util.validate import InputError

if TYPE_CHECKING:
    import torch

ENVIRONMENT_VARIABLE = "VGGBENCH_DATA"
DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
IMAGE_MAGIC, LABEL_MAGIC = 2051, 2049  # IDX: unsigned bytes, 3 dimensions / 1 dimension
SIDE = 28
COUNTS = {"train": 60_000, "test": 10_000}
NUM_CLASSES = 10


class DataError(InputError):
    """The data set is missing, incomplete or corrupt; the message says which file and what to do."""


def cache_root() -> Path | None:
    """vggbench's folder in the user cache; None where there is no user cache (no XDG_CACHE_HOME, and a user
    without a home folder, as in some containers)."""
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "vggbench"
    try:
        return Path.home() / ".cache" / "vggbench"
    except RuntimeError:  # no HOME, and no home in the user database
        return None


def _file_in(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def files_in(root: Path) -> dict[str, Path] | None:
    """The four files under `root` (directly or in FashionMNIST/raw), or None if any is missing."""
    for folder in (root, root / "FashionMNIST" / "raw"):
        found = {key: _file_in(folder, name) for key, name in FILES.items()}
        if all(found.values()):
            return found
    return None


def _download(root: Path) -> dict[str, Path] | None:
    """torchvision's download into `root`; None when it cannot reach its mirrors."""
    from torchvision.datasets import FashionMNIST

    try:
        FashionMNIST(str(root), train=True, download=True)
        FashionMNIST(str(root), train=False, download=True)
    except (OSError, RuntimeError):
        return None
    return files_in(root)


def locate(data_root: str | os.PathLike | None = None, download: bool = True) -> dict[str, Path]:
    """The four IDX files, found in the documented order."""
    explicit = data_root or os.environ.get(ENVIRONMENT_VARIABLE)
    if explicit:
        found = files_in(Path(explicit))
        if found is None:
            source = "--data-root" if data_root else ENVIRONMENT_VARIABLE
            missing = ", ".join(f"{name}[.gz]" for name in FILES.values())
            raise DataError(
                f"{source}={explicit} does not hold Fashion-MNIST: expected {missing} "
                f"in that folder or in its FashionMNIST/raw/"
            )
        return found
    cache = cache_root()
    for root in (cache, DEBIAN_ROOT) if cache else (DEBIAN_ROOT,):
        found = files_in(root)
        if found is not None:
            return found
    found = _download(cache) if download and cache else None
    if found is None:
        into = f"into {cache}" if cache else "once HOME or XDG_CACHE_HOME names a folder for it"
        raise DataError(
            "Fashion-MNIST not found. Fix one of: (1) pass --data-root DIR (or set VGGBENCH_DATA) to a folder "
            f"with the four IDX files; (2) on Debian, `apt-get install dataset-fashion-mnist` (puts them in "
            f"{DEBIAN_ROOT}); (3) connect to the internet, so torchvision can download them {into}"
        )
    return found


def read_idx(path: Path, magic: int, count: int, shape: tuple[int, ...]) -> torch.Tensor:
    """An IDX file's array as uint8, checked against the expected magic number and shape."""
    import torch  # here, not at the top: the command line reads this module's names without torch

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} cannot be read: {error}") from None
    dimensions = len(shape) + 1
    header = 4 + 4 * dimensions
    if len(raw) < header:
        raise DataError(f"{path} is truncated: {len(raw)} bytes, shorter than its {header}-byte header")
    found_magic = int.from_bytes(raw[:4], "big")
    if found_magic != magic:
        raise DataError(f"{path} is not the expected IDX file: magic number {found_magic}, expected {magic}")
    sizes = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions))
    if sizes != (count, *shape):
        raise DataError(f"{path} holds an array of shape {sizes}, expected {(count, *shape)}")
    expected = header + count * math.prod(shape)
    if len(raw) != expected:
        raise DataError(f"{path} is truncated or padded: {len(raw)} bytes, expected {expected}")
    return torch.frombuffer(bytearray(raw[header:]), dtype=torch.uint8).reshape(count, *shape)


@dataclass(frozen=True)
class FashionMNIST:
    """The whole data set in memory: images uint8 (N, 28, 28), labels int64 (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path

    def to(self, device: str | torch.device) -> FashionMNIST:
        tensors = ("train_images", "train_labels", "test_images", "test_labels")
        return dataclasses.replace(self, **{name: getattr(self, name).to(device) for name in tensors})


def load(data_root: str | os.PathLike | None = None, download: bool = True) -> FashionMNIST:
    """Find, read and check Fashion-MNIST."""
    files = locate(data_root, download)
    tensors = {}
    for split, count in COUNTS.items():
        tensors[f"{split}_images"] = read_idx(files[f"{split}_images"], IMAGE_MAGIC, count, (SIDE, SIDE))
        labels = read_idx(files[f"{split}_labels"], LABEL_MAGIC, count, ())
        if int(labels.max()) >= NUM_CLASSES:
            raise DataError(f"{files[f'{split}_labels']} has label {int(labels.max())}: labels must be 0-9")
        tensors[f"{split}_labels"] = labels.long()
    return FashionMNIST(**tensors, source=files["train_images"].parent)


def prepare(images: torch.Tensor, resolution: int, mean: float | None = None, std: float | None = None) -> torch.Tensor:
    """uint8 (B, 28, 28) on the training device -> float (B, 1, R, R): scaled to [0, 1], resized, normalized."""
    import torch.nn.functional as F

    batch = images.unsqueeze(1).float().div_(255)
    if resolution != batch.shape[-1]:
        batch = F.interpolate(batch, size=(resolution, resolution), mode="bilinear", align_corners=False)
    if mean is not None:
        batch = batch.sub_(mean).div_(std)
    return batch


def check_fits(in_channels: int, num_classes: int | None = None) -> None:
    """Refuse models whose input (and output) do not fit Fashion-MNIST's images (and classes)."""
    if in_channels != 1 or num_classes not in (None, NUM_CLASSES):
        classes = "" if num_classes is None else f", num_classes={num_classes}"
        raise InputError(
            f"in_channels={in_channels}{classes} do not fit Fashion-MNIST: it has 1 channel and {NUM_CLASSES} "
            "classes (--in-channels, --num-classes)"
        )


def loader(data_root: str | os.PathLike | None = None) -> Callable[[], FashionMNIST]:
    """A function that loads Fashion-MNIST on its first call and returns the same data set after."""
    loaded: list[FashionMNIST] = []

    def load_once() -> FashionMNIST:
        if not loaded:
            loaded.append(load(data_root))
        return loaded[0]

    return load_once

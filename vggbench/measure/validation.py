"""The validation split: training images that no seed trains on, on which whatever the harness chooses (a recipe,
a candidate pruned) is chosen, so that the test set is left to the verdicts.

The held-out images are the first `count` of one permutation of the training images, drawn once by a generator
of a fixed seed that is no run's: the same images for every run with the same count, whatever its seeds, and a
smaller split lies within a larger one. Each seed's training images are drawn from the rest
(vggbench.measure._train_setup.subsets).
"""

from __future__ import annotations

import hashlib

import torch

from vggbench.measure.data import COUNTS
from vggbench.util.validate import InputError

# Fixed (the VGG paper's arXiv number, 1409.1556). torch does not promise randperm's stream across versions: the
# digest metadata.json records shows whether two runs held out the same images.
SPLIT_SEED = 14_091_556


def split(total: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(held out, rest): indices into `total` training images, each sorted; `count` held out, at least one left."""
    if count >= total:
        raise InputError(
            f"validation_images={count} is not allowed with a data set of {total:,} training images: hold out "
            f"fewer than {total:,} (0: no validation split)"
        )
    order = torch.randperm(total, generator=torch.Generator().manual_seed(SPLIT_SEED))
    return order[:count].sort().values, order[count:].sort().values


def record(count: int, total: int = COUNTS["train"]) -> dict:
    """The split of `count` of Fashion-MNIST's training images, as metadata.json records it: its size, the seed of
    its draw and a digest of the held-out indices (SHA-256 of them as little-endian int64, its first 16 digits)."""
    held, _ = split(total, count)
    digest = hashlib.sha256(held.numpy().astype("<i8").tobytes()).hexdigest()[:16]
    return {"validation_images": count, "split_seed": SPLIT_SEED, "held_out_sha256": digest}

"""Effective receptive field (Luo et al. 2016), measured as RepLKNet (2022) does.

The gradient of the central unit of the last feature map (summed over channels)
with respect to the input, negative parts clamped to zero, summed over input
channels and averaged over images: a map of how much each pixel drives that unit.
From it, for each threshold t, the side of the smallest square centred on the
unit's theoretical field that holds t of the total contribution.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from vggbench.arch import ModelSpec
from vggbench.measure.receptive_field import walk
from vggbench.models import VGG, build_spec
from vggbench.schema import identity

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def contribution_map(features: nn.Module, images: torch.Tensor) -> np.ndarray:
    """Mean over images of the clamped input gradient of the central output unit, shape (H, W)."""
    features.eval()
    inputs = images.detach().clone().requires_grad_(True)
    output = features(inputs)
    height, width = output.shape[-2:]
    # Images do not interact in eval mode, so one backward gives every image's gradient.
    output[:, :, height // 2, width // 2].sum().backward()
    return inputs.grad.clamp(min=0).sum(dim=1).mean(dim=0).double().numpy()


def _last_geometry(model: nn.Module, resolution: int):
    return list(walk(model, resolution).values())[-1][1]


def central_unit_centre(model: nn.Module, resolution: int) -> float:
    """Input-pixel coordinate (row = column) of the centre of the central unit's theoretical field."""
    return _centre(_last_geometry(model, resolution))


def _centre(geometry) -> float:
    return geometry.start_px + (geometry.out_px // 2) * geometry.jump_px


def covering_side(centre: float, size: int) -> int:
    """Side of the smallest square centred at `centre` that covers a `size` x `size` image."""
    return round(2 * max(centre + 0.5, size - centre - 0.5))


def smallest_squares(contribution: np.ndarray, centre: float, thresholds=THRESHOLDS) -> dict[float, tuple[int, int]]:
    """Per threshold t, the smallest square centred at (centre, centre) holding t of the total.

    Returns (side, area inside the image) per t. Squares grow a pixel on each side at a
    time (odd sides around a pixel centre, even sides around a pixel corner); where a
    square passes the image border only its part inside counts, so at most the side
    that covers the whole image is returned.
    """
    total = contribution.sum()
    if not total > 0:
        raise ValueError("the contribution map is zero everywhere: no input pixel drives the central unit")
    size = contribution.shape[0]
    # Cumulative sums give any square's sum in constant time.
    cumulative = np.zeros((size + 1, size + 1))
    cumulative[1:, 1:] = contribution.cumsum(0).cumsum(1)
    squares: dict[float, tuple[int, int]] = {}
    side = 1 if float(centre).is_integer() else 2
    while len(squares) < len(thresholds):
        low = math.ceil(centre - (side - 1) / 2)
        start, stop = max(low, 0), min(low + side, size)
        held = cumulative[stop, stop] - cumulative[start, stop] - cumulative[stop, start] + cumulative[start, start]
        covers_all = side >= covering_side(centre, size)
        for threshold in thresholds:
            if threshold not in squares and (held / total >= threshold - 1e-12 or covers_all):
                squares[threshold] = (side, (stop - start) ** 2)
        side += 2
    return squares


def _percent(threshold: float) -> str:
    return f"t{round(threshold * 100)}"


def erf_row(spec: ModelSpec, maps: list[np.ndarray], model: nn.Module, trained: bool, images: int) -> dict:
    """One table row from the maps of one or more models of `spec` (averaged)."""
    contribution = np.mean(maps, axis=0)
    geometry = _last_geometry(model, spec.resolution)
    centre, rf_px = _centre(geometry), geometry.rf_px
    squares = smallest_squares(contribution, centre)
    row = {
        **identity(spec),
        "trained": trained,
        "images": images,
        "models": len(maps),
        "centre_px": centre,
    }
    row.update({f"erf_side_{_percent(t)}": side for t, (side, _) in squares.items()})
    row.update({f"erf_area_ratio_{_percent(t)}": area / spec.resolution**2 for t, (_, area) in squares.items()})
    # The theoretical field as seen in the image: at most the square that covers the image.
    visible_rf = min(rf_px, covering_side(centre, spec.resolution))
    row.update(rf_px=rf_px, rf_visible_px=visible_rf, erf_to_rf_t99=squares[0.99][0] / visible_rf)
    return row


def measure_models(spec: ModelSpec, models: list[VGG], images: torch.Tensor, trained: bool):
    """ERF of one or more models of `spec`, their maps averaged: the row and the mean map."""
    maps = [contribution_map(model.features, images) for model in models]
    return erf_row(spec, maps, models[0], trained=trained, images=len(images)), np.mean(maps, axis=0)


def measure_untrained(spec: ModelSpec, images: torch.Tensor, init_seeds=(0,)) -> tuple[dict, np.ndarray]:
    """ERF of freshly initialised models of `spec`, averaged over `init_seeds`."""
    models = []
    for seed in init_seeds:
        torch.manual_seed(seed)
        models.append(build_spec(spec))
    return measure_models(spec, models, images, trained=False)

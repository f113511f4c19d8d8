"""Effective receptive field (Luo et al. 2016), measured as RepLKNet (2022) does.

The gradient of the central unit of the last feature map (summed over channels; a
factory's net is cut at its feature map, vggbench.measure.feature_map) with respect
to the input, negative parts clamped to zero, summed over input channels and
averaged over images: a map of how much each pixel drives that unit.
From it, for each threshold t, the side of the smallest square centred on the
unit's theoretical field that holds t of the total contribution.

The field is measured where it can be seen: the convolutional part of a model takes
any input size, so images are resized to a side at which the central unit's whole
theoretical field lies inside the image (`fitting_resolution`), whatever the size the
model was trained at (the kind can measure at the training side beside it).

Models are the unit of the interval: per model, its maps averaged over the images give
`erf_share_t50`, the share of the image a centred square holding half the total covers,
its area interpolated between the two integer sides that bracket half (the
integer-side square moves in 2 px steps of side); the row holds the per-model values,
their mean, and a 95% t-interval with models - 1 degrees of freedom. The integer-side
figures of the mean map stay beside, with a bootstrap over the images within each model
(the second stage: image sampling given these models), the same figures for a uniform
map (the baseline of no concentration), and the figures of RepLKNet's own analysis,
which takes log10(1 + x) of the mean map and divides by its maximum before the squares.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from scipy import stats as scipy_stats
from torch import nn

from vggbench.measure._receptive_field import Geometry, walk
from vggbench.measure.feature_map import feature_graph, field
from vggbench.measure.setups import RESAMPLES
from vggbench.models.arch import FactoryArch, ModelSpec
from vggbench.models.factory import build_model
from vggbench.models.schema import identity
from vggbench.util.validate import InputError

THRESHOLDS = (0.2, 0.3, 0.5, 0.99)


def contribution_maps(features: nn.Module, images: torch.Tensor) -> np.ndarray:
    """Per image, the clamped input gradient of the central output unit summed over channels: (N, H, W)."""
    features.eval()
    inputs = images.detach().clone().requires_grad_(True)
    output = features(inputs)
    height, width = output.shape[-2:]
    # Images do not interact in eval mode, so one backward gives every image's gradient.
    output[:, :, height // 2, width // 2].sum().backward()
    return inputs.grad.clamp(min=0).sum(dim=1).double().numpy()


def contribution_map(features: nn.Module, images: torch.Tensor) -> np.ndarray:
    """Mean over images of the clamped input gradient of the central output unit, shape (H, W)."""
    return contribution_maps(features, images).mean(axis=0)


def replknet_map(contribution: np.ndarray) -> np.ndarray:
    """RepLKNet's view of a mean map: log10(1 + x), divided by its maximum (a zero map stays zero)."""
    logged = np.log10(contribution + 1)
    return logged / logged.max() if logged.max() > 0 else logged


def _last_geometry(model: nn.Module, resolution: int):
    return list(walk(model, resolution).values())[-1][1]


def features_of(spec: ModelSpec, model: nn.Module) -> nn.Module:
    """The part of `model` whose output is its last feature map: a VGG's `features`, a factory's net cut there."""
    if isinstance(spec.arch, FactoryArch):
        return feature_graph(model, (spec.in_channels, spec.resolution, spec.resolution))
    return model.features


def _geometry(spec: ModelSpec, model: nn.Module, resolution: int) -> Geometry:
    """The geometry of a unit of `model`'s last feature map on a `resolution` px input."""
    if isinstance(spec.arch, FactoryArch):
        return field(features_of(spec, model), resolution)
    return _last_geometry(model, resolution)


def central_unit_centre(model: nn.Module, resolution: int) -> float:
    """Input-pixel coordinate (row = column) of the centre of the central unit's theoretical field."""
    return _centre(_last_geometry(model, resolution))


def _centre(geometry) -> float:
    return geometry.start_px + (geometry.out_px // 2) * geometry.jump_px


def covering_side(centre: float, size: int) -> int:
    """Side of the smallest square centred at `centre` that covers a `size` x `size` image."""
    return round(2 * max(centre + 0.5, size - centre - 0.5))


def fitting_resolution(spec: ModelSpec) -> int:
    """The smallest input side, a multiple of 2**blocks (a factory's: of its feature map's jump), at which the
    central unit's theoretical field lies inside the image."""
    with torch.device("meta"):
        model = build_model(spec)
    if isinstance(spec.arch, FactoryArch):
        features = features_of(spec, model)
        geometry_at = functools.partial(field, features)
        multiple = geometry_at(spec.resolution).jump_px
    else:
        geometry_at, multiple = functools.partial(_last_geometry, model), spec.min_resolution
    side = multiple
    while True:
        geometry = geometry_at(side)
        half = (geometry.rf_px - 1) / 2
        if geometry.out_px >= 1 and _centre(geometry) - half >= 0 and _centre(geometry) + half <= side - 1:
            return side
        side += multiple


def _held(maps: np.ndarray, centre: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The centred squares of a stack of maps (B, H, W): their sides, their areas inside the image, and the
    share of each map's total each holds, shape (B, squares).

    Squares grow a pixel on each side at a time (odd sides around a pixel centre, even
    sides around a pixel corner); where a square passes the image border only its part
    inside counts, so the last square is the one that covers the whole image.
    """
    maps = np.asarray(maps, dtype=float)
    totals = maps.sum(axis=(1, 2))
    if not (totals > 0).all():
        raise InputError("the contribution map is zero everywhere: no input pixel drives the central unit")
    size = maps.shape[-1]
    cumulative = np.zeros((len(maps), size + 1, size + 1))
    cumulative[:, 1:, 1:] = maps.cumsum(1).cumsum(2)  # any square's sum in constant time
    first = 1 if float(centre).is_integer() else 2
    sides = np.arange(first, covering_side(centre, size) + 1, 2)
    lows = np.ceil(centre - (sides - 1) / 2).astype(int)
    starts, stops = np.maximum(lows, 0), np.minimum(lows + sides, size)
    held = (
        cumulative[:, stops, stops]
        - cumulative[:, starts, stops]
        - cumulative[:, stops, starts]
        + cumulative[:, starts, starts]
    ) / totals[:, None]
    held[:, -1] = 1.0  # the square that covers the image holds everything
    return sides, (stops - starts) ** 2, held


def square_search(maps: np.ndarray, centre: float, thresholds=THRESHOLDS) -> tuple[np.ndarray, np.ndarray]:
    """Per map (of a stack, shape (B, H, W)) and threshold t, the smallest square centred at (centre, centre)
    holding t of the map's total: (sides, areas inside the image), each of shape (B, len(thresholds))."""
    sides, areas, held = _held(maps, centre)
    found = np.empty((len(held), len(thresholds)), dtype=int)
    for column, threshold in enumerate(thresholds):
        found[:, column] = (held >= threshold - 1e-12).argmax(axis=1)
    return sides[found], areas[found]


def interpolated_share(maps: np.ndarray, centre: float, threshold: float = 0.5) -> np.ndarray:
    """Per map, the share of the image a centred square holding `threshold` of the total covers, the area
    interpolated linearly between the two squares that bracket it (from an empty square below the smallest):
    continuous where the integer-side square moves in steps of 2 px of side."""
    _, areas, held = _held(maps, centre)
    areas = np.concatenate([[0], areas])
    held = np.concatenate([np.zeros((len(held), 1)), held], axis=1)
    upper = (held >= threshold - 1e-12).argmax(axis=1)
    rows = np.arange(len(held))
    below, above = held[rows, upper - 1], held[rows, upper]
    fraction = (threshold - below) / (above - below)
    area = areas[upper - 1] + fraction * (areas[upper] - areas[upper - 1])
    return area / np.asarray(maps).shape[-1] ** 2


def smallest_squares(contribution: np.ndarray, centre: float, thresholds=THRESHOLDS) -> dict[float, tuple[int, int]]:
    """Per threshold t, (side, area inside the image) of the smallest centred square holding t of one map."""
    sides, areas = square_search(contribution[None], centre, thresholds)
    return {t: (int(side), int(area)) for t, side, area in zip(thresholds, sides[0], areas[0], strict=True)}


def _percent(threshold: float) -> str:
    return f"t{round(threshold * 100)}"


def _bootstrap_means(maps: np.ndarray, resamples: int, seed: int = 0) -> np.ndarray:
    """Mean maps of `resamples` bootstrap samples of the images, drawn with replacement, each model keeping its
    own (the second stage: the image sampling given these models): (B, H, W)."""
    models, images = maps.shape[:2]
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(images, [1 / images] * images, size=(resamples, models))
    weights = counts.reshape(resamples, -1) / (models * images)
    return (weights @ maps.reshape(models * images, -1)).reshape(resamples, *maps.shape[2:])


def _per_model(prefix: str, model_maps: np.ndarray, centre: float) -> dict:
    """The interpolated share holding half the gradient per model (a model whose map is zero has none), their
    mean, count, standard error and 95% t-interval with models - 1 degrees of freedom: models are the unit."""
    alive = model_maps.sum(axis=(1, 2)) > 0
    shares = np.full(len(model_maps), np.nan)
    if alive.any():
        shares[alive] = interpolated_share(model_maps[alive], centre)
    measured = shares[alive]
    n = len(measured)
    se = measured.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
    half = scipy_stats.t.ppf(0.975, n - 1) * se if n > 1 else math.nan
    mean = measured.mean() if n else math.nan
    name = f"{prefix}_share_t50"
    return {
        name: mean,
        f"{name}_low": mean - half,
        f"{name}_high": mean + half,
        f"{name}_se": se,
        f"{name}_models": n,
        f"{name}_per_model": ";".join(f"{share:.6g}" for share in shares),
    }


def _figures(prefix: str, mean: np.ndarray, resampled: np.ndarray, centre: float, image_area: int) -> dict:
    """Side and area ratio per threshold of `mean`, with bootstrap percentile intervals and standard errors."""
    sides, areas = square_search(mean[None], centre)
    boot_sides, boot_areas = square_search(resampled, centre)
    row = {}
    for column, threshold in enumerate(THRESHOLDS):
        name, boot_ratio = _percent(threshold), boot_areas[:, column] / image_area
        row[f"{prefix}_side_{name}"] = int(sides[0, column])
        row[f"{prefix}_side_{name}_low"], row[f"{prefix}_side_{name}_high"] = np.percentile(
            boot_sides[:, column], [2.5, 97.5]
        )
        row[f"{prefix}_area_ratio_{name}"] = areas[0, column] / image_area
        row[f"{prefix}_area_ratio_{name}_low"], row[f"{prefix}_area_ratio_{name}_high"] = np.percentile(
            boot_ratio, [2.5, 97.5]
        )
        row[f"{prefix}_area_ratio_{name}_se"] = float(boot_ratio.std(ddof=1))
    return row


def erf_row(spec: ModelSpec, maps: np.ndarray, model: nn.Module, trained: bool, resamples: int = RESAMPLES) -> dict:
    """One table row from per-image maps of one or more models of `spec`, shape (models, images, H, W)."""
    size = maps.shape[-1]
    mean = maps.mean(axis=(0, 1))
    geometry = _geometry(spec, model, size)
    centre, rf_px = _centre(geometry), geometry.rf_px
    resampled = _bootstrap_means(maps, resamples)
    # A resample may draw only images no pixel of which drives the unit (dead ReLUs): it has no squares.
    resampled = resampled[resampled.sum(axis=(1, 2)) > 0]
    row = {
        **identity(spec),
        "trained": trained,
        "erf_resolution": size,
        "images": maps.shape[1],
        "models": maps.shape[0],
        "resamples": len(resampled),
        "centre_px": centre,
    }
    row.update(_figures("erf", mean, resampled, centre, size * size))
    replknet = np.stack([replknet_map(resample) for resample in resampled])
    row.update(_figures("replknet", replknet_map(mean), replknet, centre, size * size))
    model_maps = maps.mean(axis=1)
    row.update(_per_model("erf", model_maps, centre))
    row.update(_per_model("replknet", np.stack([replknet_map(one) for one in model_maps]), centre))
    uniform_sides, uniform_areas = square_search(np.ones((1, size, size)), centre)
    for column, threshold in enumerate(THRESHOLDS):
        row[f"uniform_side_{_percent(threshold)}"] = int(uniform_sides[0, column])
        row[f"uniform_area_ratio_{_percent(threshold)}"] = uniform_areas[0, column] / size**2
    # The theoretical field as seen in the image: at most the square that covers the image.
    visible_rf = min(rf_px, covering_side(centre, size))
    row.update(rf_px=rf_px, rf_fits=visible_rf == rf_px, rf_visible_px=visible_rf)
    row["erf_to_rf_t99"] = row["erf_side_t99"] / visible_rf
    return row


def measure_models(
    spec: ModelSpec, models: list[nn.Module], images: torch.Tensor, trained: bool, resamples: int = RESAMPLES
):
    """ERF of one or more models of `spec` on `images` (at any side): the row and the mean map."""
    maps = np.stack([contribution_maps(features_of(spec, model), images) for model in models])
    return erf_row(spec, maps, models[0], trained, resamples), maps.mean(axis=(0, 1))


def measure_untrained(spec: ModelSpec, images: torch.Tensor, init_seeds=(0,), resamples: int = RESAMPLES):
    """ERF of freshly initialised models of `spec`, over `init_seeds`."""
    models = []
    for seed in init_seeds:
        torch.manual_seed(seed)
        models.append(build_model(spec))
    return measure_models(spec, models, images, trained=False, resamples=resamples)

"""Every figure of the report drawn from a deliberately thin and noisy run (two seeds, two epochs, one arm whose
every run failed, timings whose spread dwarfs their median, models at the same cost and accuracy), checked
against what such data can say: axes within the possible range, log axes near the data, every panel holding
data or a sentence saying why it has none, no label clipped or overlapping another, no legend over the data."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import ErrorbarContainer
from matplotlib.text import Text

from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import RunDir
from vggbench.figures.figure import Sources
from vggbench.measure.static import block_table
from vggbench.models.arch import ModelSpec
from vggbench.reporting import claim, report

MODEL = {"arch": "vgg11", "ratio": 8, "resolution": 32}
VARIANTS = ["stack", "single", "linear-stack"]
# Two seeds over two epochs a run, the stack's seeds far apart (a t interval on one degree of freedom runs far
# past 0 and 1), every run of single failed without batch norm and every run of all three failed with it.
ACCURACIES = {
    "stack": [[0.15, 0.95], [0.20, 0.97]],
    "single": [[0.1, 0.1], [0.1, 0.1]],
    "linear-stack": [[0.5, 0.4]] * 2,
}
FAILED = {(False, "single"), (True, "stack"), (True, "single"), (True, "linear-stack")}
# A step of 10 ms whose interquartile range is 40 ms: the old bars (median +- IQR / 2) crossed zero and ran the
# log axis to 1e14 images per second. The median's 95% interval is 2..60 ms.
TIMING = {"step_ms_median": 10.0, "step_ms_iqr": 40.0, "step_ms_ci_low": 2.0, "step_ms_ci_high": 60.0}
# The range each accuracy figure can show, on the axis that shows it: fractions, or differences of them.
POSSIBLE = {
    "learning_curves": ("y", 0, 1),
    "accuracy_vs_macs": ("y", 0, 1),
    "lr_sensitivity": ("y", 0, 1),
    "accuracy_budgets": ("y", -1, 1),
    "forest": ("x", -1, 1),
}


def _train() -> pd.DataFrame:
    rows = [
        {**MODEL, "batch_norm": normed, "variant": variant, "seed": seed, "epoch": epoch,
         "optimizer_steps": 4 * epoch, "test_acc": accuracy, "train_loss": 9.0 if (normed, variant) in FAILED else 0.4}
        for normed in (False, True)
        for variant, epochs in ACCURACIES.items()
        for epoch, seeds in enumerate(epochs, start=1)
        for seed, accuracy in enumerate(seeds)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _summary() -> pd.DataFrame:
    """One row a model; with and without batch norm the same cost and accuracy, so that their labels collide
    unless placed apart; the stack's spread runs past 0 and 1."""
    macs = {"stack": 2.70e6, "single": 2.65e6, "linear-stack": 2.70e6}
    accuracy = {"stack": (0.58, 0.55), "single": (0.1, 0.0), "linear-stack": (0.5, 0.07)}
    return pd.DataFrame(
        [
            {**MODEL, "batch_norm": normed, "variant": variant, "macs": macs[variant], "test_acc_mean": mean,
             "test_acc_std": spread, "seeds": 2, "epochs": 2}
            for normed in (False, True)
            for variant, (mean, spread) in accuracy.items()
        ]
    )  # fmt: skip


def _tuning() -> pd.DataFrame:
    """The stack's search: three candidates, one pruned, on one seed."""
    found = [(1e-3, 0.30, False), (1e-2, 0.12, False), (1e-1, 0.10, True)]
    return pd.DataFrame(
        [
            {**MODEL, "batch_norm": False, "variant": "stack", "schedule_epochs": 2, "candidate": candidate,
             "lr": lr, "optimizer": "sgd", "seed": 100, "epoch": 2, "val_acc": objective, "train_loss": 2.0,
             "pruned": pruned, "objective": objective, "chosen": candidate == 0}
            for candidate, (lr, objective, pruned) in enumerate(found)
        ]
    )  # fmt: skip


def _erf(run) -> pd.DataFrame:
    """The stack's untrained map, and single's measured without its map saved."""
    maps = run / "erf_maps"
    maps.mkdir()
    contribution = np.zeros((16, 16))
    contribution[6:10, 6:10] = 1.0
    np.save(maps / "vgg11-stack-r8-px16-untrained.npy", contribution)
    field = {"ratio": 8, "resolution": 16, "trained": False, "centre_px": 7.5, "erf_side_t50": 4, "erf_side_t99": 6}
    return pd.DataFrame([{"arch": "vgg11", "variant": variant, **field} for variant in ("stack", "single")])


def thin_noisy_run(run) -> dict[str, pd.DataFrame]:
    """A run folder as `vggbench report` needs it (summary.csv, metadata.json, its maps) and every table its
    figures read, by name: each as thin and noisy as a run can leave it."""
    run.mkdir(parents=True)
    summary, train = _summary(), _train()
    summary.to_csv(run / "summary.csv", index=False)
    (run / "metadata.json").write_text(json.dumps({"device_name": "cpu", "started": "2026-12-07T20:00:00"}))
    speed = pd.DataFrame(
        [{**MODEL, "batch_norm": False, "variant": variant, "mode": "infer", "device_name": "cpu", "batch_size": 64,
          "img_per_s": 6400.0, **TIMING} for variant in VARIANTS]
    )  # fmt: skip
    pairs = pd.DataFrame(
        [{**MODEL, "mode": "infer", "variant": variant, "time_ratio_median": 1.1, "ci_low": 0.2, "ci_high": 8.0,
          "stable": False} for variant in VARIANTS[1:]]
    )  # fmt: skip
    with warnings.catch_warnings():  # scipy's precision warning: single's accuracies are all alike
        warnings.simplefilter("ignore", RuntimeWarning)
        claims = claim.claim_table({"train": train})
    return {
        "summary": summary,
        "train": train,
        "claim": claims,
        "speed": speed,
        "pairs": pairs,
        "blocks": block_table([ModelSpec("vgg11", "single", ratio=8)]),
        "tuning": _tuning(),
        "erf": _erf(run),
    }


def _drawn(run, tables) -> dict:
    """Every figure of the report, drawn as the report draws it, and laid out on its page."""
    figures = {}
    for figure in report.catalogue():
        made = figure.draw(Sources({name: tables[name] for name in figure.reads}, {"variants": VARIANTS}, run.joinpath))
        assert made is not None, f"{figure.name} was not drawn"
        FigureCanvasAgg(made).draw()
        figures[figure.name] = made
    return figures


def _labels(figure) -> list[Text]:
    """Every text of a figure a reader reads: titles, axis labels, annotations, legends, and the tick labels of
    the ticks within each axis's view (matplotlib keeps others, undrawn)."""
    ticks, shown = set(), []
    for axes in figure.axes:
        for index, axis in enumerate((axes.xaxis, axes.yaxis)):
            low, high = sorted(axis.get_view_interval())
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update((id(tick.label1), id(tick.label2)))
            for label in axis.get_ticklabels(which="both"):
                shown += [label] if low <= label.get_position()[index] <= high else []
    texts = [text for text in figure.findobj(Text) if id(text) not in ticks] + shown
    return [text for text in texts if text.get_visible() and text.get_text().strip()]


def _overlap(one, other) -> float:
    width = min(one.x1, other.x1) - max(one.x0, other.x0)
    height = min(one.y1, other.y1) - max(one.y0, other.y0)
    return max(width, 0) * max(height, 0)


NO_MARKER = (None, "", "None", "none")


def _in_data(artist, axes) -> bool:
    return artist.get_transform() == axes.transData  # not a line across the axes (axhline) nor a span


def _finite(chunks) -> np.ndarray:
    """(x, y) points from arrays of them, in one array, those with a NaN or an infinity left out."""
    points = np.concatenate([np.asarray(chunk, dtype=float).reshape(-1, 2) for chunk in chunks] or [np.empty((0, 2))])
    return points[np.isfinite(points).all(axis=1)]


def _data(axes) -> tuple[np.ndarray, np.ndarray]:
    """Every x and y the axes drew in data coordinates: its lines' points, its bands' and bars' vertices."""
    points = [line.get_xydata() for line in axes.lines if _in_data(line, axes)]
    points += [path.vertices for shape in axes.collections if _in_data(shape, axes) for path in shape.get_paths()]
    points = _finite(points)
    return points[:, 0], points[:, 1]


def _has_data(axes) -> bool:
    xs, _ = _data(axes)
    return len(xs) > 0 or bool(axes.images) or bool(axes.containers)


@pytest.fixture(scope="module")
def thin(tmp_path_factory):
    run = tmp_path_factory.mktemp("thin") / "run"
    tables = thin_noisy_run(run)
    return run, tables, _drawn(run, tables)


def test_every_figure_is_drawn_from_a_thin_run_the_same_each_time(thin, tmp_path):
    run, tables, figures = thin
    assert list(figures) == [figure.name for figure in report.catalogue()]
    page = report.write(RunDir(run, KINDS), tables).read_text()
    assert page.count("<img ") == len(figures) and "Not drawn" not in page
    again = tmp_path / "again"
    report.draw(RunDir(again, KINDS), thin_noisy_run(again))
    for name in figures:
        drawn = (again / "figures" / f"{name}.png").read_bytes()
        assert drawn == (run / "figures" / f"{name}.png").read_bytes(), name


def test_accuracy_axes_stay_within_the_possible_range(thin):
    _, _, figures = thin
    for name, (axis, low, high) in POSSIBLE.items():
        margin = 0.1 * (high - low)
        for axes in figures[name].axes:
            if not _has_data(axes):
                continue
            shown = axes.get_ylim() if axis == "y" else axes.get_xlim()
            assert low - margin <= min(shown) and max(shown) <= high + margin, (name, shown)
            values = _data(axes)[1 if axis == "y" else 0]
            assert low - 1e-9 <= values.min() and values.max() <= high + 1e-9, (name, values.min(), values.max())


def _points(axes) -> np.ndarray:
    """The measured points the axes marks (its lines with markers), in data coordinates: not their bars' caps."""
    caps = {id(cap) for bars in axes.containers if isinstance(bars, ErrorbarContainer) for cap in bars.lines[1]}
    return _finite(
        line.get_xydata()
        for line in axes.lines
        if _in_data(line, axes) and line.get_marker() not in NO_MARKER and id(line) not in caps
    )


def test_log_axes_stay_within_a_decade_of_the_points_and_hold_nothing_below_zero(thin):
    logs = 0
    for name, figure in thin[2].items():
        for axes in figure.axes:
            for index, axis in enumerate("xy"):
                if getattr(axes, f"get_{axis}scale")() != "log":
                    continue
                logs += 1
                shown, points = getattr(axes, f"get_{axis}lim")(), _points(axes)[:, index]
                assert _data(axes)[index].min() > 0, (name, axis)  # no bar below zero
                assert points.min() / 10 <= min(shown) and max(shown) <= 10 * points.max(), (name, axis, shown)
    assert logs >= 4  # throughput, time ratios, MACs and learning rates


def test_throughput_bars_are_the_medians_interval_in_images_per_second(thin):
    (axes,) = thin[2]["throughput_vs_ratio"].axes
    bars = np.concatenate([segment[:, 1] for shape in axes.collections for segment in shape.get_segments()])
    batch_ms = 64 * 1000
    assert bars.min() == pytest.approx(batch_ms / TIMING["step_ms_ci_high"])
    assert bars.max() == pytest.approx(batch_ms / TIMING["step_ms_ci_low"])


def test_every_panel_has_data_or_says_why_it_has_none(thin):
    said = {}
    for name, figure in thin[2].items():
        for axes in figure.axes:
            sentences = [" ".join(text.get_text().split()) for text in axes.texts]
            assert _has_data(axes) or sentences, f"an empty panel in {name}: {axes.get_title()!r}"
            said.setdefault(name, []).extend(sentences)
    failed = "No difference at any budget: every run of {} failed (2 runs)."
    assert said["accuracy_budgets"] == [failed.format("single"), failed.format("stack"), failed.format("stack")]
    assert said["learning_curves"] == ["Every run failed (stack, single, linear-stack): no curve to draw."]
    assert said["erf_maps"].count("No map: single, untrained: its map was not saved.") == 1
    titles = [axes.get_title() for axes in thin[2]["learning_curves"].axes]
    assert titles[0] == "vgg11 r8\nevery run failed: single"  # the other variants drawn, the lost one named


def test_no_label_is_clipped_or_overlaps_another(thin):
    for name, figure in thin[2].items():
        renderer = figure.canvas.get_renderer()
        page = figure.bbox
        boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in _labels(figure)]
        for text, box in boxes:
            inside = page.x0 - 1 <= box.x0 and box.x1 <= page.x1 + 1 and page.y0 - 1 <= box.y0 and box.y1 <= page.y1 + 1
            assert inside, f"{name}: {text!r} runs off the figure"
        for index, (text, box) in enumerate(boxes):
            for other, other_box in boxes[index + 1 :]:
                assert _overlap(box, other_box) == 0, f"{name}: {text!r} overlaps {other!r}"
    annotations = [text for text in thin[2]["accuracy_vs_macs"].axes[0].texts]
    assert sorted(text.get_text() for text in annotations) == ["vgg11 r8", "vgg11 r8 bn"]  # one per model


def test_no_legend_covers_the_data(thin):
    legends = 0
    for name, figure in thin[2].items():
        renderer = figure.canvas.get_renderer()
        for legend in [*figure.legends, *(axes.get_legend() for axes in figure.axes)]:
            if legend is None:
                continue
            legends += 1
            box = legend.get_window_extent(renderer)
            for axes in figure.axes:
                assert _overlap(box, axes.bbox) == 0, f"{name}: the legend covers {axes.get_title()!r}"
    assert legends >= 6

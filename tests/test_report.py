"""The report: figures from hand-made and real tables, the self-contained HTML, and a headless browser."""

import base64
import html
import io
import json
import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from conftest import TINY_STUDY
from matplotlib.container import ErrorbarContainer
from matplotlib.patches import Rectangle
from PIL import Image
from scipy import stats as scipy_stats

from vggbench.cli import main
from vggbench.engine import study
from vggbench.engine.config import Rules, load_config
from vggbench.engine.registry import KINDS
from vggbench.engine.rundir import RunDir
from vggbench.figures import pairs as pairs_figures
from vggbench.figures import speed as speed_figures
from vggbench.figures import static as static_figures
from vggbench.figures import train as train_figures
from vggbench.figures.figure import Sources
from vggbench.measure import training_rules
from vggbench.measure.static import block_table
from vggbench.models.arch import ModelSpec
from vggbench.reporting import claim, report, run_figures, terminal
from vggbench.reporting import page as html_page

# Every figure of a report in the page's order, as the report and the kinds declare them; the tiny run (one epoch,
# no recipe search) draws all but those over the training budget and the search's.
FIGURES = [figure.name for figure in report.catalogue()]
ONE_EPOCH = ("accuracy_budgets", "learning_curves")
DRAWN = [name for name in FIGURES if name not in (*ONE_EPOCH, "lr_sensitivity")]


class _Elements(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _elements(page: str) -> list[tuple[str, dict]]:
    parser = _Elements()
    parser.feed(page)
    return parser.tags


def test_each_figure_has_its_own_name_and_a_kinds_figures_read_its_own_tables():
    assert len(set(FIGURES)) == len(FIGURES) and FIGURES[0] == "forest"
    for kind in KINDS.values():
        assert {name for figure in kind.figures() for name in figure.reads} <= {table.name for table in kind.tables}
    own = {name for figure in run_figures.FIGURES for name in figure.reads}
    assert own == {"claim", "summary", "tuning"}  # the report's own figures span the kinds, and the recipe search


def test_every_figure_is_written_as_a_drawn_png_and_an_svg(finished_run):
    for name in DRAWN:
        png = finished_run.root / "figures" / f"{name}.png"
        with Image.open(png) as image:
            assert image.format == "PNG" and image.width > 300 and image.height > 200, name
            colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert len(colours) > 20, f"{name}.png is nearly blank"
        svg = ElementTree.parse(finished_run.root / "figures" / f"{name}.svg").getroot()
        assert svg.tag.endswith("svg") and len(svg.findall(".//{http://www.w3.org/2000/svg}path")) > 10, name


def test_the_same_run_draws_the_same_files(tmp_path, finished_run):
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run, ignore=shutil.ignore_patterns("figures", "*.html"))
    speed = RunDir(run, KINDS).table("speed")
    (run / "speed.csv").unlink()  # a table the caller holds is drawn from, not read again
    report.write(run, tables={"speed": speed})
    for name in DRAWN:
        for suffix in ("png", "svg"):
            drawn = (run / "figures" / f"{name}.{suffix}").read_bytes()
            assert drawn == (finished_run.root / "figures" / f"{name}.{suffix}").read_bytes(), f"{name}.{suffix}"
    assert (run / "report.html").read_bytes() == (finished_run.root / "report.html").read_bytes()


def test_finishing_reads_each_table_once_and_writes_what_the_two_steps_write(tmp_path, finished_run, monkeypatch):
    from vggbench.engine import rundir
    from vggbench.reporting.finish import write_reports

    apart, together = tmp_path / "apart" / "run", tmp_path / "together" / "run"  # one name: claim.md shows it
    for run in (apart, together):
        shutil.copytree(finished_run.root, run, ignore=shutil.ignore_patterns("figures", "*.html", "claim.*"))
    claim.report(apart)
    report.write(apart)
    read = []
    original = rundir.read_csv
    monkeypatch.setattr(rundir, "read_csv", lambda path, **options: read.append(path.name) or original(path, **options))
    write_reports(together)
    assert read and len(read) == len(set(read)), sorted(read)  # each file once, claim.csv after it was written
    assert "claim.csv" in read and "train.csv" in read
    for name in ("claim.csv", "claim.md", "report.html", *(f"figures/{name}.png" for name in DRAWN)):
        assert (together / name).read_bytes() == (apart / name).read_bytes(), name


def test_the_folder_records_which_vggbench_wrote_its_claim_and_report(tmp_path, finished_run):
    from vggbench.util import version

    written = json.loads((finished_run.root / "reports.json").read_text())
    ended = json.loads((finished_run.root / "metadata.json").read_text())["ended"]
    assert set(written) == {"claim.md", "report.html"}
    for entry in written.values():
        assert (entry["version"], entry["git_commit"]) == (version.package_version(), version.git_commit())
        assert entry["written"] >= ended
    run = tmp_path / "run"
    shutil.copytree(finished_run.root, run)
    (run / "reports.json").write_text("not JSON")  # damaged: started afresh, with what is written now
    claim.report(run)
    assert set(json.loads((run / "reports.json").read_text())) == {"claim.md"}


def test_the_page_says_where_the_design_changed_between_sittings():
    design = {"design": "group-sequential", "max_seeds": 8}
    sittings = [{"design": design, "comparisons": ["a vs <b>"]}, {"design": design, "comparisons": []}]
    said = html_page._history({"sittings": sittings})
    assert said == [
        "<p>The design or the family of the accuracy comparisons changed between the run&#x27;s sittings "
        "(metadata.json): between sittings 1 and 2, the family from 1 to 0 comparisons (dropped: a vs &lt;b&gt;).</p>"
    ]
    assert html_page._history({"sittings": sittings[:1]}) == []


def test_accuracy_figure_puts_each_model_at_its_macs_and_mean_with_its_std():
    summary = pd.DataFrame(
        {
            "arch": ["vgg11", "vgg11", "vgg16"],
            "variant": ["stack", "single", "stack"],
            "ratio": [8, 8, 8],
            "resolution": [32, 32, 32],
            "macs": [2_000_000, 3_000_000, 5_000_000],
            "test_acc_mean": [0.80, 0.85, 0.70],
            "test_acc_std": [0.01, 0.02, 0.03],
            "seeds": [2, 2, 2],
            "epochs": [1, 1, 1],
        }
    )
    axes = run_figures.accuracy_vs_macs(summary).axes[0]
    bars = [container for container in axes.containers if isinstance(container, ErrorbarContainer)]
    assert [container.get_label() for container in bars] == ["stack", "single"]
    stack_points, _, (stack_spans,) = bars[0].lines
    assert list(stack_points.get_xdata()) == [2.0, 5.0] and list(stack_points.get_ydata()) == [0.80, 0.70]
    spans = [segment[:, 1] for segment in stack_spans.get_segments()]
    assert np.allclose(spans, [[0.79, 0.81], [0.67, 0.73]])
    assert run_figures.accuracy_vs_macs(summary.drop(columns=["test_acc_mean"])) is None
    assert run_figures.accuracy_vs_macs(summary.drop(columns=["macs"])) is None  # a run without the static kind
    # Counts 1% apart (a twin of nearly the same cost) do not fill the axis: it spans a factor of 2 around them.
    close = summary.assign(macs=[2_750_000, 2_772_000, 2_760_000])
    low, high = run_figures.accuracy_vs_macs(close).axes[0].get_xlim()
    assert high / low == pytest.approx(2.0) and low < 2.75 and high > 2.772
    low, high = axes.get_xlim()
    assert low <= 2.0 and high >= 5.0  # counts wider apart keep matplotlib's own range
    # A model whose static trial failed has no MACs: named under the axes as not drawn, never dropped in silence.
    uncounted = summary.assign(macs=[2_000_000, None, 5_000_000])
    figure = run_figures.accuracy_vs_macs(uncounted)
    drawn = [c for c in figure.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert [container.get_label() for container in drawn] == ["stack"]
    said = "not drawn, no MACs counted (static trial failed): vgg11 r8 single"
    assert figure.axes[0].get_xlabel() == f"MACs per image (millions, log scale)\n{said}"
    assert "not drawn" not in run_figures.accuracy_vs_macs(summary).axes[0].get_xlabel()


def test_the_forest_draws_each_primary_comparison_with_its_interval_and_verdict_colour():
    common = {"ratio": 8, "resolution": 32, "variant": "stack", "analysis": "primary"}
    rows = [
        {
            "claim": "higher accuracy",
            "arch": "vgg11",
            "batch_norm": False,
            "baseline": "single",
            "difference": -0.02,
            "ci_low": -0.03,
            "ci_high": -0.01,
            "margin": 0.01,
            "verdict": "contradicted",
        },
        {
            "claim": "higher accuracy",
            "arch": "vgg11",
            "batch_norm": True,
            "baseline": "single",
            "difference": 0.003,
            "ci_low": -0.004,
            "ci_high": 0.008,
            "margin": 0.01,
            "verdict": "equivalent",
        },
        {
            "claim": "higher accuracy",
            "arch": "vgg11",
            "batch_norm": True,
            "baseline": "single",
            "difference": 0.5,
            "ci_low": 0.4,
            "ci_high": 0.6,
            "margin": 0.01,
            "verdict": "supported",
            "analysis": "all runs (sensitivity)",
        },
        {
            "claim": "same effective receptive field",
            "arch": "vgg11",
            "batch_norm": False,
            "mode": "untrained",
            "baseline": "single",
            "difference": -0.05,
            "ci_low": -0.07,
            "ci_high": -0.03,
            "margin": 0.02,
            "verdict": "contradicted",
        },
        {
            "claim": "fewer parameters",
            "arch": "vgg11",
            "baseline": "single",
            "difference": math.nan,
            "margin": math.nan,
            "verdict": "supported",
        },
    ]
    figure = run_figures.forest(pd.DataFrame([{**common, **row} for row in rows]))
    accuracy, field = figure.axes
    top_down = sorted(accuracy.get_yticklabels(), key=lambda tick: -tick.get_position()[1])
    assert [tick.get_text() for tick in top_down] == ["no bn vs single", "bn vs single"]  # the table's order
    intervals = {tuple(line.get_xdata()): line.get_color() for line in accuracy.lines if len(line.get_xdata()) == 2}
    # In claim.csv's unit (a share from 0 to 1), as the tables of claim.md and report.html give the same rows.
    assert intervals[(-0.03, -0.01)] == run_figures.VERDICT_COLOURS["contradicted"]
    assert intervals[(-0.004, 0.008)] == run_figures.VERDICT_COLOURS["equivalent"]  # the sensitivity row is not drawn
    assert len(intervals) == 3  # the zero line, and the two primary rows
    (band,) = [patch for patch in accuracy.patches if isinstance(patch, Rectangle)]
    assert (band.get_x(), band.get_width()) == pytest.approx((-0.01, 0.02))  # the margin, +-0.01
    assert accuracy.get_xlabel() == "stack - rival, test accuracy (0 to 1)"
    assert [tick.get_text() for tick in field.get_yticklabels()] == ["vs single"]
    assert run_figures.forest(pd.DataFrame([{**common, **rows[-1]}])) is None  # nothing to draw: no figure
    budgets = [{**common, **rows[0], "schedule_epochs": epochs} for epochs in (5, 15)]  # epochs as an axis
    (axes,) = run_figures.forest(pd.DataFrame(budgets)).axes
    assert sorted(tick.get_text() for tick in axes.get_yticklabels()) == ["15 ep vs single", "5 ep vs single"]


def test_time_ratios_draw_each_pair_with_its_interval_hollow_where_unstable():
    pairs = pd.DataFrame(
        [
            {"arch": "vgg11", "ratio": 8, "resolution": 32, "mode": "infer", "variant": "single",
             "time_ratio_median": 0.9, "ci_low": 0.85, "ci_high": 0.95, "stable": True},
            {"arch": "vgg11", "ratio": 8, "resolution": 32, "mode": "train", "variant": "linear-stack",
             "time_ratio_median": 1.02, "ci_low": 0.9, "ci_high": 1.1, "stable": False},
        ]
    )  # fmt: skip
    axes = pairs_figures.time_ratios(pairs).axes[0]
    intervals = [tuple(line.get_xdata()) for line in axes.lines if len(line.get_xdata()) == 2]
    assert (0.85, 0.95) in intervals and (0.9, 1.1) in intervals
    markers = {line.get_xdata()[0]: line.get_markerfacecolor() for line in axes.lines if len(line.get_xdata()) == 1}
    assert markers[1.02] == "white" and markers[0.9] != "white"
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert sorted(labels) == ["vgg11 r8 32px infer: single", "vgg11 r8 32px train: linear-stack"]
    assert pairs_figures.time_ratios(pairs.iloc[0:0]) is None


def test_throughput_against_the_architecture_where_the_run_has_one_ratio():
    speed = pd.DataFrame(
        [
            {"arch": arch, "variant": variant, "ratio": 8, "resolution": 32, "mode": "infer", "device_name": "cpu",
             "img_per_s": 100.0, "step_ms_median": 640.0, "step_ms_iqr": 10.0, "batch_size": 64}
            for arch in ("vgg11", "vgg13") for variant in ("stack", "single")
        ]
    )  # fmt: skip
    axes = speed_figures.throughput_vs_ratio(speed).axes[0]
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["vgg11", "vgg13"]
    assert "width ratio 8" in axes.get_xlabel()
    # A table of older code records no interval: its bare points say so; one with intervals draws bars instead.
    assert axes.get_xlabel().endswith("no error bars: this speed table records no intervals")
    timed = speed_figures.throughput_vs_ratio(speed.assign(step_ms_ci_low=630.0, step_ms_ci_high=650.0)).axes[0]
    assert "no error bars" not in timed.get_xlabel() and timed.containers[0].has_yerr


def test_block_bars_show_the_textbook_ratio_where_in_equals_out():
    # vgg11 block 5 has 64 -> 64 channels at ratio 8: two 3x3 against one 5x5 is
    # (2 * 9C^2 + 2C) / (25C^2 + C) with C = 64, the 18/25 of the arithmetic plus biases.
    blocks = block_table([ModelSpec("vgg11", "single", ratio=8)])
    axes = static_figures.block_ratios(blocks).axes[0]
    bars = [patch for patch in axes.patches if isinstance(patch, Rectangle)]
    parameter_heights = [bar.get_height() for bar in bars[:5]]
    channels = 64
    expected = (2 * 9 * channels**2 + 2 * channels) / (25 * channels**2 + channels)
    assert parameter_heights[:2] == [1.0, 1.0]  # one conv per block: nothing replaced
    assert parameter_heights[4] == pytest.approx(expected, rel=1e-9)
    assert parameter_heights[2] > 1  # 16 -> 32 channels: there the single kernel is the cheaper
    assert "2x 3x3 | 5x5" in axes.get_xticklabels()[4].get_text()


def test_erf_panels_draw_the_measured_squares_and_say_why_a_map_is_missing(tmp_path):
    maps = tmp_path / "erf_maps"
    maps.mkdir()
    contribution = np.zeros((16, 16))
    contribution[6:10, 6:10] = 1.0
    np.save(maps / "vgg11-stack-r8-px16-untrained.npy", contribution)
    erf = pd.DataFrame(
        [
            {
                "arch": "vgg11",
                "variant": "stack",
                "ratio": 8,
                "resolution": 16,
                "trained": False,
                "centre_px": 7.5,
                "erf_side_t50": 4,
                "erf_side_t99": 4,
            },
            # measured, but its map was not saved: a panel that says so, not a crash
            {
                "arch": "vgg11",
                "variant": "single",
                "ratio": 8,
                "resolution": 16,
                "trained": False,
                "centre_px": 7.5,
                "erf_side_t50": 6,
                "erf_side_t99": 8,
            },
        ]
    )
    (declared,) = KINDS["erf"].figures()  # drawn as the report draws it: the maps found as the kind names them
    figure = declared.draw(Sources({"erf": erf}, {"variants": ["stack", "single"]}, lambda name: tmp_path / name))
    stack, single, *trained = figure.axes
    squares = [(patch.get_xy(), patch.get_width()) for patch in stack.patches]
    assert squares == [((5.5, 5.5), 4), ((5.5, 5.5), 4)]  # pixels 6..9 span 5.5..9.5
    assert not single.axison and not single.images and not any(axes.images for axes in trained)
    said = [" ".join(axes.texts[0].get_text().split()) for axes in (single, trained[0])]  # unwrapped
    assert said == ["No map: single, untrained: its map was not saved.", "No map: stack, trained: not measured."]
    assert declared.draw(Sources({"erf": erf.iloc[0:0]}, {"variants": ["stack"]}, lambda name: tmp_path / name)) is None


def _embedded(source: str) -> Image.Image:
    """The image a data: address holds (PNG or JPEG)."""
    head, encoded = source.split(",", 1)
    assert head in ("data:image/png;base64", "data:image/jpeg;base64"), head
    return Image.open(io.BytesIO(base64.b64decode(encoded)))


def test_the_page_embeds_every_figure_and_needs_nothing_from_outside(finished_run):
    page = (finished_run.root / "report.html").read_text()
    tags = _elements(page)
    images = [(attributes["alt"], attributes["src"]) for tag, attributes in tags if tag == "img"]
    assert [name for name, _ in images] == DRAWN
    for name, source in images:
        # A compact copy (256 colours, or a JPEG where smaller) with the pixels of the full PNG kept in figures/.
        with Image.open(finished_run.root / "figures" / f"{name}.png") as full, _embedded(source) as shown:
            assert shown.size == full.size, name
            assert len(source) < 4 / 3 * (finished_run.root / "figures" / f"{name}.png").stat().st_size + 100, name
    links = [value for _, attributes in tags for key, value in attributes.items() if key in ("src", "href")]
    assert all(link.startswith("data:") for link in links)
    claims = pd.read_csv(finished_run.root / "claim.csv")
    for verdict in claims["verdict"].dropna().unique():  # rows without a verdict (sensitivity) have no cell style
        assert f'<td class="{html_page.VERDICT_STYLES[verdict]}">{verdict}</td>' in page
    commit = pd.read_json(finished_run.root / "metadata.json", typ="series")["git_commit"]
    assert str(commit) in page and "fewer parameters" in page and "test_acc_mean" in page
    # vgg11 at 32 px: the single 5x5 overhangs the 4 and 2 px maps of blocks 4 and 5, said above the table and in it
    # (the cell's first flag; others follow it, the padding shares and whatever the tiny training left).
    flag = "single's 5x5 kernel is wider than the map in blocks 4, 5 (4 and 2 px); "
    shown = html.unescape(page)
    assert "Flagged comparisons (the validity column):</p>" in shown  # then one list item per comparison
    assert f'<ul id="flags"><li>vgg11 r64 at 32 px, stack against single: {flag}' in shown
    assert "<dt>validity</dt>" in page and f"<dd>{flag}" in shown  # behind each row's details


def test_the_page_of_a_run_weighs_under_a_megabyte(finished_run):
    page = finished_run.root / "report.html"
    figures = sum((finished_run.root / "figures" / f"{name}.png").stat().st_size for name in DRAWN)
    # The embedded copies are smaller than the full PNGs would be as base64 (4/3 of their bytes).
    assert page.stat().st_size < 1_000_000 and page.stat().st_size < 4 / 3 * figures


def _claim_rows() -> pd.DataFrame:
    """A claim table by hand: parameters (3 models), accuracy (6 conditions, 2 contradicted) with a sensitivity
    row, speed in two modes, density (no model), the receptive field (no verdict) and an earlier budget."""
    model = {"ratio": 8, "resolution": 32, "variant": "stack", "baseline": "single", "analysis": "primary"}
    rows = [
        {"claim": "fewer parameters", "arch": arch, "batch_norm": False, "verdict": "supported", "unit": "params"}
        for arch in ("vgg11", "vgg13", "vgg16")
    ]
    for normed in (False, True):
        for arch in ("vgg11", "vgg13", "vgg16"):
            verdict = "contradicted" if not normed and arch != "vgg16" else "inconclusive"
            rows.append({"claim": "higher accuracy", "arch": arch, "batch_norm": normed, "verdict": verdict})
    rows.append(
        {"claim": "higher accuracy", "arch": "vgg16", "batch_norm": False, "analysis": "all runs (sensitivity)"}
    )
    rows += [
        {"claim": "faster", "arch": "vgg11", "batch_norm": False, "device": "cpu", "mode": mode, "verdict": verdict}
        for mode, verdict in (("infer", "supported"), ("train", "contradicted"))
    ]
    rows.append(
        {"claim": "3x3 is the densest", "device": "cpu", "mode": "32 channels, 14 px", "variant": "3x3",
         "baseline": "7x7", "verdict": "not reproduced on this device", "ratio": math.nan, "resolution": math.nan}
    )  # fmt: skip
    rows.append({"claim": "same receptive field", "arch": "vgg11", "batch_norm": False, "variant": "all"})
    rows.append(
        {"claim": "higher accuracy at an earlier budget", "arch": "vgg11", "batch_norm": False, "epoch": 1,
         "optimizer_steps": 100, "verdict": "supported"}
    )  # fmt: skip
    return pd.DataFrame([{**model, **row} for row in rows]).reindex(columns=claim.COLUMNS)


class _Grid(HTMLParser):
    """The verdict grid's rows: each a list of cells, a cell a list of (class, text) of its parts."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[list[tuple[str, str]]]] = []
        self.inside = False
        self.style = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.inside = attrs.get("id") == "verdict-grid"
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("th", "td"):
            self.rows[-1].append([])
            self.style = attrs.get("class") or ""
        elif self.inside and tag == "div":
            self.style = attrs.get("class") or ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.inside and self.rows and self.rows[-1]:
            self.rows[-1][-1].append((self.style, data))


def test_the_headline_says_each_parts_verdicts_from_the_primary_rows():
    sentences = [html.unescape(re.sub("<[^>]+>", "", sentence)) for sentence in html_page.headline(_claim_rows())]
    assert sentences == [
        "Fewer parameters (the 3x3 stack has fewer parameters than the large kernel): supported in all 3 comparisons.",
        "Higher accuracy (the stack is more accurate than each large-kernel rival): contradicted in 2 of 6 "
        "comparisons (vgg11 r8, vgg13 r8), inconclusive in 4.",
        "Faster (the stack's steps take less time than the rival's): supported in 1 of 2 comparisons (vgg11 r8 cpu "
        "infer), contradicted in 1 (vgg11 r8 cpu train).",
        "3x3 is the densest (3x3 convolutions do more work per second than larger kernels): not reproduced on this "
        "device in the one comparison.",
        "No verdict, numbers only: same receptive field (1 row).",
        "At earlier budgets (their own Holm family, in the figure and tables below): supported 1.",
    ]
    assert html_page.headline(_claim_rows().iloc[0:0]) == []


def test_the_verdict_grid_colours_each_comparison_by_part_and_model():
    parser = _Grid()
    parser.feed(html_page.verdict_grid(_claim_rows()))
    header, *rows = parser.rows
    models = ["vgg11 r8", "vgg13 r8", "vgg16 r8", "vgg11 r8 bn", "vgg13 r8 bn", "vgg16 r8 bn", "kernels alone"]
    assert [text for ((_, text),) in header] == ["part of the claim", *models]
    grid = {cells[0][0][1]: dict(zip(models, cells[1:], strict=True)) for cells in rows}
    # Primary rows with a verdict only: no sensitivity row, no receptive field (no verdict), no earlier budget.
    assert list(grid) == ["fewer parameters", "higher accuracy", "faster", "3x3 is the densest"]
    assert grid["fewer parameters"]["vgg13 r8"] == [("supported", "supported")]
    assert grid["fewer parameters"]["vgg13 r8 bn"] == []
    assert grid["higher accuracy"]["vgg11 r8"] == [("contradicted", "contradicted")]
    assert grid["higher accuracy"]["vgg16 r8 bn"] == [("inconclusive", "inconclusive")]
    assert grid["faster"]["vgg11 r8"] == [
        ("supported", "cpu infer: supported"),
        ("contradicted", "cpu train: contradicted"),
    ]
    assert grid["3x3 is the densest"]["kernels alone"] == [
        ("not-reproduced", "cpu 32 channels, 14 px vs 7x7: not reproduced")
    ]
    # A cell of one verdict takes its colour whole, however tall the row's wrapped label makes it.
    page = html_page.verdict_grid(_claim_rows())
    assert '<td class="supported"><div class="supported"' in page and '<td><div class="supported"' in page
    # Two rivals for one part: each row names its rival, kept on one line ("single-fits" never split at its hyphen).
    claims = _claim_rows()
    fits = claims[claims["claim"] == "higher accuracy"].assign(baseline="single-fits")
    two = html_page.verdict_grid(pd.concat([claims, fits], ignore_index=True))
    assert 'higher accuracy <span class="whole">vs single-fits</span></th>' in two
    assert 'higher accuracy <span class="whole">vs single</span></th>' in two


def test_a_resumed_runs_page_says_when_it_ran_over_its_sittings():
    sittings = [
        {"started": "2026-11-30T15:08:00+00:00", "ended": None, "git_commit": "0671c66aaaa"},
        {"started": "2026-11-30T17:54:14+00:00", "ended": "2026-11-30T18:06:25+00:00", "git_commit": "fffcb39bbbb"},
    ]
    metadata = {"started": sittings[1]["started"], "ended": sittings[1]["ended"], "sittings": sittings}
    assert html_page._run_span(metadata) == (
        "Run from 2026-11-30 15:08:00 UTC to 2026-11-30 18:06:25 UTC in 2 sittings (commits 0671c66, fffcb39), "
        "12 min of running in the 1 of them that recorded their start and end; sitting 1 recorded no end (interrupted)"
    )
    assert html_page._run_span({**metadata, "sittings": sittings[1:]}) == (
        "Run from 2026-11-30 17:54:14 UTC to 2026-11-30 18:06:25 UTC, 12 min of running"
    )
    # Older code kept only the latest sitting's times; a record reconstructed later says what is known instead.
    said = "start and end not recorded (2 h 49 min over both sittings)"
    unrecorded = [{**sittings[0], "started": None, "reconstructed": said}, sittings[1]]
    assert html_page._run_span({**metadata, "sittings": unrecorded}) == (
        "Run from a start not recorded to 2026-11-30 18:06:25 UTC in 2 sittings (commits 0671c66, fffcb39), 12 min "
        "of running in the 1 of them that recorded their start and end; sitting 1 recorded no start or end (see below)"
    )
    assert html_page._reconstructed({"sittings": unrecorded}) == f" Sitting 1's record, completed later: {said}."
    assert html_page._reconstructed(metadata) == ""
    # Sittings that lack the same record are named together.
    interrupted = [{**sittings[0], "started": f"2026-11-30T1{hour}:00:00+00:00"} for hour in (0, 1, 2)]
    assert html_page._run_span({"sittings": [*interrupted, sittings[1]]}).endswith(
        "; sittings 1, 2 and 3 recorded no end (interrupted)"
    )
    assert html_page._run_span({"started": sittings[1]["started"], "ended": None}) == (
        "Run from 2026-11-30 17:54:14 UTC, with no end recorded (interrupted, or still running)"
    )


@pytest.mark.slow
def test_the_run_line_of_a_run_resumed_in_two_sittings_spans_both(tmp_path, synthetic_root, monkeypatch):
    # Each sitting takes the times its clock gives: 10:00 to 10:05, then, resumed with a seed added, 12:00 to 12:30.
    clock = iter(["2026-12-01T10:00:00+00:00", "2026-12-01T10:05:00+00:00"])
    monkeypatch.setattr(study, "now", lambda: next(clock))
    config = {**TINY_STUDY, "kinds": ["static", "train"], "seeds": [0]}
    study.run(load_config(**config), tmp_path / "run", data_root=str(synthetic_root), report=lambda line: None)
    clock = iter(["2026-12-01T12:00:00+00:00", "2026-12-01T12:30:00+00:00"])
    study.run(
        load_config(**{**config, "seeds": [0, 1]}),
        tmp_path / "run",
        data_root=str(synthetic_root),
        report=lambda line: None,
    )
    metadata = json.loads((tmp_path / "run" / "metadata.json").read_text())
    assert [sitting["started"][11:16] for sitting in metadata["sittings"]] == ["10:00", "12:00"]
    assert metadata["started"] == "2026-12-01T12:00:00+00:00"  # the latest sitting's, as metadata.json keeps it
    report.write(tmp_path / "run")
    text = (tmp_path / "run" / "report.html").read_text()
    assert "Run from 2026-12-01 10:00:00 UTC to 2026-12-01 12:30:00 UTC in 2 sittings (commits " in text
    assert "35 min of running in all" in text  # 5 min and 30 min, not the 2 h 30 min between them
    assert '<td class="text">started (last sitting)</td>' in text


def test_a_run_without_accuracy_or_erf_still_gets_a_page_that_says_so(tmp_path, finished_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(
        finished_run.root, run, ignore=shutil.ignore_patterns("erf_maps", "erf.csv", "claim.*", "figures", "*.html")
    )
    summary = pd.read_csv(run / "summary.csv")
    summary.drop(columns=["test_acc_mean", "test_acc_std"]).to_csv(run / "summary.csv", index=False)
    assert main(["report", str(run)]) == 0
    assert f"report: {run / 'report.html'}" in capsys.readouterr().out
    page = (run / "report.html").read_text()
    # Not drawn: the forest (no claim table), accuracy against MACs and the effective field (no data), the two
    # figures over the budget (one epoch: no earlier budget) and the learning rates' (no recipe search).
    undrawn = {"forest", "accuracy_vs_macs", "erf_maps", "lr_sensitivity", *ONE_EPOCH}
    drawn = [name for name in FIGURES if name not in undrawn]
    assert page.count("<img ") == len(drawn) and page.count("Not drawn: the run has no data for it.") == len(undrawn)
    assert sorted(path.name for path in (run / "figures").iterdir()) == sorted(
        f"{name}.{suffix}" for name in drawn for suffix in ("png", "svg")
    )
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "has no summary.csv or metadata.json" in capsys.readouterr().err


def _epochs(accuracies: dict[str, list[list[float]]]) -> pd.DataFrame:
    """train.csv of hand-made runs: per variant, its accuracies epoch by epoch (a list per epoch, a value per
    seed); 100 optimizer steps an epoch."""
    rows = [
        {"arch": "vgg11", "variant": variant, "ratio": 8, "resolution": 32, "batch_norm": False, "seed": seed,
         "epoch": epoch, "optimizer_steps": 100 * epoch, "test_acc": accuracy, "train_loss": 0.4}
        for variant, epochs in accuracies.items()
        for epoch, seeds in enumerate(epochs, start=1)
        for seed, accuracy in enumerate(seeds)
    ]  # fmt: skip
    return pd.DataFrame(rows)


CURVES = {"stack": [[0.60, 0.62, 0.61], [0.80, 0.82, 0.83]], "single": [[0.70, 0.72, 0.71], [0.75, 0.74, 0.76]]}


def test_the_budget_figures_are_drawn_for_runs_of_several_epochs_only(tmp_path):
    for name, accuracies in (("several", CURVES), ("one", {variant: runs[-1:] for variant, runs in CURVES.items()})):
        run = tmp_path / name
        run.mkdir()
        train = _epochs(accuracies)
        train.to_csv(run / "train.csv", index=False)
        claim.claim_table({"train": train}).to_csv(run / "claim.csv", index=False)
        drawn = {figure.name: figure.png for figure in report.draw(RunDir(run, KINDS))}
        for figure in ("accuracy_budgets", "learning_curves"):
            assert (drawn[figure] is not None) is (name == "several"), (name, figure)
            assert (run / "figures" / f"{figure}.svg").is_file() is (name == "several")


def test_the_budget_figure_shows_each_budgets_difference_interval_and_the_margin():
    claims = claim.claim_table({"train": _epochs(CURVES)}, Rules(equivalence_margin=0.02))
    axes = run_figures.accuracy_budgets(claims).axes[0]
    (line,) = [line for line in axes.lines if line.get_label() == "stack - rival"]
    rows = claims[claims["claim"].str.startswith("higher accuracy") & (claims["analysis"] == "primary")]
    rows = rows.sort_values("optimizer_steps")
    assert list(line.get_xdata()) == [100, 200]
    # In claim.csv's unit, as the tables beside the figure: -0.10 after one epoch, +0.0667 after two.
    assert np.allclose(line.get_ydata(), rows["difference"]) and np.allclose(line.get_ydata(), [-0.1, 0.2 / 3])
    (band,) = [patch for patch in axes.collections if patch.get_label() == "95% interval"]
    low, high = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert (low, high) == pytest.approx((rows["ci_low"].min(), rows["ci_high"].max()))
    (margin,) = [patch for patch in axes.patches if "equivalent" in patch.get_label()]
    assert margin.get_y() == pytest.approx(-0.02) and margin.get_height() == pytest.approx(0.04)
    assert axes.figure.get_supylabel() == "test accuracy, stack - rival\n(0 to 1)"  # broken so that it is not clipped


def test_learning_curves_show_each_variants_mean_with_its_t_interval():
    axes = train_figures.learning_curves(_epochs(CURVES)).axes[0]
    (stack,) = [line for line in axes.lines if line.get_label() == "stack"]
    assert list(stack.get_xdata()) == [100, 200] and np.allclose(stack.get_ydata(), [0.61, 0.81666667])
    band = axes.collections[0].get_paths()[0].vertices[:, 1]  # the stack's, drawn first
    first, last = (scipy_stats.t.interval(0.95, 2, np.mean(runs), scipy_stats.sem(runs)) for runs in CURVES["stack"])
    assert (band.min(), band.max()) == pytest.approx((first[0], last[1]))


def test_a_run_of_two_budgets_names_each_budget_in_titles_labels_and_the_summary():
    # epochs = [2, 4]: each model trains a 2-epoch and a 4-epoch schedule, groups of their own.
    budgets = pd.concat([_epochs(CURVES).assign(schedule_epochs=epochs) for epochs in (2, 4)], ignore_index=True)
    budgets = budgets.assign(train_img_per_s=100.0)
    titles = [axes.get_title() for axes in train_figures.learning_curves(budgets).axes]
    assert titles == ["vgg11 r8 2 ep", "vgg11 r8 4 ep"]  # one panel per budget, told apart
    assert [axes.get_title() for axes in train_figures.learning_curves(_epochs(CURVES)).axes] == ["vgg11 r8"]
    summary = training_rules.summarize(budgets)
    assert terminal.summary_text(summary).splitlines()[0].split()[:3] == ["arch", "variant", "ratio"]
    assert "schedule_epochs" in terminal.summary_text(summary).splitlines()[0].split()
    one_budget = training_rules.summarize(_epochs(CURVES).assign(train_img_per_s=100.0, schedule_epochs=2))
    assert "schedule_epochs" not in terminal.summary_text(one_budget)
    # accuracy_vs_macs joins the variants of one model at one budget, and names it so.
    counted = summary.assign(macs=summary["variant"].map({"stack": 2e6, "single": 3e6}))
    labels = [text.get_text() for text in run_figures.accuracy_vs_macs(counted).axes[0].texts]
    assert sorted(labels) == ["vgg11 r8 2 ep", "vgg11 r8 4 ep"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Without the networking flags Chromium tries to reach Google at start, which these machines refuse.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--virtual-time-budget=10000",
]
# Added to a copy of the page: once it has loaded, it records how many images decoded, the headline's sentences, how
# many verdict columns lie within the window's width, the figures by id, whether the page scrolls sideways and
# whether the configuration is collapsed.
PROBE = """<script>
window.addEventListener("load", () => {
  const decoded = [...document.images].filter((image) => image.complete && image.naturalWidth > 0);
  const data = document.body.dataset;
  data.probe = `${decoded.length} of ${document.images.length} images decoded`;
  data.headline = `${document.querySelectorAll("#headline li").length} sentences`;
  const verdicts = [...document.querySelectorAll("th")].filter((cell) => cell.textContent === "verdict");
  const inView = verdicts.filter((cell) => {
    const box = cell.getBoundingClientRect();
    return box.left >= 0 && box.right <= window.innerWidth;
  });
  data.verdicts = `${inView.length} of ${verdicts.length} verdict columns within ${window.innerWidth} px`;
  data.figures = [...document.querySelectorAll("figure")].map((figure) => figure.id).join(" ");
  data.sideways = `${document.documentElement.scrollWidth > window.innerWidth}`;
  data.configuration = document.querySelector("#configuration").open ? "open" : "collapsed";
});
</script></body>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (Debian's package chromium, which .ci/run installs)")
def test_the_page_opens_in_a_headless_browser_with_every_image_decoded(tmp_path, finished_run):
    page = (finished_run.root / "report.html").read_text()
    probed = tmp_path / "report.html"  # alone in its folder: nothing beside it to load
    probed.write_text(page.replace("</body>", PROBE))
    result = subprocess.run(
        [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            "--window-size=1280,900",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            probed.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'data-probe="{len(DRAWN)} of {len(DRAWN)} images decoded"' in result.stdout
    assert "<h1>vggbench: run on" in result.stdout
    claims = pd.read_csv(finished_run.root / "claim.csv")
    primary = claims[claims["analysis"] == "primary"]
    parts = primary.dropna(subset=["verdict"])["claim"].nunique()
    silent = primary.groupby("claim")["verdict"].count().eq(0).any()  # same receptive field: no verdict
    assert f'data-headline="{parts + silent} sentences"' in result.stdout  # one per part, one for those without
    shown = re.search(r'data-verdicts="(\d+) of (\d+) verdict columns within 1280 px"', result.stdout)
    assert shown is not None and shown[1] == shown[2] and int(shown[2]) >= parts  # a claim table per part
    assert f'data-figures="{" ".join(DRAWN)}"' in result.stdout
    assert 'data-sideways="false"' in result.stdout and 'data-configuration="collapsed"' in result.stdout

"""The report's self-contained HTML page: its markup and style, from a run's tables, metadata and drawn figures.

The page embeds a compact copy of each figure's PNG (`embedded`), so that it opens offline and can be mailed as one
file; a figure whose data the run does not have is listed, and the page says so. It opens with the answers: a
sentence per part of the claim (`headline`) and the verdicts by part and model, coloured (`verdict_grid`); its tables
fit a 1280 px window, the verdict first and the rest of each row behind its details.
"""

from __future__ import annotations

import base64
import html
import json
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from vggbench.measure import noise
from vggbench.models.schema import STANDS_FOR
from vggbench.reporting import recipes, terminal
from vggbench.reporting.claim import EARLIER_BUDGETS, at_earlier_budget, history_sentence, sequential_rows
from vggbench.verdicts import flags, vocabulary
from vggbench.verdicts.vocabulary import EARLIER, PRIMARY, STACK

# The tables the page shows, besides the figures: the run's per-model summary, its claim, its failed trials and the
# timed tables whose trust it weighs.
TABLES = ("summary", "claim", "failures", *noise.TIMED_TABLES)


@dataclass(frozen=True)
class Drawn:
    """A figure as the page shows it: its name, title and caption, and its PNG where it was drawn."""

    name: str
    title: str
    caption: str
    png: Path | None  # None: the run has no data for this figure


PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; font-size: 0.8em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; vertical-align: top; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
td { max-width: 32em; overflow-wrap: anywhere; }
.supported { background: #d9f2d9; } .contradicted { background: #f8d7d7; } .inconclusive { background: #f3f3d0; }
.equivalent { background: #d9e6f7; } .not-reproduced { background: #eeeeee; }
ul.headline { font-size: 1.05em; line-height: 1.5; padding-left: 1.2em; }
ul.headline .claimed { color: #555; font-size: 0.9em; }
table.grid td { text-align: center; padding: 0; }
table.grid td > div { padding: 0.15em 0.5em; }
table.grid td, table.grid th { overflow-wrap: normal; } .whole { white-space: nowrap; }
table.grid td > div + div { border-top: 1px solid #fff; }
table.grid th { text-align: center; } table.grid th.part, table.grid th.text { text-align: left; }
table.grid th.part { font-weight: normal; }
span.chip { padding: 0.1em 0.5em; margin-right: 0.4em; white-space: nowrap; }
details > summary { cursor: pointer; color: #35a; white-space: nowrap; }
details dl { text-align: left; margin: 0.3em 0; max-width: 36em; white-space: normal; }
details dt { font-weight: 600; } details dd { margin: 0 0 0.3em 1em; }
figure { margin: 2em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
div.wide { overflow-x: auto; }
pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
"""


# Each verdict word (vocabulary.vocabulary) and the class that colours its cell; the order the page counts them in.
VERDICT_STYLES = {word: word for word in ("supported", "equivalent", "contradicted", "inconclusive")}
VERDICT_STYLES["not reproduced on this device"] = "not-reproduced"
SHORT_VERDICTS = {"not reproduced on this device": "not reproduced"}
# What each part of the claim says, for the headline.
CLAIMED = {
    "fewer parameters": "the 3x3 stack has fewer parameters than the large kernel",
    "fewer MACs": "the stack takes fewer multiply-adds per image",
    "same effective receptive field": "the stack's effective field is as large as the rival's, within the margin",
    "higher accuracy": "the stack is more accurate than each large-kernel rival",
    "more non-linearity helps": "the stack is more accurate than the same stack without its inner ReLUs",
    "trains reliably": "the stack fails no more often than the rival",
    "faster": "the stack's steps take less time than the rival's",
    "3x3 is the densest": "3x3 convolutions do more work per second than larger kernels",
}
LISTED = 3  # a verdict given to this many comparisons or fewer names them in the headline


def _html_table(table: pd.DataFrame) -> str:
    text = table.to_html(index=False, na_rep="", float_format=lambda value: f"{value:.4g}", border=0)
    for verdict, style in VERDICT_STYLES.items():
        text = text.replace(f"<td>{verdict}</td>", f'<td class="{style}">{verdict}</td>')
    return text


def _cell(value, numeric: bool | None = None, style: str = "") -> str:
    """One <td>: numbers in human units (terminal.human) aligned right, text aligned left."""
    numeric = isinstance(value, numbers.Real) and not isinstance(value, bool) if numeric is None else numeric
    shown = terminal.human(value) if isinstance(value, numbers.Real) else ("" if value is None else str(value))
    classes = " ".join(filter(None, [style, "" if numeric else "text"]))
    return f'<td class="{classes}">{html.escape(shown)}</td>' if classes else f"<td>{html.escape(shown)}</td>"


def _rows_table(header: list[str], rows: list[list[str]], numeric_headers=()) -> str:
    """A table from cells already made (each a <td>), with its header (aligned as its cells)."""
    head = "".join(
        f"<th>{html.escape(name)}</th>" if name in numeric_headers else f'<th class="text">{html.escape(name)}</th>'
        for name in header
    )
    body = "".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _primary(claims: pd.DataFrame) -> pd.DataFrame:
    """The rows the verdicts count: primary, not at an earlier budget."""
    if claims.empty or "analysis" not in claims:
        return claims
    return claims[(claims["analysis"] == PRIMARY) & ~at_earlier_budget(claims)]


def _several(claims: pd.DataFrame, column: str) -> bool:
    return column in claims and claims[column].nunique() > 1


def _model(row, several_resolutions: bool) -> str:
    """'vgg11 r8' (with the resolution where the run has several, and bn); '' for a row of no model."""
    if terminal.is_missing(row.get("arch")):
        return ""
    label = f"{row['arch']} r{row['ratio']:g}"
    if several_resolutions and not terminal.is_missing(row.get("resolution")):
        label += f" {row['resolution']:g}px"
    normed = row.get("batch_norm")
    return label + (" bn" if not terminal.is_missing(normed) and bool(normed) else "")


def _where(row) -> str:
    """Where a row was measured: device and mode ('cpu infer', 'untrained', 'cpu 32 channels, 14 px'), and what
    else it stands for ('untrained, with and without batch norm')."""
    where = " ".join(str(row[key]) for key in ("device", "mode") if not terminal.is_missing(row.get(key)))
    stands_for = row.get(STANDS_FOR)
    return where + ("" if terminal.is_missing(stands_for) else f", {stands_for}")


def _condition(row, several_resolutions: bool) -> str:
    budget = ""
    if str(row.get("claim", "")).endswith(EARLIER) and not terminal.is_missing(row.get("epoch")):
        steps = row.get("optimizer_steps")
        budget = f"epoch {row['epoch']:g}" + ("" if terminal.is_missing(steps) else f" ({steps:,.0f} steps)")
    return " ".join(filter(None, [_model(row, several_resolutions), _where(row), budget]))


def _verdict_phrase(counts: list[tuple[str, list[str]]], total: int) -> str:
    """'supported in all 3 comparisons', or 'contradicted in 2 of 6 comparisons (vgg11 r8, vgg13 r8),
    inconclusive in 4'."""
    noun = "comparison" if total == 1 else "comparisons"
    if len(counts) == 1:
        verdict = counts[0][0]
        return f"{verdict} in the one comparison" if total == 1 else f"{verdict} in all {total} {noun}"
    parts = []
    for index, (verdict, where) in enumerate(counts):
        named = f" ({', '.join(where)})" if len(where) <= LISTED else ""
        of = f" of {total} {noun}" if index == 0 else ""
        parts.append(f"{verdict} in {len(where)}{of}{named}")
    return ", ".join(parts)


def headline(claims: pd.DataFrame) -> list[str]:
    """One sentence per part of the claim that has verdicts, from its primary rows (HTML): the part, what it
    claims, and its verdicts counted, the comparisons of the rarer verdicts named; then the parts without a
    verdict, and the accuracy at earlier budgets (their own family)."""
    primary = _primary(claims)
    if primary.empty:
        return []
    several = _several(claims, "resolution")
    sentences = []
    silent = []
    for claim, rows in primary.groupby("claim", sort=False):
        judged = rows.dropna(subset=["verdict"])
        if judged.empty:
            silent.append(f"{claim} ({len(rows)} row{'s' if len(rows) > 1 else ''})")
            continue
        several_rivals = judged["baseline"].nunique() > 1
        where = {}
        for _, row in judged.iterrows():
            label = _condition(row, several) or "this run"
            label += f" vs {row['baseline']}" if several_rivals else ""
            where.setdefault(row["verdict"], []).append(label)
        order = [verdict for verdict in VERDICT_STYLES if verdict in where]
        order += [verdict for verdict in where if verdict not in VERDICT_STYLES]
        counts = [(verdict, where[verdict]) for verdict in order]  # decided first: supported, ..., inconclusive
        claimed = CLAIMED.get(claim)
        sentences.append(
            f"<strong>{html.escape(claim[0].upper() + claim[1:])}</strong>"
            + (f' <span class="claimed">({html.escape(claimed)})</span>' if claimed else "")
            + f": {html.escape(_verdict_phrase(counts, len(judged)))}."
        )
    if silent:
        sentences.append(f"No verdict, numbers only: {html.escape(', '.join(silent))}.")
    earlier = claims[at_earlier_budget(claims) & (claims["analysis"] == PRIMARY)].dropna(subset=["verdict"])
    if not earlier.empty:
        counts = earlier["verdict"].value_counts()
        said = ", ".join(f"{verdict} {count}" for verdict, count in counts.items())
        sentences.append(
            f"At earlier budgets (their own Holm family, in the figure and tables below): {html.escape(said)}."
        )
    return sentences


def _grid_key(row, several_resolutions: bool, several_rivals: bool) -> tuple[str, str, str]:
    """Where a verdict goes in the summary grid: its row (the part, with the rival where a part has several),
    its column (the model, or 'kernels alone' for a row of no model) and its label inside the cell."""
    model = _model(row, several_resolutions)
    part = row["claim"] + (f" vs {row['baseline']}" if model and several_rivals else "")
    inside = _where(row) + ("" if model else f" vs {row['baseline']}")
    return part, model or "kernels alone", inside.strip()


def verdict_grid(claims: pd.DataFrame) -> str:
    """Parts of the claim (rows) by models (columns), each cell coloured by its verdict; a cell holds one
    verdict per device and mode where the part is measured in several. Primary rows with a verdict only."""
    primary = _primary(claims)
    judged = primary.dropna(subset=["verdict"]) if not primary.empty else primary
    if judged.empty:
        return ""
    several = _several(claims, "resolution")
    rivals = judged.groupby("claim")["baseline"].nunique()
    cells: dict[tuple[str, str], list[tuple[str, str]]] = {}
    parts, models = [], []
    for _, row in judged.iterrows():
        part, model, inside = _grid_key(row, several, rivals[row["claim"]] > 1)
        parts += [part] if part not in parts else []
        models += [model] if model not in models else []
        cells.setdefault((part, model), []).append((inside, row["verdict"]))
    head = '<th class="text">part of the claim</th>' + "".join(f"<th>{html.escape(model)}</th>" for model in models)
    body = []
    for part in parts:
        claimed, _, rival = part.partition(" vs ")  # the rival's name kept on one line: "single-fits" whole
        named = html.escape(claimed) + (f' <span class="whole">vs {html.escape(rival)}</span>' if rival else "")
        row = [f'<th class="part">{named}</th>']
        for model in models:
            entries = cells.get((part, model), [])
            inner = "".join(
                f'<div class="{VERDICT_STYLES.get(verdict, "")}" title="{html.escape(verdict)}">'
                f"{html.escape((f'{inside}: ' if inside else '') + SHORT_VERDICTS.get(verdict, verdict))}</div>"
                for inside, verdict in entries
            )
            single = VERDICT_STYLES.get(entries[0][1], "") if len(entries) == 1 else ""
            row.append(f'<td class="{single}">{inner}</td>' if single else f"<td>{inner}</td>")  # a row's full height
        body.append(f"<tr>{''.join(row)}</tr>")
    legend = " ".join(
        f'<span class="chip {style}">{html.escape(word)}</span>' for word, style in VERDICT_STYLES.items()
    )
    return (
        f'<div class="wide"><table class="grid" id="verdict-grid"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div><p>{legend}</p>"
    )


def _sittings(metadata: dict) -> list[dict]:
    """The run's sittings as metadata.json records them (vggbench.engine.study), oldest first; a run of older code,
    which kept only its latest sitting's times, as that one sitting."""
    sittings = [sitting for sitting in metadata.get("sittings") or [] if isinstance(sitting, dict)]
    return sittings or [{key: metadata.get(key) for key in ("started", "ended", "git_commit")}]


def _moment(stamp) -> datetime | None:
    """A time metadata.json records (ISO 8601, with its offset from UTC), or None where it holds none or none
    readable."""
    try:
        moment = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None
    return moment if moment is not None and moment.utcoffset() is not None else None


def _at(stamp) -> str:
    """A recorded time as the page says it: '2026-11-30 17:54:14 UTC' (the text as recorded where it is no time)."""
    moment = _moment(stamp)
    return str(stamp) if moment is None else moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    """'2 h 49 min', '12 min', '40 s'."""
    minutes = round(seconds / 60)
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{minutes // 60} h {minutes % 60} min" if minutes >= 60 else f"{minutes} min"


def _run_span(metadata: dict) -> str:
    """When the run ran, over every sitting: its first sitting's start, its last sitting's end and how many
    sittings (with their commits), and how long they ran in all; a sitting that recorded no start or end is named
    (`_reconstructed` says what its record says instead, where it was completed later)."""
    sittings = _sittings(metadata)
    first, last = sittings[0].get("started"), sittings[-1].get("ended")
    line = f"Run from {_at(first) if first else 'a start not recorded'}"
    line += f" to {_at(last)}" if last else ", with no end recorded (interrupted, or still running)"
    if len(sittings) > 1:
        commits = dict.fromkeys(str(sitting.get("git_commit"))[:7] for sitting in sittings)
        line += f" in {len(sittings)} sittings (commits {', '.join(commits)})"
    spans = [(_moment(sitting.get("started")), _moment(sitting.get("ended"))) for sitting in sittings]
    timed = [(end - start).total_seconds() for start, end in spans if start and end]
    untimed: dict[str, list[int]] = {}  # what a sitting lacks, and why: the sittings that lack it so
    for number, (sitting, (start, end)) in enumerate(zip(sittings, spans, strict=True), start=1):
        missing = [word for word, moment in (("start", start), ("end", end)) if moment is None]
        if not missing or (number == len(sittings) and missing == ["end"]):  # the last's: said above
            continue
        said = isinstance(sitting.get("reconstructed"), str)
        why = " (see below)" if said else " (interrupted)" if missing == ["end"] else ""
        untimed.setdefault(f"recorded no {' or '.join(missing)}{why}", []).append(number)
    if timed:
        whole = len(timed) == len(sittings)
        line += f", {_duration(sum(timed))} of running" + (" in all" if whole and len(sittings) > 1 else "")
        line += "" if whole else f" in the {len(timed)} of them that recorded their start and end"
    return line + "".join(f"; {_sittings_named(numbers)} {words}" for words, numbers in untimed.items())


def _sittings_named(numbers: list[int]) -> str:
    """'sitting 2', 'sittings 1 and 2', 'sittings 1, 2 and 3'."""
    if len(numbers) == 1:
        return f"sitting {numbers[0]}"
    return f"sittings {', '.join(map(str, numbers[:-1]))} and {numbers[-1]}"


def _reconstructed(metadata: dict) -> str:
    """What the records of sittings that ran before their times were kept say instead, completed later: one
    sentence each ('' where there are none)."""
    return "".join(
        f" Sitting {number}'s record, completed later: {sitting['reconstructed']}."
        for number, sitting in enumerate(_sittings(metadata), start=1)
        if isinstance(sitting.get("reconstructed"), str)
    )


def _history(metadata: dict) -> list[str]:
    """Where the design or the family of the accuracy comparisons changed between sittings, as claim.md says it."""
    sentence = history_sentence(metadata)
    return [f"<p>{html.escape(sentence)}</p>"] if sentence else []


def _glance_section(claims: pd.DataFrame) -> list[str]:
    if claims.empty:
        return ["<h2>The claim at a glance</h2>", "<p>No claim table: run `vggbench claim RUN_DIR` first.</p>"]
    sentences = headline(claims)
    return [
        "<h2>The claim at a glance</h2>",
        '<ul class="headline" id="headline">',
        *(f"<li>{sentence}</li>" for sentence in sentences),
        "</ul>",
        "<p>Each primary comparison's verdict, by part and model (sensitivity rows and earlier budgets are in the "
        "tables below; a cell's colour is its verdict):</p>",
        verdict_grid(claims),
        *_flag_list(claims),
    ]


def _flag_list(claims: pd.DataFrame) -> list[str]:
    """The flagged comparisons, a list item each, and what the flags mean (nothing for a claim table made before
    `validity`)."""
    found = flags.flagged(claims)
    if found is None:
        return []
    if not found:
        return [f"<p>{html.escape(flags.NONE_FLAGGED)} {html.escape(flags.rules())}</p>"]
    items = "".join(f"<li>{html.escape(comparison)}</li>" for comparison in found)
    return [
        f"<p>{html.escape(flags.FLAGGED)}</p>",
        f'<ul id="flags">{items}</ul>',
        f"<p>{html.escape(flags.rules())}</p>",
    ]


def _failure_list(failures: pd.DataFrame) -> list[str]:
    if failures.empty:
        return []
    retry = "<p>The verdicts go without them; rerunning <code>vggbench run</code> with this folder retries them.</p>"
    return [f"<h2>{len(failures)} failed trial(s)</h2>", retry, _html_table(failures[["kind", "trial", "error"]])]


# The columns of a claim row shown behind its details, in this order (those the row fills).
DETAILS = (
    "p_value",
    "p_value_holm",
    "tost_p",
    "tost_p_holm",
    "significant_holm",
    "equivalent_holm",
    "margin",
    "hedges_g",
    "cohens_dz",
    "mde",
    "mde_level",
    "seeds_variant",
    "seeds_baseline",
    "failed_variant",
    "failed_baseline",
    "design",
    "look",
    "looks",
    "nominal_level",
    "equivalence_level",
    "baseline_value",
    "variant_value",
    "ratio_value",
    "difference",
    "ci_low",
    "ci_high",
    "interval_method",
    "validity",
    "estimand",
    "note",
)


def _details(row) -> str:
    """The row's other columns, collapsed: p-values, effect sizes, seeds, design, the exact values, validity,
    interval method and note; its summary says why where the verdict is inconclusive."""
    items = []
    why = vocabulary.reason(row)
    if why:
        items.append(("why inconclusive", why))
    for column in DETAILS:
        value = row.get(column)
        if not terminal.is_missing(value) and value != "":
            items.append((column, f"{value:.6g}" if isinstance(value, float) else str(value)))
    if not items:
        return "<td></td>"
    listed = "".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(value)}</dd>" for name, value in items)
    summary = f"why: {vocabulary.reason(row, brief=True)}" if why else "details"
    return f'<td class="text"><details><summary>{html.escape(summary)}</summary><dl>{listed}</dl></details></td>'


def _signed(value) -> str:
    return "" if terminal.is_missing(value) else f"{value:+.3g}"


def _interval(row) -> str:
    low, high = row.get("ci_low"), row.get("ci_high")
    if terminal.is_missing(low) or terminal.is_missing(high):
        return ""
    return f"{terminal.human(low, 3)} to {terminal.human(high, 3)}"


def _part_table(rows: pd.DataFrame, several_resolutions: bool) -> str:
    """One part's rows: the condition (and analysis where there are several), the rival, the verdict first,
    then the stack's value against the rival's, the ratio or difference with its 95% interval, and the rest
    behind each row's details."""
    stack_only = (rows["variant"] == STACK).all()
    analyses = (rows["analysis"] != PRIMARY).any()
    ratio, difference = rows["ratio_value"].notna().any(), rows["difference"].notna().any()
    interval = rows["ci_low"].notna().any()
    header = ["condition", *(["analysis"] if analyses else []), "vs" if stack_only else "compared", "verdict"]
    header += ["stack vs rival" if stack_only else "values"]
    header += [*(["ratio"] if ratio else []), *(["difference"] if difference else [])]
    header += [*(["95% interval"] if interval else []), "details"]
    body = []
    for _, row in rows.iterrows():
        verdict = row["verdict"] if isinstance(row["verdict"], str) else ""
        values = " vs ".join(
            terminal.human(row[column]) for column in ("variant_value", "baseline_value") if pd.notna(row[column])
        )
        cells = [_cell(_condition(row, several_resolutions), numeric=False)]
        cells += [_cell(str(row["analysis"]), numeric=False)] if analyses else []
        compared = row["baseline"] if stack_only else f"{row['variant']} vs {row['baseline']}"
        cells += [_cell(compared, numeric=False)]
        style = VERDICT_STYLES.get(verdict, "")
        cells += [f'<td class="{style}">{html.escape(verdict)}</td>' if style else "<td></td>"]
        cells += [_cell(values, numeric=True)]
        cells += [_cell(terminal.human(row["ratio_value"]), numeric=True)] if ratio else []
        cells += [_cell(_signed(row["difference"]), numeric=True)] if difference else []
        cells += [_cell(_interval(row), numeric=True)] if interval else []
        cells += [_details(row)]
        body.append(cells)
    numeric = ("stack vs rival", "values", "ratio", "difference", "95% interval")
    return f'<div class="wide">{_rows_table(header, body, numeric)}</div>'


def _parts(claims: pd.DataFrame, several_resolutions: bool) -> list[str]:
    parts = []
    for claim, rows in claims.groupby("claim", sort=False):
        unit = rows["unit"].dropna().iloc[0] if "unit" in rows and rows["unit"].notna().any() else ""
        parts.append(f"<h3>{html.escape(claim)}" + (f" <small>({html.escape(unit)})</small>" if unit else "") + "</h3>")
        estimands = rows["estimand"].dropna().unique() if "estimand" in rows else []
        parts += [f"<p>Compared: {html.escape(estimand)}.</p>" for estimand in estimands]
        parts.append(_part_table(rows, several_resolutions))
    return parts


CLAIM_INTRO = (
    "Every verdict with its evidence, part by part, Holm-adjusted over each part's primary rows (accuracy: a "
    "t-test counting both the seeds and the test set's sampling, crossed, on Satterthwaite's degrees of freedom, "
    "or Welch's t-test over the seeds where a run kept no per-image results, as `interval_method` says, with its "
    "95% interval and two one-sided tests against the equivalence margin{sequential}; trainability: Fisher's "
    "exact test; effective field: Welch's t-test over the models' shares; speed and density: bootstrap "
    "intervals of a ratio (speed: the paired time ratio); sensitivity rows: numbers, no verdict; validity: flags "
    "beside the verdict, each with its numbers (kernels wider than their maps or with more than {padding_share} of "
    "their taps on padding, models still learning, runs at chance); claim.md in the run directory explains each). "
    "Every ratio is stack / rival and every difference stack - rival (3x3 against the densest other kernel for "
    "density), in the part's unit; a row's details hold its p-values, effect sizes, seeds, exact values and note, "
    "and say why an inconclusive verdict is one."
)
# Where a group-sequential design judged the final accuracy rows (vggbench.verdicts.sequential).
SEQUENTIAL_ROWS = (
    "; the final rows under a group-sequential design instead each tested at its Holm step's level within the "
    "look's spent boundary (`nominal_level`, `equivalence_level`), `p_value_holm` empty and the decision in "
    "`significant_holm` (`equivalent_holm` for equivalence), as every tested row has it"
)


def _claim_intro(claims: pd.DataFrame) -> str:
    """CLAIM_INTRO, naming how the final accuracy rows are judged where a group-sequential design judged them."""
    sequential = SEQUENTIAL_ROWS if sequential_rows(claims) else ""
    intro = CLAIM_INTRO.format(sequential=sequential, padding_share=f"{flags.PADDING_SHARE:.0%}")
    return f"<p>{_with_code(intro)}</p>"


def _with_code(text: str) -> str:
    """Markdown's `code` as HTML, the rest escaped."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _claim_section(claims: pd.DataFrame) -> list[str]:
    if claims.empty:
        return []
    several = _several(claims, "resolution")
    earlier = at_earlier_budget(claims)
    text = ["<h2>The claim, part by part</h2>", _claim_intro(claims), *_parts(claims[~earlier], several)]
    if earlier.any():
        text += ["<h2>Accuracy at earlier budgets</h2>", f"<p>{_with_code(EARLIER_BUDGETS)}</p>"]
        text += _parts(claims[earlier], several)
    return text


def _summary_section(summary: pd.DataFrame) -> list[str]:
    """The per-model summary: the columns that say most (as the terminal shows them), the rest collapsed."""
    if summary.empty:
        return []
    shown = [column for column in terminal.SUMMARY_SHOWN if column in summary]
    rows = [[_cell(row[column]) for column in shown] for _, row in summary.iterrows()]
    numeric = [column for column in shown if terminal.is_number(summary[column])]
    blank = terminal.blank_accuracy(summary)
    return [
        "<h2>Per model</h2>",
        f'<div class="wide">{_rows_table(shown, rows, numeric)}</div>',
        *([f"<p>{html.escape(blank)}</p>"] if blank else []),
        "<details><summary>Every column of summary.csv</summary>",
        f'<div class="wide">{_html_table(summary)}</div>',
        "</details>",
    ]


def embedded(png: Path) -> tuple[str, bytes, tuple[int, int]]:
    """A figure as the page embeds it: the smaller of a 256-colour PNG (line plots) and a JPEG (maps), with
    the same pixels as figures/NAME.png (which stays whole, beside the SVG); (MIME type, bytes, size)."""
    import io

    from PIL import Image

    with Image.open(png) as image:
        image.load()
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    options = []
    for mime, save in (
        ("image/png", lambda out: flat.quantize(256, method=Image.Quantize.MEDIANCUT).save(out, "PNG", optimize=True)),
        ("image/jpeg", lambda out: flat.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)),
    ):
        out = io.BytesIO()
        save(out)
        options.append((len(out.getvalue()), mime, out.getvalue()))
    _, mime, data = min(options)
    return mime, data, flat.size


JPEG_QUALITY = 85


def _figure_section(drawn: list[Drawn]) -> list[str]:
    parts = ["<h2>Figures</h2>"]
    for figure in drawn:
        parts.append(f"<h3>{html.escape(figure.title)}</h3>")
        if figure.png is None:
            parts.append("<p>Not drawn: the run has no data for it.</p>")
            continue
        mime, data, (width, height) = embedded(figure.png)
        encoded = base64.b64encode(data).decode("ascii")
        parts.append(
            f'<figure id="{figure.name}"><img alt="{html.escape(figure.name)}" width="{width}" height="{height}" '
            f'src="data:{mime};base64,{encoded}">'
            f"<figcaption>{html.escape(figure.caption)} (Full resolution: figures/{figure.name}.png; vector copy: "
            f"figures/{figure.name}.svg.)</figcaption></figure>"
        )
    return parts


def _trust_section(metadata: dict, tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """How far the run's timings can be trusted: the noise probe and the flagged rows (as claim.md says it)."""
    trust = noise.trust_sentences(metadata, {name: tables[name] for name in noise.TIMED_TABLES})
    if not trust:
        return []
    return ["<h2>How far the timings can be trusted</h2>", *(f"<p>{html.escape(line)}</p>" for line in trust)]


def _recipe_section(tuning: dict | None, claims: pd.DataFrame) -> list[str]:
    """The recipe each arm chose and the search that chose it, as claim.md tells them; nothing without a search."""
    if tuning is None:
        return []
    chosen = recipes.chosen_table(tuning)
    return [
        "<h2>Recipes</h2>",
        f"<p>{html.escape(recipes.search_sentence(tuning))}</p>",
        *([f'<div class="wide" id="recipes">{_html_table(chosen)}</div>'] if not chosen.empty else []),
        *([f"<p>{_with_code(recipes.SHARED_SENTENCE)}</p>"] if recipes.shared_beside(claims) else []),
    ]


LAST_SITTING = ("started", "ended")  # metadata.json's times of the latest sitting only


def _metadata_section(metadata: dict) -> list[str]:
    config = metadata.get("config", {})
    several = len(_sittings(metadata)) > 1  # then `started` and `ended` are the last sitting's (the run line's span)
    facts = [
        [
            _cell(f"{key} (last sitting)" if several and key in LAST_SITTING else key, numeric=False),
            _cell(str(value), numeric=False),
        ]
        for key, value in metadata.items()
        if key != "config"
    ]
    return [
        "<h2>How it was measured</h2>",
        _rows_table(["key", "value"], facts),
        '<details id="configuration"><summary>Configuration (config.json)</summary>',
        f"<pre>{html.escape(json.dumps(config, indent=2))}</pre>",
        "</details>",
    ]


def page(
    name: str, metadata: dict, tables: Mapping[str, pd.DataFrame], drawn: list[Drawn], tuning: dict | None = None
) -> str:
    """report.html of the run folder called `name`, from its metadata, its `tables` by name (those of TABLES), its
    `drawn` figures and its recipe search (`tuning`: tuning.json's record, None where it searched none)."""
    summary, claims = tables["summary"], tables["claim"]
    title = f"vggbench: {name} on {metadata.get('device_name', 'unknown device')}"
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(_run_span(metadata))}, commit <code>{html.escape(str(metadata.get('git_commit')))}</code>, "
        f"torch {html.escape(str(metadata.get('torch')))}, {html.escape(str(metadata.get('threads')))} threads."
        f"{html.escape(_reconstructed(metadata))}</p>",
        *_history(metadata),
        *_glance_section(claims),
        *_failure_list(tables["failures"]),
        *_trust_section(metadata, tables),
        *_recipe_section(tuning, claims),
        *_figure_section(drawn),
        *_claim_section(claims),
        *_summary_section(summary),
        *_metadata_section(metadata),
    ]
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{PAGE_STYLE}</style></head><body>",
            *body,
            "</body></html>",
            "",
        ]
    )

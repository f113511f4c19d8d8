"""The claim report of a run: the verdicts of the kinds that ran (each judges its own tables, `Kind.judge`;
their words are vggbench.verdicts.vocabulary') as claim.csv and claim.md.

The claim (VGG, section 2.3; the book's chapter, d2l.ai's VGG): for the same receptive field, a
stack of 3x3 convs beats one large kernel. Its parts: fewer parameters and fewer
MACs than the single large kernel; the same theoretical and effective receptive
field; higher accuracy than the single kernel, and than the same stack without its
inner ReLUs (more non-linearity helps); training as reliably; and faster steps. Other large-kernel
variants (a dilated or depthwise kernel of the same field) are rivals as the single kernel is. Each row that
compares two variants flags, beside its verdict, what its numbers rest on: kernels wider than their maps or mostly
on padding, models still learning, runs at chance (`validity`, vggbench.verdicts.flags).
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import re
from pathlib import Path

import numpy as np
import pandas as pd

from vggbench.engine import registry
from vggbench.engine.config import Rules, run_config
from vggbench.engine.contract import Kind, Table
from vggbench.engine.rundir import CLAIM_MD, DECISIONS, RunDir
from vggbench.measure import noise
from vggbench.models.schema import STANDS_FOR
from vggbench.reporting import recipes
from vggbench.stats import hypothesis as stats
from vggbench.util import knobs
from vggbench.util.csvio import BOOLEAN, COUNT, NUMBER, WHOLE
from vggbench.util.validate import InputError, printable
from vggbench.verdicts import flags, robustness
from vggbench.verdicts import train as train_verdicts
from vggbench.verdicts.decisions import recorded_decisions
from vggbench.verdicts.design_check import family_spreads, null_family
from vggbench.verdicts.vocabulary import EARLIER, PRIMARY

COLUMNS = [
    "claim",
    "analysis",
    "arch",
    "ratio",
    "resolution",
    "batch_norm",
    STANDS_FOR,  # what else a row stands for, where it stands for more than its identity names
    "device",
    "mode",
    "schedule_epochs",
    "epoch",
    "optimizer_steps",
    "baseline",
    "variant",
    "baseline_value",
    "variant_value",
    "unit",
    "difference",
    "ratio_value",
    "ci_low",
    "ci_high",
    "p_value",
    "p_value_holm",
    "tost_p",
    "tost_p_holm",
    "significant_holm",
    "equivalent_holm",
    "design",
    "look",
    "looks",
    "nominal_level",
    "equivalence_level",
    "margin",
    "hedges_g",
    "cohens_dz",
    "mde",
    "mde_level",
    "seeds_baseline",
    "seeds_variant",
    "failed_baseline",
    "failed_variant",
    "verdict",
    "validity",
    "estimand",
    "interval_method",
    "note",
]
# The terminal shows a few of these, part by part (vggbench.reporting.terminal.claim_text); claim.csv has them all.
# Their types, as claim.csv reads back (vggbench.load_run): a column most rows leave empty keeps its type.
TABLE = Table(
    "claim",
    "The claim, part by part",
    tuple(COLUMNS),
    types=(
        *((column, WHOLE) for column in ("seeds_baseline", "seeds_variant", "failed_baseline", "failed_variant")),
        *((column, COUNT) for column in ("schedule_epochs", "look", "looks")),
        *((column, NUMBER) for column in ("baseline_value", "variant_value", "difference", "ratio_value")),
        *((column, NUMBER) for column in ("p_value", "p_value_holm", "tost_p", "tost_p_holm", "margin")),
        *((column, NUMBER) for column in ("nominal_level", "equivalence_level", "mde", "mde_level")),
        *((column, NUMBER) for column in ("hedges_g", "cohens_dz")),
        *((column, BOOLEAN) for column in ("significant_holm", "equivalent_holm")),
    ),
)


# The order the parts are told in: cost, fields, accuracy and trainability, speed, density; a kind not named
# here follows them, in the registry's order.
TOLD_FIRST = ("static", "erf", "train", "pairs", "density")


def _in_order(kinds) -> list[Kind]:
    return sorted(kinds, key=lambda kind: TOLD_FIRST.index(kind.name) if kind.name in TOLD_FIRST else len(TOLD_FIRST))


def claim_table(
    tables: dict[str, pd.DataFrame], rules: Rules | None = None, kinds: list[Kind] | None = None
) -> pd.DataFrame:
    """One row per part of the claim, group of models (and device and mode where they matter) and analysis,
    with its evidence and verdict: the verdicts of `kinds` (default: every registered kind) on `tables` (the
    run's tables by name; a kind whose tables are missing judges empty ones), then the learning-rate windows of
    the run's recipe search (`tuning`, where it has one: verdicts.robustness)."""
    rules = rules or Rules()
    kinds = _in_order(registry.KINDS.values() if kinds is None else kinds)
    given = {table.name: pd.DataFrame() for kind in kinds for table in kind.tables} | dict(tables)
    rows = [row for kind in kinds for row in kind.judge(given, rules)]
    train = given.get("train", pd.DataFrame())
    evidence = flags.training_evidence(train)
    for row in rows:  # while the rows hold every identity column the kinds grouped by (a custom arch's plan)
        row["validity"] = flags.of_row(row, evidence) or np.nan
        note = row.get("note") if isinstance(row.get("note"), str) else ""
        row["note"] = train_verdicts.with_recipe_note(note, row, train) or np.nan
    # No validity for the windows: they rest on the search's validation runs, not on the training runs flags read.
    rows += robustness.window_claims(tables.get("tuning", pd.DataFrame()))
    return pd.DataFrame(rows).reindex(columns=COLUMNS)


def _text(value) -> str:
    """`value` as plain text in markdown and in the HTML it renders to: one line, no control characters, tags or
    entities, no table column breaks, no code spans or links."""
    escaped = html.escape(" ".join(printable(value).split()), quote=False)
    return re.sub(r"([\\`\[\]|])", r"\\\1", escaped)


def _markdown(table: pd.DataFrame) -> str:
    def cell(value) -> str:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return ""
        if isinstance(value, float) and value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"  # a count (params, MACs) that a column of floats made a float
        if isinstance(value, float):
            return f"{value:.4g}"
        return _text(value)

    lines = ["| " + " | ".join(map(_text, table.columns)) + " |", "|" + " --- |" * len(table.columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


BLOCK_COLUMNS = [
    "arch",
    "ratio",
    "block",
    "num_convs",
    "block_in_channels",
    "block_out_channels",
    "params_vs_stack",
    "params_vs_stack_if_in_eq_out",
    "macs_vs_stack",
    "map_px",
    "largest_kernel_px",
    "padding_tap_share",
]


def _block_section(blocks: pd.DataFrame) -> list[str]:
    """Where the analytic 27C^2 against 49C^2 holds, block by block (nothing where no block has several convs)."""
    single = blocks[(blocks["variant"] == "single") & (blocks["num_convs"] > 1)] if not blocks.empty else blocks
    if single.empty:
        return []
    text = [
        "## Block by block: where 27C^2 against 49C^2 holds",
        "",
        "The analytic ratio assumes a block whose convs all have C inputs and C outputs. Where the "
        "block's first conv changes the width, the single kernel's share differs. Beside it, the block's input "
        "map, the single kernel's window and the share of its multiply-adds that fall on zero padding:",
        "",
        _markdown(single[[column for column in BLOCK_COLUMNS if column in single]]),  # older tables lack some
        "",
    ]
    cheaper = single[single["params_vs_stack"] < 1]
    if not cheaper.empty:
        where = ", ".join(
            f"{_text(row.arch)} r{row.ratio} block {row.block} ({row.params_vs_stack:.3f}x)"
            for row in cheaper.itertuples()
        )
        text += [f"The single kernel has *fewer* parameters than the stack in: {where}.", ""]
    return text


def _glance(claims: pd.DataFrame) -> list[str]:
    judged = claims[(claims["analysis"] == PRIMARY) & claims["verdict"].notna()]
    if judged.empty:
        return []
    counts = judged.groupby("claim", sort=False)["verdict"].value_counts().unstack(fill_value=0)
    counts = counts.reindex(judged["claim"].unique())  # the parts in the order told: unstack reorders them
    return [
        f"- {_text(claim)}: " + ", ".join(f"{_text(verdict)} {count}" for verdict, count in row.items() if count)
        for claim, row in counts.iterrows()
    ]


def _part_sections(claims: pd.DataFrame) -> list[str]:
    """One section per part of the claim, with the columns its rows fill."""
    text = []
    for claim, rows in claims.groupby("claim", sort=False):
        shown = rows.drop(columns=["claim", "estimand"]).dropna(axis="columns", how="all")
        estimands = rows["estimand"].dropna().unique()
        text += [f"### {_text(claim)}", ""]
        text += [f"Compared: {_text(estimand)}." for estimand in estimands] + ([""] if len(estimands) else [])
        text += [_markdown(shown), ""]
    return text


INTRO = (
    "Verdicts from the tables in this folder. A verdict is supported or contradicted where the difference is "
    "in the claim's favour or against it at {alpha} after Holm's adjustment over the part's primary rows "
    "(`p_value_holm`; the decision in `significant_holm`); equivalent where it lies within the stated margin (two "
    "one-sided tests, Holm-adjusted alike, `tost_p_holm` and `equivalent_holm`: accuracy against +-{accuracy}, "
    "effective field against +-{erf}); inconclusive "
    "otherwise, which means the run could not decide, not that there is no difference: `mde` is the smallest "
    "accuracy difference each row could detect with 80% power at its spread and at the level it was tested at "
    "(`mde_level`: its Holm step's share of alpha, under a sequential design through its look's boundary; a "
    "sensitivity row's alpha). One multiplicity policy holds "
    "for every tested family (accuracy, trainability, effective field, speed, density): Holm over its primary "
    "rows{sequential}. {accuracy_test} Trainability takes Fisher's exact test, the effective field Welch's "
    "t-test over the models' shares (each model one value); speed and density hold bootstrap intervals, whose "
    "p-value is the normal "
    "approximation on the log scale (the interval's log midpoint as the estimate, its half-width as 1.96 "
    "standard errors). The intervals shown are unadjusted 95% intervals. Parameters and MACs are exact counts "
    "(no test); the theoretical receptive field is equal by construction (no verdict). A hardware claim "
    "contradicted on a device it was not made for reads `not reproduced on this device`. Primary rows count; "
    "sensitivity rows stand beside them with their numbers and no verdict. Effect sizes say what they are: "
    "`hedges_g` for two samples, `cohens_dz` for pairs. Failed runs (the failure rule of the run's "
    "configuration) are left out of the primary accuracy rows and counted in `failed_*` and in 'trains "
    "reliably'."
)


# The test the accuracy rows take (vggbench.verdicts.train, stats.with_test_images), as claim.md and report.html
# say it; SEQUENTIAL_HOLM where a group-sequential design judges the final rows.
ACCURACY_TEST = (
    "Accuracy takes a t-test counting both the seeds and the test set's sampling (seeds and test images as crossed "
    "random factors, on Satterthwaite's degrees of freedom; TOST on the same standard error), or Welch's t-test "
    "over the seeds alone where a run kept no per-image results (`interval_method` says which); its "
    "paired-by-data-order sensitivity rows a paired t-test over seeds, and batch norm x variant and budget x "
    "variant a Welch-Satterthwaite contrast of the four arms."
)
SEQUENTIAL_HOLM = (
    "the final accuracy rows under a group-sequential design hold Holm inside their boundaries instead, each "
    "p-value (or TOST p) tested at its Holm step's level within the look's spent boundary (`nominal_level`, "
    "`equivalence_level`), `p_value_holm` and `tost_p_holm` empty: `significant_holm` and `equivalent_holm` hold "
    "every tested row's adjusted decision, under either design"
)


def sequential_rows(claims: pd.DataFrame) -> bool:
    """Whether a group-sequential design judged some of `claims`' rows (they name the level they were tested at)."""
    return "nominal_level" in claims and bool(claims["nominal_level"].notna().any())


def _budget_section(claims: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """The training budget the accuracy rows compare at, and the models still learning at its end."""
    estimands = claims["estimand"].dropna().unique()
    if not len(estimands):
        return []
    text = [
        "## The training budget",
        "",
        *(f"Accuracy is compared as {_text(estimand)}." for estimand in estimands),
        "",
    ]
    if "still_learning" in summary:
        learning = summary[summary["still_learning"].fillna(False).astype(bool)]
        named = ", ".join(
            f"{_text(row.arch)} r{row.ratio}{' bn' if row.batch_norm else ''} {_text(row.variant)} "
            f"({row.last_epoch_gain:+.3f})"
            for row in learning.itertuples()
        )
        text += [
            "Still learning at the end (mean test-accuracy gain over the last epoch above the run's "
            f"`plateau_gain`): {named or 'none'}. Where a model is, its verdict holds for this budget only.",
            "",
        ]
    return text


def _failure_section(failures: pd.DataFrame) -> list[str]:
    """The trials that failed: their parts of the claim lack them. The next run retries them."""
    if failures.empty:
        return []
    return [
        f"## {len(failures)} failed trial(s)",
        "",
        "Their rows carry the error instead of numbers, and the verdicts above go without them; rerunning "
        "`vggbench run` with this folder retries them.",
        "",
        _markdown(failures[["kind", "trial", "error"]]),
        "",
    ]


def _timing_section(trust: list[str]) -> list[str]:
    """How far the run's timings can be trusted (vggbench.measure.noise.trust_sentences), where it timed anything."""
    return ["## How far the timings can be trusted", "", _text(" ".join(trust)), ""] if trust else []


EARLIER_BUDGETS = (
    "The accuracy comparisons again at every epoch before the final one (`epoch`, `optimizer_steps`: the "
    "budget), on the runs and seeds each final row judged (under a sequential design the deciding look's), with "
    "the same statistics. They are a Holm family of their own, apart from the final verdicts and counted apart "
    "at a glance: they say when a difference appears or fades, while the claim is judged where training ends."
)


def _earlier_section(earlier: pd.DataFrame) -> list[str]:
    """The accuracy rows at the budgets before the final one, a family of their own."""
    if earlier.empty:
        return []
    return ["## Accuracy at earlier budgets", "", EARLIER_BUDGETS, "", *_part_sections(earlier)]


def at_earlier_budget(claims: pd.DataFrame) -> pd.Series:
    """Which rows are accuracy rows at a budget before the final one (their own family)."""
    return claims.get("claim", pd.Series("", index=claims.index)).astype(str).str.endswith(EARLIER)


def _recipe_section(claims: pd.DataFrame, tuning: dict | None) -> list[str]:
    """The recipe each arm's verdict seeds trained at and the search that chose it (tuning.json), the arms'
    learning-rate windows, and whether rows at the shared recipe stand beside. Nothing where the run searched none."""
    windows = claims[claims["claim"] == robustness.LR_WINDOW]
    if tuning is None and windows.empty:
        return []
    text = ["## Recipes", ""]
    if tuning is not None:
        chosen = recipes.chosen_table(tuning)
        text += [_text(recipes.search_sentence(tuning)), ""] + ([_markdown(chosen), ""] if not chosen.empty else [])
    if recipes.shared_beside(claims):
        text += [recipes.SHARED_SENTENCE, ""]
    return text + _part_sections(windows)


FIXED_BEFORE = " fixed before the run"  # the stopping rule's words (its `describe`) that a changed design belies
SHOWN_CHANGES = 4  # the comparisons a change of family names (the count says the rest)


def history_sentence(metadata: dict) -> str:
    """What metadata.json's sittings (vggbench.engine.study.sitting_plan) say of the design and the family of the
    accuracy comparisons where the run sat more than once: what changed between which sittings, or that a sitting
    recorded neither (older code) so nobody can tell; '' where every sitting planned the same or the run sat once."""
    sittings = metadata.get("sittings") if isinstance(metadata.get("sittings"), list) else []
    sittings = [sitting for sitting in sittings if isinstance(sitting, dict)]
    if len(sittings) < 2:
        return ""
    unrecorded = [
        str(number)
        for number, sitting in enumerate(sittings, start=1)
        if not (isinstance(sitting.get("design"), dict) and isinstance(sitting.get("comparisons"), list))
    ]
    if unrecorded:
        return (
            f"The run sat {len(sittings)} times, and "
            + (f"sitting {unrecorded[0]} " if len(unrecorded) == 1 else f"sittings {', '.join(unrecorded)} ")
            + "recorded neither the design nor the family of the accuracy comparisons (older code): whether they "
            "changed between sittings is not known."
        )
    pairs = enumerate(itertools.pairwise(sittings), start=1)
    changes = [
        f"between sittings {number} and {number + 1}, {change}" for number, pair in pairs if (change := _changes(*pair))
    ]
    if not changes:
        return ""
    return (
        "The design or the family of the accuracy comparisons changed between the run's sittings (metadata.json): "
        f"{'; '.join(changes)}."
    )


def _changes(before: dict, after: dict) -> str:
    """How the design and the family of the accuracy comparisons of the sitting `after` differ from `before`'s, in
    words ('' where they do not)."""
    old, new = before["design"], after["design"]
    keys = dict.fromkeys([*old, *new])
    parts = [f"{key} {old.get(key)} to {new.get(key)}" for key in keys if old.get(key) != new.get(key)]
    was, now = [str(item) for item in before["comparisons"]], [str(item) for item in after["comparisons"]]
    if set(was) != set(now):
        moved = (
            ("added", [item for item in now if item not in was]),
            ("dropped", [item for item in was if item not in now]),
        )
        named = "; ".join(f"{word}: {_named(items)}" for word, items in moved if items)
        parts.append(f"the family from {len(was)} to {len(now)} comparisons ({named})")
    return ", ".join(parts)


def _named(items: list[str]) -> str:
    """The first SHOWN_CHANGES of `items`, and how many more."""
    more = len(items) - SHOWN_CHANGES
    return ", ".join(items[:SHOWN_CHANGES]) + (f" and {more} more" if more > 0 else "")


def design_sentence(rules: Rules, history: str = "") -> str:
    """How the accuracy rows were decided (the stopping rule's `describe`), then `history` (`history_sentence`):
    where that says the design or family changed between sittings, without the rule's 'fixed before the run'."""
    described = rules.rule.describe()
    return " ".join(filter(None, [described.replace(FIXED_BEFORE, "") if history else described, history]))


def simulated_sentence(rules: Rules, train: pd.DataFrame) -> str:
    """What a sequential design does under no difference to this run's family of accuracy comparisons, each at its
    spread in the run (vggbench.verdicts.design_check.null_family): the family-wise type-I error and the seeds per
    arm. '' under the fixed design, or where no comparison has two runs per arm."""
    spreads = family_spreads(train) if rules.rule.SEQUENTIAL and not train.empty and "test_acc" in train else ()
    if not spreads:
        return ""
    found = null_family(rules.rule, spreads, rules.equivalence_margin)
    return (
        f"Simulated with no difference in any of the family's {found['comparisons']} accuracy comparisons "
        f"({found['replays']} studies of normal runs at each comparison's spread in this run, judged by these "
        f"looks, this spending and Holm, seed {found['seed']}; `vggbench design --config`), the design's "
        f"family-wise type-I error is {found['type1_error']:.3f} (95% interval {found['type1_ci_low']:.3f} to "
        f"{found['type1_ci_high']:.3f}) against alpha {found['alpha']:g}, and a comparison takes "
        f"{found['seeds_per_arm_mean']:.1f} seeds per arm on average, at most {found['seeds_per_arm_max']}."
    )


def markdown(
    claims: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    name: str,
    rules: Rules,
    trust: list[str] = (),
    history: str = "",
    simulated: str = "",
    tuning: dict | None = None,
) -> str:
    """claim.md: how verdicts are reached (with what the sittings say of the design: `history`, and what it does
    under no difference: `simulated`), which comparisons are flagged (validity) and why, the verdicts at a glance,
    failed trials, the timings' trust, the budget, the recipes (`tuning`: tuning.json's record, None where the
    run searched none), each part, the accuracy at earlier budgets, block by block."""
    sequential = f" ({SEQUENTIAL_HOLM})" if rules.rule.SEQUENTIAL else ""
    intro = INTRO.format(
        alpha=stats.ALPHA,
        accuracy=rules.equivalence_margin,
        erf=rules.erf_margin,
        sequential=sequential,
        accuracy_test=ACCURACY_TEST,
    )
    intro = " ".join(filter(None, [intro, design_sentence(rules, _text(history)), simulated]))
    at_earlier = at_earlier_budget(claims)
    parts, earlier = claims[~at_earlier], claims[at_earlier]
    parts = parts[parts["claim"] != robustness.LR_WINDOW]  # told with the recipes
    text = [f"# The kernel-stacking claim: {_text(name)}", "", intro, "", *_flag_section(parts)]
    text += ["At a glance (primary rows per verdict):", "", *_glance(parts), ""]
    if not earlier.empty:
        text += ["At earlier budgets (their own family, not counted above):", "", *_glance(earlier), ""]
    text += [*_failure_section(tables["failures"]), *_timing_section(trust)]
    text += [*_budget_section(parts, tables["summary"]), *_recipe_section(claims, tuning)]
    text += ["## The parts", "", *_part_sections(parts), *_earlier_section(earlier), *_block_section(tables["blocks"])]
    return "\n".join(text)


def _flag_section(claims: pd.DataFrame) -> list[str]:
    """The flagged comparisons as a list, one per line, and what the flags mean (nothing for a claim table made
    before `validity`)."""
    found = flags.flagged(claims)
    if found is None:
        return []
    if not found:
        return [f"{flags.NONE_FLAGGED} {flags.rules()}", ""]
    return [flags.FLAGGED, "", *(f"- {_text(comparison)}" for comparison in found), "", flags.rules(), ""]


def _kinds_that_ran(directory: RunDir, config: dict) -> list[Kind]:
    """The kinds the run's configuration names, and those whose table is in the folder; each table there holds
    rows (every trial leaves one, a failed trial its error)."""
    named = set(config.get("kinds", ()))
    kinds = [
        kind
        for kind in registry.KINDS.values()
        if kind.tables and (kind.name in named or directory.has(f"{kind.tables[0].name}.csv"))
    ]
    if not kinds:
        found = ", ".join(f"{kind.tables[0].name}.csv" for kind in registry.KINDS.values() if kind.tables)
        raise InputError(f"{directory.root} holds none of {found}: is it a finished `vggbench run` directory?")
    for kind in kinds:
        name = kind.tables[0].name
        if directory.has(f"{name}.csv") and directory.table(name).empty:
            raise InputError(f"{directory.path(f'{name}.csv')} has no {kind.name} rows: rerun `vggbench run`")
    return kinds


def _with_decisions(directory: RunDir, rules: Rules) -> Rules:
    """`rules` with the decisions the run's rounds stored, where they were judged under its design and margin
    (else, or where none were stored, the accuracy family judges its looks from the rows)."""
    record = directory.decisions()
    if record is None:
        return rules
    decisions = recorded_decisions(record, rules, rules.equivalence_margin, directory.path(DECISIONS))
    return dataclasses.replace(rules, decisions=decisions)


def report(run_dir: str | Path | RunDir, **margins) -> tuple[pd.DataFrame, str]:
    """claim.csv and claim.md in `run_dir` (a folder, or a RunDir that may remember the tables it read), from the
    tables of the kinds that ran (any of them: the parts of the claim whose tables are missing are left out). The
    margins are the run's configuration's, or those given."""
    directory = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, registry.KINDS)
    root = directory.root
    config = run_config(directory, missing_ok=True)
    chosen = _with_decisions(directory, Rules(**knobs.settings(Rules, {**config, **margins})))
    kinds = _kinds_that_ran(directory, config)
    judged = {table.name: directory.table(table.name) for kind in kinds for table in kind.tables}
    claims = claim_table({"tuning": directory.table("tuning"), **judged}, chosen, kinds)
    names = ("summary", "blocks", "failures")
    metadata = directory.metadata() if directory.has("metadata.json") else {}
    trust = noise.trust_sentences(metadata, {name: directory.table(name) for name in noise.TIMED_TABLES})
    tables = {name: directory.table(name) for name in names}
    simulated = simulated_sentence(chosen, directory.table("train")) if "train" in {kind.name for kind in kinds} else ""
    history = history_sentence(metadata)
    text = markdown(claims, tables, root.name, chosen, trust, history, simulated, recipes.read(directory))
    directory.write_table("claim", claims)
    directory.write_text(CLAIM_MD, text)
    directory.record_writer(CLAIM_MD)
    return claims, text

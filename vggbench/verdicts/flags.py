"""What a comparison's numbers rest on, said beside its verdict: the claim table's `validity` column.

Every row that compares two kernel variants in a group of models its identity columns name gets a cell of flags,
joined by "; ", each with its numbers ('' where none holds):
- the rival's kernel wider than its map (vggbench.verdicts.padding);
- a kernel, in either arm, that puts more than PADDING_SHARE of its taps on zero padding in a block where the
  arms' kernels differ: single-fits's 7x7 fits the 8 px map of block 3 at 32 px, yet 38% of its taps are padding;
- an arm's model still learning at its last epoch (the run's plateau rule, vggbench.measure.training_rules);
- an arm's runs at chance for an epoch or more, counted.
Flags describe; they change no verdict. The training flags need the per-epoch `train` table, and go only on rows
whose numbers depend on the training (vocabulary.compares_trained: accuracy, trainability, the trained effective
field), not on parameter counts, timings or untrained fields.
"""

from __future__ import annotations

import pandas as pd

from vggbench.measure import training_rules
from vggbench.measure.taps import Window, padding_tap_share
from vggbench.models.arch import VARIANTS, Conv, ModelSpec
from vggbench.models.schema import GROUP_KEYS, given, keys_in, spec_from_identity
from vggbench.verdicts import padding
from vggbench.verdicts.vocabulary import INTERACTION_ROW, STACK, compares_trained

# The rules' thresholds, the same for every variant and model.
# A kernel is flagged in a block where more than a third of its taps multiply zero padding: there it is largely
# a smaller, padded kernel. On an 8 px map (block 3 at 32 px) a 3x3 puts 16% there, a 5x5 28%, a 7x7 38%; on a
# 4 px map a 3x3 31%, a 5x5 51%; on a 2 px map a 3x3 56%. A quarter would flag every comparison of a 32 px run
# (the 5x5 on 8 px, the 3x3 on 4 px) and so single out none.
PADDING_SHARE = 1 / 3
# A run is at chance at an epoch where its test accuracy is at most 1/classes plus this (0.12 for ten classes).
CHANCE_MARGIN = 0.02

# How the sentence names a compared group, from the claim table's identity columns.
NAMED_BY = ("arch", "ratio", "resolution", "batch_norm", "variant", "baseline")


def _arms(row: dict) -> tuple[str, str] | None:
    """(variant, baseline) where the row compares two kernel variants, else None."""
    variant, baseline = row.get("variant"), row.get("baseline")
    if variant in VARIANTS and baseline in VARIANTS and variant != baseline:
        return variant, baseline
    return None


def _shape(conv: Conv) -> tuple:
    """What a kernel's taps depend on: two convs of one shape pad alike on the same map."""
    return conv.kernel, conv.dilation, conv.depthwise


def _share(conv: Conv, side_px: int) -> float:
    return padding_tap_share(Window(conv.kernel, 1, conv.padding, conv.dilation), side_px)


def padded_kernels(arm: ModelSpec, other: ModelSpec) -> str:
    """The arm's flag, as "single-fits's 7x7 kernel puts 38% of its taps on zero padding in block 3 (8 px), over
    33%", for its kernels whose share exceeds PADDING_SHARE in a block where `other` has no kernel of their shape
    (a kernel both arms share pads alike in both and tells them apart in nothing); '' where none does."""
    by_kernel: dict[str, list[tuple[int, int, float]]] = {}
    for block in range(arm.arch.num_blocks):
        theirs, side = {_shape(conv) for conv in other.block_plan(block)}, arm.block_px(block)
        ours = {_shape(conv): conv for conv in arm.block_plan(block) if _shape(conv) not in theirs}
        for conv in ours.values():
            if (share := _share(conv, side)) > PADDING_SHARE:
                by_kernel.setdefault(padding.kernel_words(conv), []).append((block + 1, side, share))
    clauses = [
        f"{words} puts {padding.listed([f'{share:.0%}' for *_, share in places])} of its taps on zero padding in "
        + padding.in_blocks([(block, side) for block, side, _ in places])
        for words, places in by_kernel.items()
    ]
    if not clauses:
        return ""
    return f"{arm.variant}'s " + ", its ".join(clauses) + f", over {PADDING_SHARE:.0%}"


def _padding_flags(row: dict, arms: tuple[str, str]) -> list[str]:
    """The rival's overhang, then each arm's kernels over PADDING_SHARE (the row's models, at their resolution)."""
    specs = [spec_from_identity({**row, "variant": arm}) for arm in arms]
    if None in specs:
        return []
    first, second = specs
    return [padding.of_row(row), padded_kernels(first, second), padded_kernels(second, first)]


def training_evidence(train: pd.DataFrame) -> pd.DataFrame:
    """Per model of the per-epoch `train` rows: its runs, those at chance for an epoch or more (`at_chance`, at
    or below `chance_acc`), the mean gain over the last epoch of those that did not fail and whether that says
    still learning (above `plateau_gain`). Empty without training rows."""
    if train.empty or "test_acc" not in train:
        return pd.DataFrame()
    keys = keys_in(train)
    chance_acc = 1 / train.get("num_classes", pd.Series(10, index=train.index)) + CHANCE_MARGIN
    runs = (
        train.assign(at_chance=train["test_acc"] <= chance_acc, chance_acc=chance_acc)
        .groupby([*keys, "seed"], sort=False)
        .agg(at_chance=("at_chance", "any"), chance_acc=("chance_acc", "max"))
        .groupby(keys, sort=False)
        .agg(runs=("at_chance", "size"), at_chance=("at_chance", "sum"), chance_acc=("chance_acc", "max"))
    )
    final = training_rules.final_runs(train)
    gain = final[~final["failed"]].groupby(keys, sort=False)["last_epoch_gain"].mean()
    threshold = training_rules.plateau_gain(final)
    return runs.join(gain).assign(plateau_gain=threshold, still_learning=lambda t: t["last_epoch_gain"] > threshold)


def _arm_name(arm: str, model: dict, loose: list[str]) -> str:
    """The arm's variant, with the identity the row leaves open ('stack without batch norm' on an interaction row)."""
    words = [arm]
    for key in loose:
        if key == "batch_norm":
            words.append("with batch norm" if model[key] else "without batch norm")
        else:
            words.append(f"{key} {model[key]}")
    return " ".join(words)


def _gain(gain: float, plateau: float) -> str:
    """A last-epoch gain to three decimals, or as many more as it takes to read apart from the plateau gain it
    exceeds ('+0.0052' beside 0.005, where '+0.005' would read as equal)."""
    places = next((places for places in (3, 4, 5) if round(gain, places) != round(plateau, places)), 6)
    return f"{gain:+.{places}f}"


def _training_flags(row: dict, arms: tuple[str, str], evidence: pd.DataFrame) -> list[str]:
    """Each arm's models (those the row's identity names): still learning at the last epoch, runs at chance."""
    if evidence.empty:
        return []
    models = evidence.reset_index()
    keys = [key for key in GROUP_KEYS if key in models]
    for key in (key for key in keys if given(row.get(key))):
        models = models[models[key] == row[key]]
    loose = [key for key in keys if not given(row.get(key)) and models[key].nunique() > 1]
    flags = []
    for arm in arms:
        for model in models[models["variant"] == arm].to_dict("records"):
            name = _arm_name(arm, model, loose)
            if model["still_learning"]:
                flags.append(
                    f"{name} still learning at its last epoch (mean test-accuracy gain "
                    f"{_gain(model['last_epoch_gain'], model['plateau_gain'])}, above the plateau gain "
                    f"{model['plateau_gain']:g})"
                )
            if model["at_chance"]:
                flags.append(
                    f"{name}: {model['at_chance']} of {model['runs']} runs at chance (test accuracy at most "
                    f"{model['chance_acc']:.2f}) for an epoch or more"
                )
    return flags


def of_row(row: dict, evidence: pd.DataFrame) -> str:
    """A claim row's `validity`: its flags joined by "; ", '' where none holds or the row compares no two kernel
    variants of named models (density rows, rows of no model). `evidence` is `training_evidence` of the run."""
    arms = _arms(row)
    if arms is None:
        return ""
    training = _training_flags(row, arms, evidence) if compares_trained(row) else []
    flags = [*_padding_flags(row, arms), *training]
    return "; ".join(flag for flag in flags if flag)


RULES = (
    "Flags describe and change no verdict. A kernel wider than its map, or with more than {share:.0%} of its taps "
    "on zero padding in a block where the arms' kernels differ, is there partly a padded kernel, so the comparison "
    "is partly not one of receptive-field designs (single-fits keeps the large kernel out of the blocks it would "
    "overhang); a model still learning at its last epoch (its mean test-accuracy gain over it above the run's "
    "plateau gain) is compared at this budget only; a run at chance (test accuracy at most 1/classes + "
    "{chance:g}) for an epoch or more trained erratically, whether or not it failed."
)


def _group_name(row: dict) -> str:
    """'vgg13 r8 bn at 32 px, stack against single' (`:g`: a column that other kinds' rows leave empty reads
    back from CSV as floats)."""
    ratio = f" r{row['ratio']:g}" if pd.notna(row.get("ratio")) else ""
    normed = " bn" if pd.notna(row.get("batch_norm")) and row["batch_norm"] else ""
    compared = f"{row.get('variant', STACK)} against {row['baseline']}"
    return f"{row['arch']}{ratio}{normed} at {row['resolution']:g} px, {compared}"


FLAGGED = "Flagged comparisons (the validity column):"
NONE_FLAGGED = "No comparison is flagged in the validity column."


def rules() -> str:
    """What the flags mean, and that they change no verdict."""
    return RULES.format(share=PADDING_SHARE, chance=CHANCE_MARGIN)


def flagged(claims: pd.DataFrame) -> list[str] | None:
    """Each flagged comparison named once with its flags ('vgg16 r8 at 32 px, stack against single: <flags>'): []
    where none is flagged, None for a claim table made before `validity` (which cannot tell)."""
    if "validity" not in claims:
        return None
    found = claims.dropna(subset=["validity"])
    if "analysis" in found:  # an interaction row joins two comparisons named already
        found = found[found["analysis"] != INTERACTION_ROW]
    keys = [key for key in NAMED_BY if key in found]
    # A comparison's rows may hold different flags (its parameter count none of the training's): it is named once,
    # with every flag any of its rows holds, in the order the claim table first names the comparisons.
    order: dict[tuple, int] = {}
    for index, row in enumerate(claims.to_dict("records")):
        order.setdefault(_comparison(row, keys), index)
    merged: dict[tuple, tuple[dict, dict]] = {}
    for row in found.to_dict("records"):
        flags = merged.setdefault(_comparison(row, keys), (row, {}))[1]
        flags.update(dict.fromkeys(row["validity"].split("; ")))  # a cell joins its flags by "; "
    ranked = sorted(merged.items(), key=lambda item: order[item[0]])
    return [f"{_group_name(named)}: {'; '.join(flags)}" for _, (named, flags) in ranked]


def _comparison(row: dict, keys: list[str]) -> tuple[str, ...]:
    """What names a row's comparison, as text: an empty cell (NaN) equals another."""
    return tuple(str(row.get(key)) for key in keys)

"""The decisions of a sequential design's looks as a file (RUN_DIR/decisions.json): each look is judged once, by
the engine when its round ends, and the claim reads what was stored instead of replaying the design. The record
names the design and margin it was judged under, so a claim asked for another margin judges the rows itself."""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from vggbench.util import knobs
from vggbench.util.validate import InputError, shown
from vggbench.verdicts.designs import Design
from vggbench.verdicts.sequential import CONTINUE, Decision
from vggbench.verdicts.train import comparison_key
from vggbench.verdicts.vocabulary import CONTRADICTED, EQUIVALENT, INCONCLUSIVE, SUPPORTED

DECISIONS_FORMAT = 3
# Records of these formats are judged anew from the rows: format 1 held each look's first Holm level, not the
# level each decision was tested at; format 2 was judged without retesting earlier looks at a share a rejection
# raised (Maurer-Bretz recycling), and holds no earlier looks' statistics to say what a retest would find.
STALE_FORMATS = (1, 2)
VERDICTS = (SUPPORTED, CONTRADICTED, EQUIVALENT, INCONCLUSIVE, CONTINUE)


def decisions_record(judged: list[dict], design: Design, margin: float) -> dict:
    """What `verdicts.train.decided_looks` judged, in plain values for a file: the design and margin it was judged
    under, and per look the comparisons judged there (a decided one at its look only), by their group and rival."""
    looks = [
        [_plain_decision(key, decision) for key, decision in decisions.items() if decision.look == number]
        for number, decisions in enumerate(judged, start=1)
    ]
    return {"format": DECISIONS_FORMAT, **_judged_under(design, margin), "looks": looks}


def _judged_under(design: Design, margin: float) -> dict:
    return {"design": {key: getattr(design, key) for key in knobs.config_keys(Design)}, "equivalence_margin": margin}


def _plain_decision(key: tuple, decision: Decision) -> dict:
    *group, rival = key
    fields = {name: _plain(value) for name, value in dataclasses.asdict(decision).items()}
    return {"group": {name: _plain(value) for name, value in group}, "rival": rival, **fields}


def _plain(value):
    """A number numpy or pandas made as the JSON module writes it."""
    return value.item() if isinstance(value, np.generic) else value


def unlike(record: dict, stored) -> str | None:
    """Why `stored` (a record read back, or anything) is not the start of `record` (`decisions_record`'s: what
    judging a resumed run's rows gives now), in words; None where `record` holds every look `stored` holds, as it
    holds it (no row changed)."""
    if not isinstance(stored, dict) or not isinstance(stored.get("looks"), list):
        return "not a record of decisions"
    if stored.get("format") != record["format"]:
        return f"written in format {shown(stored.get('format'))}, not {record['format']}"
    if any(stored.get(key) != record[key] for key in ("design", "equivalence_margin")):
        return "judged under another design or equivalence margin (the configuration changed since?)"
    looks = [[json.dumps(look, sort_keys=True) for look in found["looks"]] for found in (stored, record)]
    if looks[1][: len(looks[0])] != looks[0]:
        return "not the looks the trials' rows give (a trial redone since?)"
    return None


def recorded_decisions(record, design: Design, margin: float, where) -> dict | None:
    """The decisions a `decisions_record` read back from `where` holds, each comparison's latest, where they were
    judged under `design` and `margin`; None where under others (a claim asked for another margin judges the
    rows itself), or in a format of STALE_FORMATS. An InputError names `where` where it holds no such record."""
    if isinstance(record, dict) and record.get("format") in STALE_FORMATS:
        return None
    if (
        not isinstance(record, dict)
        or record.get("format") != DECISIONS_FORMAT
        or not isinstance(record.get("looks"), list)
    ):
        raise InputError(f"{where} is not a record of decisions (format {DECISIONS_FORMAT}): remove it to judge anew")
    if {key: record.get(key) for key in ("design", "equivalence_margin")} != _judged_under(design, margin):
        return None
    decisions = {}
    for number, entries in enumerate(record["looks"], start=1):
        for entry in entries if isinstance(entries, list) else [entries]:
            if not _is_decision(entry, number):
                named = f"look {number} holds {shown(entry)}"
                raise InputError(f"{where}: {named}, not a decision: remove it to judge anew")
            fields = {name: value for name, value in entry.items() if name not in ("group", "rival")}
            fields["history"] = tuple(map(tuple, fields["history"]))  # JSON's lists, as judging gives it
            decisions[comparison_key(entry["group"], entry["rival"])] = Decision(**fields)
    return decisions


def _is_decision(entry, look: int) -> bool:
    """Whether `entry` is a decision at look `look` as `decisions_record` writes one."""
    fields = {field.name for field in dataclasses.fields(Decision)}
    if not isinstance(entry, dict) or set(entry) != {"group", "rival", *fields} or not isinstance(entry["group"], dict):
        return False
    history = entry["history"]
    numbers = [entry[name] for name in fields - {"verdict", "look", "seeds", "history"}]
    counts = [entry["look"], entry["seeds"]]
    return (
        isinstance(entry["rival"], str)
        and entry["verdict"] in VERDICTS
        and entry["look"] == look
        and all(type(count) is int and count > 0 for count in counts)
        and isinstance(history, list)
        and len(history) == look
        and all(isinstance(found, list) and len(found) == 3 for found in history)
        and all(type(number) in (int, float) for number in numbers + [value for found in history for value in found])
    )

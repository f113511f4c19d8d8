"""Checks of user-given values; each failure is an InputError naming the value and what is allowed."""

from __future__ import annotations

import math
import re


class InputError(ValueError):
    """A bad value or input from the user (an option, a config key, a file): the command line prints its
    message and exits with status 2. Any other exception is a bug and keeps its traceback."""


DEVICES = ("cpu", "cuda")
SHOWN_CHARACTERS = 200  # of a long value, how much a message shows
MAX_SEED = 2**63 - 1  # torch.manual_seed's range


def shown(value, quoted: bool = True) -> str:
    """A user-given value as a message shows it: its repr (numpy's numbers as Python's; not `quoted`, its text),
    cut to its start, with its length, where it is long."""
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        value = value.item()
    text = repr(value) if quoted else str(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    length = len(value) if isinstance(value, (str, bytes)) else len(text)
    return f"{text[:SHOWN_CHARACTERS]}... ({length:,} characters)"


def allowed(values) -> str:
    return ", ".join(str(value) for value in values)


def did_you_mean(value, choices) -> str:
    """' (did you mean 'X'?)' where `value`, a string, is close to one of `choices` (difflib's measure, at
    least 0.6), else ''; where several are closest alike, up to three of them, and none beyond that."""
    import difflib

    if not isinstance(value, str):
        return ""
    scores = {name: difflib.SequenceMatcher(None, value, name).ratio() for name in map(str, choices)}
    best = max(scores.values(), default=0.0)
    closest = [repr(name) for name, score in scores.items() if score == best]
    if best < 0.6 or len(closest) > 3:
        return ""
    return f" (did you mean {' or '.join(closest)}?)"


def positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name}={shown(value)} is not allowed: it must be an integer >= 1")


def number(name: str, value, above: float | None = None, maximum: float | None = None) -> None:
    """A finite number, greater than `above` and at most `maximum` where they are given."""
    bounds = [f"> {above:g}"] * (above is not None) + [f"<= {maximum:g}"] * (maximum is not None)
    finite = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not finite or (above is not None and not value > above) or (maximum is not None and value > maximum):
        must = f"it must be a finite number {' and '.join(bounds)}".rstrip()
        raise InputError(f"{name}={shown(value)} is not allowed: {must}")


def at_most(name: str, value: int, limit: int, why: str) -> None:
    """An integer (>= 1) no larger than `limit`; `why` says what the limit guards."""
    positive_int(name, value)
    if value > limit:
        raise InputError(f"{name}={value:,} is not allowed: at most {limit:,} ({why})")


def one_of(name: str, value, choices) -> None:
    if value not in choices:
        raise InputError(
            f"{name}={shown(value)} is not allowed: choose one of {allowed(choices)}{did_you_mean(value, choices)}"
        )


def _cuda_available() -> bool:
    import torch  # here, not at the top: the command line's --help should not wait for torch

    return torch.cuda.is_available()


def device(value: str) -> None:
    one_of("device", value, DEVICES)
    if value == "cuda" and not _cuda_available():
        raise InputError("device='cuda' is not available: this machine has no CUDA GPU (use --device cpu)")


def default_device() -> str:
    return "cuda" if _cuda_available() else "cpu"


# What a terminal or a Markdown viewer would act on rather than show: C0 controls but the line break and the tab
# (escape sequences start with ESC), DEL, C1 controls, and the bidirectional overrides that reorder a line.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text) -> str:
    """`text` (any value, as str) as safe to print or to put in Markdown: control characters removed, and bytes
    that a path or file held but that are not UTF-8 (surrogate escapes) shown as U+FFFD."""
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return CONTROL.sub("", text)

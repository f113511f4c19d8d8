"""Knobs: the settings of a measurement, each declared once as a field of a setup dataclass.

A knob carries its default, its help text and what it allows; the study's config keys
(TOML, config.json) and the command-line options are derived from it, and the setup
checks every knob when it is made, so a bad value fails before anything runs with
an InputError (a ValueError) that names the value and what is allowed.

An *axis* knob is a list in the config and on the command line, and the study plans
one trial per value: `mode` of a speed setup is one mode, its config key `speed_modes`
a list of them.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from vggbench.util.validate import InputError, allowed, did_you_mean, shown

NOT_A_KEY = None  # Knob.key for a knob that the config does not hold (set by the planner, or command line only)


@dataclass(frozen=True)
class Knob:
    """What a setup field means and allows."""

    help: str
    key: str | None = ""  # config key; "" means the field's name, NOT_A_KEY none
    flags: tuple[str, ...] | None = ()  # command-line options; () means --field-name, None none
    choices: tuple | None = None
    minimum: float | None = None  # smallest allowed value (of each entry, for lists)
    above: float | None = None  # values must be greater than this
    maximum: float | None = None  # largest allowed value
    repeats: bool = False  # a list whose entries may repeat (a plan, as convs per block); any other gives each once
    axis: bool | tuple = False  # the config key holds a list, the study plans a trial per value; a tuple: its default
    # An axis whose config records one value as that value, not a list of one: the key was a single value before
    # it was an axis (epochs), and a run's recorded config must read the same to resume.
    one_as_value: bool = False
    metavar: str | None = None
    group: str | None = None  # command-line help group; None: the setup's GROUP


def knob(default=dataclasses.MISSING, help: str = "", *, factory=dataclasses.MISSING, **options):
    """A setup field with its default (or default factory) and its Knob."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"knob": Knob(help, **options)})


@dataclass(frozen=True)
class Option:
    """One knob of one setup class, as the config and the command line see it."""

    name: str  # the field
    key: str | None
    knob: Knob
    kind: type  # int, float, str or bool (of each entry, for lists)
    is_list: bool  # a tuple field, or an axis
    optional: bool  # None is allowed
    nested: bool  # an entry may be a list of `kind` too (a block's widths, one per conv)
    default: object  # dataclasses.MISSING where a factory gives it

    @property
    def flags(self) -> tuple[str, ...]:
        if self.knob.flags is None:
            return ()
        return self.knob.flags or ("--" + self.name.replace("_", "-"),)


def _unpack(annotation) -> tuple[type, bool, bool, bool]:
    """(entry type, is a tuple, allows None, an entry may be a tuple of the type) of a field annotation such as
    `tuple[int, ...] | None` or `tuple[int | tuple[int, ...], ...]`."""
    arguments = typing.get_args(annotation)
    optional = type(None) in arguments
    if optional:
        annotation = next(argument for argument in arguments if argument is not type(None))
    if typing.get_origin(annotation) is tuple:
        entry = typing.get_args(annotation)[0]
        kinds = typing.get_args(entry)  # of `int | tuple[int, ...]`: (int, tuple[int, ...])
        return (kinds[0] if kinds else entry), True, optional, bool(kinds)
    return annotation, False, optional, False


@functools.cache
def options(cls) -> tuple[Option, ...]:
    """The knobs of setup class `cls`, in field order (inherited ones first)."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        if "knob" not in field.metadata:
            continue
        meta: Knob = field.metadata["knob"]
        kind, is_tuple, optional, nested = _unpack(hints[field.name])
        default = field.default
        key = field.name if meta.key == "" else meta.key
        found.append(Option(field.name, key, meta, kind, is_tuple or meta.axis, optional, nested, default))
    return tuple(found)


def _must_be(option: Option) -> str:
    words = {bool: "true or false", int: "an integer", float: "a finite number", str: "a string"}[option.kind]
    bounds = []
    if option.knob.minimum is not None:
        bounds.append(f">= {_bound(option.knob.minimum)}")
    if option.knob.above is not None:
        bounds.append(f"> {_bound(option.knob.above)}")
    if option.knob.maximum is not None:
        bounds.append(f"<= {_bound(option.knob.maximum)}")
    must = " ".join([words, " and ".join(bounds)]).strip()
    return f"{must}, or a non-empty list of such" if option.nested else must


def _bound(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def _label(option: Option, entry: bool = False) -> tuple[str, str]:
    """How a message names a knob: its config key (or field), an entry of it, and its option where that differs."""
    name = (option.key or option.name) + (" entry" if entry else "")
    flag = option.flags[0] if option.flags else None
    return name, f" ({flag})" if flag and flag != "--" + (option.key or "").replace("_", "-") else ""


def _refuse(option: Option, value, why: str, entry: bool = False) -> InputError:
    name, flag = _label(option, entry)
    return InputError(f"{name}={shown(value)} is not allowed{flag}: {why}")


def _check_entry(value, option: Option, entry: bool = False) -> None:
    if option.nested and isinstance(value, (list, tuple)):
        if not value or any(isinstance(part, (list, tuple)) for part in value):
            raise _refuse(option, list(value), f"it must be {_must_be(option)}", entry)
        for part in value:
            _check_entry(part, dataclasses.replace(option, nested=False), entry)
        return
    kind, meta = option.kind, option.knob
    right_type = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
        str: isinstance(value, str),
    }[kind]
    out_of_range = right_type and (
        (meta.minimum is not None and value < meta.minimum)
        or (meta.above is not None and not value > meta.above)
        or (meta.maximum is not None and value > meta.maximum)
    )
    if not right_type or out_of_range:
        raise _refuse(option, value, f"it must be {_must_be(option)}", entry)
    if meta.choices is not None and value not in meta.choices:
        raise _refuse(option, value, f"choose one of {allowed(meta.choices)}{did_you_mean(value, meta.choices)}", entry)


def check_value(cls, key: str, value) -> None:
    """Check `value` as one value of config key `key` of setup class `cls` (an InputError names the key and what is
    allowed): a value a setup will be made with later, as a search space's."""
    (option,) = [option for option in options(cls) if option.key == key]
    _check_entry(value, option)


def check(setup) -> None:
    """Check every knob of `setup`; an InputError names the first bad value and what is allowed."""
    for option in options(type(setup)):
        value = getattr(setup, option.name)
        if value is None and option.optional:
            continue
        if not option.is_list or option.knob.axis:
            _check_entry(value, option)
            continue
        if not isinstance(value, tuple) or not value:
            raise _refuse(option, value, "give a non-empty list")
        for entry in value:
            _check_entry(entry, option, entry=True)
        _check_once(option, value)


def _check_once(option: Option, value: tuple) -> None:
    """Refuse a list that gives a value twice (kinds, seeds, a model's ratios...: each would run twice), unless
    its entries may repeat."""
    repeated = [entry for entry, count in collections.Counter(value).items() if count > 1]
    if repeated and not option.knob.repeats:
        raise _refuse(option, value, f"give each value once ({allowed(repeated)} repeated)")


def refuse_ignored(setup, name: str, applies: bool, by: str, where: str) -> None:
    """Refuse knob `name` of `setup` set away from its default where knob `by` has it ignored (`applies` false):
    momentum with optimizer adam. `where` says when it applies."""
    named = {option.name: option for option in options(type(setup))}
    option, value = named[name], getattr(setup, name)
    if not applies and value != option.default:
        label, flag = _label(option)
        setting = f"{named[by].key}={shown(getattr(setup, by))}"
        raise InputError(
            f"{label}={shown(value)} is not allowed{flag} with {setting}: it applies only {where} (leave it at "
            f"{option.default!r})"
        )


class Setup:
    """Base of every setup dataclass: list fields are made tuples (a single value, a list of one), then
    every knob is checked."""

    GROUP = "settings"  # the command-line help group of its knobs

    def __post_init__(self) -> None:
        for option in options(type(self)):
            value = getattr(self, option.name)
            if option.is_list and not option.knob.axis and value is not None:
                entries = as_list(value)
                if option.nested:  # an entry's list (from TOML) as a tuple: setups are hashable
                    entries = tuple(tuple(entry) if isinstance(entry, list) else entry for entry in entries)
                object.__setattr__(self, option.name, entries)
        check(self)


def as_list(value) -> tuple:
    """A config value that should be a list: a single value is a list of one."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    return (value,)


def config_keys(cls) -> list[str]:
    return [option.key for option in options(cls) if option.key is not None]


def settings(cls, values: Mapping[str, object]) -> dict[str, object]:
    """The config keys of setup class `cls`, each from `values` or its default; axes as tuples.

    The result holds every key, so that config.json records the defaults a run used.
    Building the setups (`expand`) checks the values.
    """
    made = expand(cls, values)[0]
    result: dict[str, object] = {}
    for option in options(cls):
        if option.key is None:
            continue
        result[option.key] = _recorded_axis(option, values) if option.knob.axis else getattr(made, option.name)
    return result


def _recorded_axis(option: Option, values: Mapping[str, object]):
    """An axis's values as the config records them: a list, or its one value where the knob says so."""
    entries = _axis_values(option, values)
    return entries[0] if option.knob.one_as_value and len(entries) == 1 else entries


def _axis_values(option: Option, values: Mapping[str, object]) -> tuple:
    """An axis's values: those given (each once, in order), else its default list, else its field's default."""
    if values.get(option.key) is not None:
        entries = as_list(values[option.key])
        if not entries:
            raise InputError(f"{option.key}={shown(values[option.key])} is not allowed: give a non-empty list")
        for entry in entries:  # each of its type (a list or table from TOML refused) before they are compared
            _check_entry(entry, option)  # named as the setup names a bad axis value
        _check_once(option, entries)
        return entries
    return option.knob.axis if isinstance(option.knob.axis, tuple) else (option.default,)


def expand(cls, values: Mapping[str, object], fixed: Mapping[str, object] | None = None) -> list:
    """Every setup of class `cls` that `values` (config keys) describe: one per combination of axis values.

    `fixed` gives fields by name (not config keys) that the caller sets, such as a trial's seed.
    """
    scalars: dict[str, object] = dict(fixed or {})
    axes: dict[str, tuple] = {}
    for option in options(cls):
        if option.key is None:
            continue
        if option.knob.axis:
            axes[option.name] = _axis_values(option, values)
        elif values.get(option.key) is not None or (option.key in values and option.optional):
            scalars[option.name] = values[option.key]  # otherwise (not set) the default applies
    combinations = itertools.product(*axes.values()) if axes else [()]
    return [cls(**scalars, **dict(zip(axes, combination, strict=True))) for combination in combinations]

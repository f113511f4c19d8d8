"""What a figure is, as a kind (`Kind.figures`) or the report declares it: the report draws each one it is given
into RUN_DIR/figures/NAME.png and .svg and shows it on the page under its title, with its caption."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Sources:
    """What a figure is drawn from: the tables it reads by name (an empty one where the run has none), the run's
    configuration (config.json; {} where there is none) and its folders by name (`folder` refuses a link)."""

    tables: Mapping[str, pd.DataFrame]
    config: Mapping[str, object]
    folder: Callable[[str], Path]


@dataclass(frozen=True)
class Figure:
    """A figure: its file and anchor `name`, the page's `title` and `caption`, the tables it `reads` (only these are
    in its Sources) and how to `draw` it: a matplotlib Figure, or None where the run has no data for it."""

    name: str
    title: str
    caption: str
    reads: tuple[str, ...]
    draw: Callable[[Sources], object]

    @classmethod
    def of_table(cls, name: str, title: str, caption: str, table: str, draw: Callable[[pd.DataFrame], object]):
        """A figure drawn from one table alone, named once: `draw` gets that table."""
        return cls(name, title, caption, (table,), lambda run: draw(run.tables[table]))

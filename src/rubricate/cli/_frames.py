"""Printing polars frames as rich tables: rates as percentages, intervals, counts with separators."""

from __future__ import annotations

import math
from typing import Any

import polars as pl
from rich.markup import escape
from rich.table import Table


def cell(value: Any, *, percent: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.1%}" if percent else f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return escape(str(value))


def interval(lo: float | None, hi: float | None) -> str:
    return "-" if lo is None or hi is None else f"{lo:.1%}–{hi:.1%}"


def frame_table(frame: pl.DataFrame, title: str | None = None, *, percent: tuple[str, ...] = (),
                headers: dict[str, str] | None = None, max_rows: int | None = None) -> Table:
    """Every column of `frame`; columns named in `percent` as percentages, numbers right-aligned."""
    headers = headers or {}
    table = Table(title=escape(title) if title else None, title_justify="left")
    for name, dtype in frame.schema.items():
        table.add_column(escape(headers.get(name, name)), justify="right" if dtype.is_numeric() else "left")
    shown = frame if max_rows is None else frame.head(max_rows)
    for row in shown.iter_rows():
        table.add_row(*(cell(v, percent=name in percent) for name, v in zip(frame.columns, row)))
    return table

"""Cell values: what a table row holds before it is written.

Cells are small values (`Text`, `Number`, `Date`, `Formula`) so that every
string from the inputs goes through `write_string` and can never become a
formula, a URL or a number, whatever it starts with. `write_cell` writes one
through XlsxWriter's own methods; `fast_xml.Worksheet.append_row` writes a
whole row of them at once, byte for byte the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import xlsxwriter.format
import xlsxwriter.worksheet

Format = xlsxwriter.format.Format


@dataclass(slots=True)  # not frozen: ~4x cheaper to create, one per cell
class Text:
    value: object
    fmt: Format | None = None


@dataclass(slots=True)
class Number:
    value: Decimal | int | float | None
    fmt: Format | None = None


@dataclass(slots=True)
class Date:
    value: dt.date | dt.datetime | None
    fmt: Format | None = None


@dataclass(slots=True)
class Formula:
    """A live formula and the value it evaluates to (stored for previews).

    `{r}` in the formula stands for the Excel row number the cell lands on,
    which is only known once the table has decided which sheet part it is on.
    """

    formula: str
    value: Decimal | int | float | str | None
    fmt: Format | None = None


Cell = Text | Number | Date | Formula | None


def difference_cell(
    left: Decimal | None,
    right: Decimal | None,
    value: Decimal | None,
    columns: tuple[str, str],
    decimals: int,
    fmt: Format | None,
) -> Formula | Number:
    """`value` as the live `=ROUND(<left>{r}-<right>{r},decimals)` when left - right is it.

    A figure that is the difference of two cells of its row stays a formula an
    accountant can follow, but only when the warehouse's figures tie; otherwise
    (a blank, or a difference the warehouse did not compute that way) the stored
    number is written as it is, never a formula that would show another value.
    """
    if None not in (left, right, value) and left - right == value:  # type: ignore[operator]
        return Formula(f"=ROUND({columns[0]}{{r}}-{columns[1]}{{r}},{decimals})", value, fmt)
    return Number(value, fmt)


def to_excel_number(value: Decimal | int | float) -> float | int:
    """Decimal -> float at the very last moment (XlsxWriter stores doubles)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return float(value)


def naive_utc(value: dt.date | dt.datetime) -> dt.date | dt.datetime:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def write_cell(
    ws: xlsxwriter.worksheet.Worksheet, row0: int, col: int, cell: Cell, excel_row: int = 0
) -> None:
    """Write one cell value with the writer matching its type."""
    if cell is None:
        return
    kind = type(cell)
    value = cell.value
    if value is None and kind is not Formula:
        if cell.fmt is not None:
            ws.write_blank(row0, col, None, cell.fmt)
    elif kind is Text:
        ws.write_string(row0, col, value if type(value) is str else str(value), cell.fmt)
    elif kind is Number:
        ws.write_number(row0, col, to_excel_number(value), cell.fmt)  # type: ignore[arg-type]
    elif kind is Formula:
        formula = cell.formula  # type: ignore[union-attr]
        if "{r}" in formula:
            formula = formula.replace("{r}", str(excel_row))
        stored: float | int | str
        if value is None:
            stored = ""
        elif isinstance(value, str):
            stored = value
        else:
            stored = to_excel_number(value)
        ws.write_formula(row0, col, formula, cell.fmt, stored)
    elif kind is Date:
        ws.write_datetime(row0, col, naive_utc(value), cell.fmt)  # type: ignore[arg-type]
    else:  # pragma: no cover - a programming error
        raise TypeError(f"not a cell: {cell!r}")

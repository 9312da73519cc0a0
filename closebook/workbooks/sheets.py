"""Streaming table sheets: a header row, rows in order, split past Excel's row limit.

Every table in the four workbooks is written through `TableSheet`: rows go out
one at a time (XlsxWriter `constant_memory`), so a 10-million-line month never
sits in memory, and a table longer than one sheet continues on "Name (2)",
"Name (3)" ... Totals elsewhere refer to every part through `ranges()`.

Rows are lists of cells (cells.py); a row whose cells the fast path covers is
written by `fast_xml.Worksheet.append_row` in one piece, any other through
XlsxWriter's own methods, with the same bytes either way.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import xlsxwriter.workbook
import xlsxwriter.worksheet
from xlsxwriter.utility import xl_col_to_name

from .cells import Cell, Date, Format, Formula, Number, Text, to_excel_number, write_cell
from .fast_xml import (
    FORMULA_REWRITE_NEEDLES,
    Workbook,
    Worksheet,
    xlsxwriter_would_rewrite,
)
from .formats import Formats

__all__ = [
    "FORMULA_REWRITE_NEEDLES",
    "Cell",
    "Date",
    "Format",
    "Formula",
    "Number",
    "Text",
    "Workbook",
    "Worksheet",
    "to_excel_number",
    "write_cell",
    "xlsxwriter_would_rewrite",
]

# Excel's hard limit, header row included. A module constant so tests can
# lower it (to 5, say) and see tables split without writing a million rows.
MAX_ROWS_PER_SHEET = 1_048_576
MAX_SHEET_NAME = 31

WORKBOOK_OPTIONS = {
    "constant_memory": True,
    # Text from the inputs is only ever text: never a formula, URL or number.
    "strings_to_formulas": False,
    "strings_to_urls": False,
    "strings_to_numbers": False,
    "nan_inf_to_errors": True,
}


@dataclass(frozen=True)
class Column:
    header: str
    width: float = 14
    numeric: bool = False  # a column of figures: header right-aligned over them
    wrap: bool = False  # long free text (reasons, descriptions): wraps instead of being cut


class Location(NamedTuple):
    """Where a table row landed: sheet name and 1-based Excel row number.

    A NamedTuple (one per row written): several times cheaper to make than a
    frozen dataclass, and as immutable.
    """

    sheet: str
    row: int


def quote_sheet(name: str) -> str:
    """A sheet name as a formula reference needs it: 'Invoice lines'."""
    return "'" + name.replace("'", "''") + "'"


PAPER_SIZES = {"letter": 1, "a4": 9}  # XlsxWriter's paper indexes
# Printable width of a landscape page at 100 %, in column-width units: measured
# on LibreOffice's PDF of the sample (Letter 11 in, A4 11.69 in, less 0.8 in of
# margins; a unit prints at about 0.1 in with its padding).
PRINTABLE_UNITS = {"letter": 100.0, "a4": 106.0}
MIN_PRINT_SCALE = 80  # 11 pt Calibri at 80 % prints at ~9 pt: still readable
LINE_HEIGHT = 15  # points per line of wrapped text (11 pt Calibri)
MAX_LINES = 8  # a row grows for wrapped text up to this many lines
CHARS_PER_UNIT = 1.15  # average characters of proportional text per column-width unit


def print_scale(paper: str, width: float) -> int | None:
    """The print scale (%) that fits `width` units on one page, or None when it needs none.

    Below MIN_PRINT_SCALE the sheet prints at that scale across several pages
    wide instead: a page that is readable beats one that fits.
    """
    available = PRINTABLE_UNITS[paper]
    if width <= available:
        return None
    return max(MIN_PRINT_SCALE, int(100 * available / width))


def set_print_setup(
    ws: xlsxwriter.worksheet.Worksheet,
    paper: str = "letter",
    repeat_header: bool = True,
    width: float = 0,
) -> None:
    """Landscape on the chosen paper, header row on every page, sheet name in the footer.

    A sheet wider than the page is scaled down to fit one page wide, but never
    below MIN_PRINT_SCALE: wider still, it prints on more pages across.
    """
    ws.set_landscape()
    ws.set_paper(PAPER_SIZES[paper])
    scale = print_scale(paper, width)
    if scale is not None:
        ws.set_print_scale(scale)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
    ws.set_footer("&L&A&RPage &P of &N")
    if repeat_header:
        ws.repeat_rows(0)


@dataclass
class _Part:
    name: str
    worksheet: xlsxwriter.worksheet.Worksheet
    rows: int = 0  # data rows written (header excluded)
    header: int = 0  # 0-based row of the header


class TableSheet:
    """A table: header row frozen, autofilter, rows appended in order.

    When a sheet is full (`MAX_ROWS_PER_SHEET`, header included) the table
    continues on the next sheet, named "<name> (2)". Give `expected_rows`
    (a cheap `count(*)`) and all parts are added at once, so two tables
    streamed side by side keep their parts together in the sheet order;
    without it (or past it) a part is added when needed.
    """

    def __init__(
        self,
        workbook: xlsxwriter.workbook.Workbook,
        fmts: Formats,
        name: str,
        columns: Sequence[Column],
        expected_rows: int = 0,
        top: int = 0,
        preamble: Callable[[xlsxwriter.worksheet.Worksheet, TableSheet], None] | None = None,
    ) -> None:
        if len(name) > MAX_SHEET_NAME - 6:
            raise ValueError(f"sheet name too long to number its parts: {name}")
        self.workbook = workbook
        self.fmts = fmts
        self.name = name
        self.columns = list(columns)
        self.parts: list[_Part] = []
        self._current = 0
        # Rows above the first part's header: a small block written by `preamble`
        # (before the header: constant_memory writes rows in order), whose
        # formulas use `ranges(..., planned=True)`.
        self.top = top
        self.expected_rows = expected_rows
        # (column, characters per line) of the columns whose text wraps.
        self._wrap_widths = [
            (i, int(column.width * CHARS_PER_UNIT))
            for i, column in enumerate(self.columns)
            if column.wrap
        ]
        for _ in range(len(self._planned_rows())):
            self._new_part()
        if preamble is not None:
            preamble(self.parts[0].worksheet, self)
        self._write_header(self.parts[0])

    def column_letter(self, header: str) -> str:
        """The column letter of a header, for formulas."""
        for index, column in enumerate(self.columns):
            if column.header == header:
                return xl_col_to_name(index)
        raise KeyError(header)

    def _planned_rows(self) -> list[int]:
        """Data rows each part will hold when `expected_rows` rows are appended."""
        planned, left = [], self.expected_rows
        while True:
            capacity = MAX_ROWS_PER_SHEET - 1 - (self.top if not planned else 0)
            planned.append(min(left, capacity))
            left -= planned[-1]
            if left <= 0:
                return planned

    def _new_part(self) -> None:
        number = len(self.parts) + 1
        name = self.name if number == 1 else f"{self.name} ({number})"
        ws = self.workbook.add_worksheet(name)
        header = self.top if number == 1 else 0
        for col, column in enumerate(self.columns):
            ws.set_column(col, col, column.width)
        ws.freeze_panes(header + 1, 0)
        set_print_setup(ws, self.fmts.paper, width=sum(c.width for c in self.columns))
        if header:
            ws.repeat_rows(header)
        part = _Part(name, ws, header=header)
        self.parts.append(part)
        if number > 1:
            self._write_header(part)

    def _write_header(self, part: _Part) -> None:
        part.worksheet.set_row(part.header, 30)
        for col, column in enumerate(self.columns):
            part.worksheet.write_string(
                part.header, col, column.header, self.fmts.header(column.numeric)
            )

    def next_location(self) -> Location:
        """Where the next appended row will land (opens a new part if full)."""
        part = self.parts[self._current]
        if part.header + part.rows + 1 >= MAX_ROWS_PER_SHEET:
            self._current += 1
            if self._current == len(self.parts):
                self._new_part()
            part = self.parts[self._current]
        return Location(part.name, part.header + part.rows + 2)

    def append(self, cells: Sequence[Cell]) -> Location:
        """Write one row; `{r}` in formulas becomes the row's Excel number.

        A row whose wrapped text needs more than one line is made that tall
        (spreadsheets do not grow rows on open, so long reasons would be cut).
        """
        location = self.next_location()
        part = self.parts[self._current]
        row0 = location.row - 1
        lines = 1
        for col, width in self._wrap_widths:
            cell = cells[col] if col < len(cells) else None
            if cell is not None and type(cell.value) is str:
                text = cell.value
                if len(text) <= width and "\n" not in text:
                    continue  # one line: the common case, without splitting
                needed = sum(-(-max(len(piece), 1) // width) for piece in text.split("\n"))
                lines = max(lines, needed)
        height = LINE_HEIGHT * min(lines, MAX_LINES) if lines > 1 else None
        ws = part.worksheet
        if isinstance(ws, Worksheet) and ws.append_row(row0, cells, location.row, height):
            part.rows += 1
            return location
        if height is not None:
            ws.set_row(row0, height)
        for col, cell in enumerate(cells):
            write_cell(ws, row0, col, cell, location.row)
        part.rows += 1
        return location

    @property
    def row_count(self) -> int:
        return sum(part.rows for part in self.parts)

    def ranges(self, header: str, planned: bool = False) -> list[str]:
        """The column's data range on every part, e.g. 'Lines'!$G$2:$G$9.

        An empty part still gets a one-cell range (its empty first data row),
        so a SUMIFS over it is 0 rather than a broken reference. `planned`:
        the ranges the parts will have once `expected_rows` are appended.
        """
        letter = self.column_letter(header)
        planned_rows = self._planned_rows() if planned else []
        out = []
        for index, part in enumerate(self.parts):
            rows = planned_rows[index] if planned else part.rows
            first = part.header + 2
            last = max(part.header + rows + 1, first)
            out.append(f"{quote_sheet(part.name)}!${letter}${first}:${letter}${last}")
        return out

    def finish(self) -> None:
        """Autofilter over each part's rows (set last: the extent is known now)."""
        last_col = len(self.columns) - 1
        for part in self.parts:
            last_row = part.header + max(part.rows, 1)
            part.worksheet.autofilter(part.header, 0, last_row, last_col)
            # Charts beside a table are for the screen; the printout is the table.
            part.worksheet.print_area(0, 0, last_row, last_col)


def sumifs(
    table: TableSheet,
    sum_header: str,
    criteria: Sequence[tuple[str, str]],
    planned: bool = False,
) -> str:
    """SUMIFS over every part of a table, added up: criteria are (header, expression).

    `planned`: over the ranges the table will have when complete (for a cell
    written while the table is still being appended to).
    """
    terms = []
    for index, sum_range in enumerate(table.ranges(sum_header, planned)):
        args = [sum_range]
        for header, expression in criteria:
            args += [table.ranges(header, planned)[index], expression]
        terms.append("SUMIFS(" + ",".join(args) + ")")
    return "+".join(terms)


def countifs(table: TableSheet, criteria: Sequence[tuple[str, str]], planned: bool = False) -> str:
    """COUNTIFS over every part of a table, added up."""
    terms = []
    for index in range(len(table.parts)):
        args: list[str] = []
        for header, expression in criteria:
            args += [table.ranges(header, planned)[index], expression]
        terms.append("COUNTIFS(" + ",".join(args) + ")")
    return "+".join(terms)


@contextlib.contextmanager
def atomic_workbook(
    path: Path, properties: dict[str, object]
) -> Iterator[xlsxwriter.workbook.Workbook]:
    """Write a workbook to a temporary file beside `path`, then `os.replace` it.

    A crash mid-write leaves the previous workbook in place and removes the
    temporary file: an accountant never opens half a workbook.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx.tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        workbook = Workbook(str(tmp), WORKBOOK_OPTIONS)
        workbook.set_properties(properties)
        try:
            yield workbook
        except BaseException:
            # Close anyway so XlsxWriter drops its temporary row files.
            with contextlib.suppress(Exception):
                workbook.close()
            raise
        workbook.close()
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are for others to read
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def summary_sheet(
    workbook: xlsxwriter.workbook.Workbook, fmts: Formats, name: str, widths: Sequence[float]
) -> xlsxwriter.worksheet.Worksheet:
    """A small sheet of totals blocks (not a streamed table): print setup, widths."""
    ws = workbook.add_worksheet(name)
    set_print_setup(ws, fmts.paper, width=sum(widths))
    for col, width in enumerate(widths):
        ws.set_column(col, col, width)
    ws.freeze_panes(1, 0)
    return ws


def write_block(
    ws: xlsxwriter.worksheet.Worksheet,
    row0: int,
    headers: Sequence[str],
    fmts: Formats,
    rows: Sequence[Sequence[Cell]],
) -> int:
    """A header row and its rows starting at `row0`; returns the row after a blank gap.

    Blocks on a totals sheet are separated by one blank row, which is how
    `verify` finds them again.
    """
    first = rows[0] if rows else []
    ws.set_row(row0, 30)  # room for a wrapped two-word header
    for col, header in enumerate(headers):
        numeric = col < len(first) and isinstance(first[col], Number | Formula)
        ws.write_string(row0, col, header, fmts.header(numeric))
    for cells in rows:
        row0 += 1
        for col, cell in enumerate(cells):
            write_cell(ws, row0, col, cell, row0 + 1)
    return row0 + 2


# --- Sums keyed on a value, that survive sorting ----------------------------------
#
# A total that reads rows of another sheet must give the same value after either
# sheet is sorted, so it finds its rows by a key (invoice number, account,
# currency), never by their position. SUMIFS/COUNTIFS do that and recalculate
# fast, but a SUMIFS criterion is itself parsed: `*`, `?` and `~` are
# wildcards, a leading `<`, `>` or `=` is an operator, text that reads as a
# number or a date ("1-30", "Mar-5", "00123") matches numbers, and the match
# ignores case. Keys that could be misread (`plain_key` is False) are matched
# with EXACT in a SUMPRODUCT instead: exact, but linear in the rows per cell,
# which is fine for the few keys that need it.

_PLAIN_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")
_DATE_WORDS = frozenset(
    (
        "jan",
        "feb",
        "mar",
        "apr",
        "may",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "january",
        "february",
        "march",
        "april",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "am",
        "pm",
    )
)


_LETTER = re.compile(r"[A-Za-z]").search
_KEY_TOKENS = re.compile(r"[-_.]").split
# A letter float() never accepts (it reads only e, and inf, infinity, nan, any case).
_NOT_IN_A_FLOAT = re.compile(r"[bcdghj-mo-su-xzBCDGHJ-MO-SU-XZ]").search


def plain_key(value: object) -> bool:
    """Whether a key can be a SUMIFS criterion as it is (see above).

    Asked once per register row, so the cheap tests come first.
    """
    if not isinstance(value, str) or not _PLAIN_KEY.fullmatch(value):
        return False
    if not _LETTER(value):
        return False
    if any(token in _DATE_WORDS for token in _KEY_TOKENS(value.lower())):
        return False
    if _NOT_IN_A_FLOAT(value):
        return True  # cannot read as a number
    try:
        float(value)  # 1e5, inf, nan
    except ValueError:
        return True
    return False


def keyed_total(
    table: TableSheet,
    sum_header: str | None,
    keys: Sequence[tuple[str, str]],
    conditions: Sequence[tuple[str, str]] = (),
    plain: bool = True,
    planned: bool = False,
) -> str:
    """Sum (or count, `sum_header` None) of the rows of every part of `table` with these keys.

    `keys` are (header, cell reference holding the key), `conditions` are
    (header, numeric criterion such as ">0"). With `plain` the keys go into
    SUMIFS/COUNTIFS; otherwise each is compared with EXACT in a SUMPRODUCT.
    `planned` as in `sumifs`.
    """
    if plain:
        criteria = [*keys, *((header, f'"{op}"') for header, op in conditions)]
        if sum_header is None:
            return countifs(table, criteria, planned)
        return sumifs(table, sum_header, criteria, planned)

    def ranges(header: str) -> list[str]:
        return table.ranges(header, planned)

    terms = []
    for index in range(len(table.parts)):
        factors = [f"EXACT({ranges(h)[index]},{ref})" for h, ref in keys]
        factors += [f"({ranges(h)[index]}{op})" for h, op in conditions]
        product = "*".join(f"({factor})" for factor in factors)
        if sum_header is None:
            product = "1*" + product  # TRUE/FALSE to 1/0, so SUMPRODUCT counts them
        else:
            product += "*" + ranges(sum_header)[index]
        terms.append(f"SUMPRODUCT({product})")
    return "+".join(terms)

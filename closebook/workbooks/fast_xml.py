"""XlsxWriter's worksheet XML, written faster and byte for byte the same.

XlsxWriter is pure Python and spends most of a big workbook's time in its
per-cell machinery. `Worksheet` keeps everything XlsxWriter does (styles,
print setup, charts, the zip) and replaces only the hot inner steps with
code that writes the same bytes: formulas it would not rewrite, the common
cells' `<c>` elements, and a whole table row at once (`append_row`).
tests/test_workbooks.py writes the workbooks and sheets of awkward cells both
ways and compares every part.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import io
import math
import re
import threading
from collections.abc import Sequence
from typing import Any

import xlsxwriter
import xlsxwriter.utility
import xlsxwriter.workbook
import xlsxwriter.worksheet
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell_fast

from .cells import Cell, Date, Format, Formula, Number, Text, naive_utc, to_excel_number

FUTURE_GATE = "if not self.use_future_functions and not expand_future_functions:"


def _needles(patterns: list[str]) -> tuple[str, ...] | None:
    needles = set()
    for pattern in patterns:
        name = re.fullmatch(r"\\[bS]([A-Z0-9.]+)\\\(", pattern)
        if name is None or name.group(1).endswith("."):
            return None
        needles.add(name.group(1).rsplit(".", 1)[-1] + "(")
    return tuple(sorted(needles))


def _formula_rewrite_needles() -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Literal text that must occur wherever XlsxWriter's `_prepare_formula` rewrites a formula.

    Returns (needles always applied, needles applied with future functions on).

    XlsxWriter runs 29 `re.sub` calls on every formula (155 with
    `use_future_functions`) to prefix functions newer than Excel 2007 with
    `_xlfn.` (pattern `\\bXLOOKUP\\(` makes `_xlfn.XLOOKUP(`). Our formulas use
    none of them, yet those substitutions took a third of the write time.

    Each pattern is `\\b` (or `\\S`), a function name whose `.` is a regex
    wildcard, and `\\(`; the name's part after its last `.`, plus `(`, is
    literal text every match contains (`\\bT.DIST.2T\\(` needs `2T(`). The
    patterns are read from XlsxWriter's own source, so a new version's list
    is picked up; if the method is no longer the `=`/`{}` stripping, one block
    of such `re.sub` calls, the future-functions gate and a second block, or
    its source is unavailable, this returns None and every formula takes
    XlsxWriter's own path.
    """
    try:
        source = inspect.getsource(xlsxwriter.worksheet.Worksheet._prepare_formula)
    except (OSError, TypeError):  # pragma: no cover - no source shipped
        return None
    if source.count(FUTURE_GATE) != 1:
        return None
    blocks = source.split(FUTURE_GATE)
    patterns = [re.findall(r're\.sub\(\s*r"([^"]+)",', block) for block in blocks]
    stripping = 3  # formula = formula[1:] ("{", "=") and formula[:-1] ("}")
    if source.count("formula = ") != len(patterns[0]) + len(patterns[1]) + stripping:
        return None
    always, future = _needles(patterns[0]), _needles(patterns[0] + patterns[1])
    if not always or not future:
        return None
    return always, future


FORMULA_REWRITE_NEEDLES = _formula_rewrite_needles()
# The same needles as one regex of literal alternatives (faster than `in` x 29).
_NEEDLE_SEARCH = (
    None
    if FORMULA_REWRITE_NEEDLES is None
    else tuple(
        re.compile("|".join(re.escape(needle) for needle in needles)).search
        for needles in FORMULA_REWRITE_NEEDLES
    )
)


def xlsxwriter_would_rewrite(formula: str, future_functions: bool = False) -> bool:
    """Whether XlsxWriter's `_prepare_formula` might change more than the leading `=`."""
    if _NEEDLE_SEARCH is None:
        return True
    return _NEEDLE_SEARCH[1 if future_functions else 0](formula) is not None


class Worksheet(xlsxwriter.worksheet.Worksheet):
    """XlsxWriter's worksheet with three fast paths, byte-identical in output.

    Formulas it would not rewrite (`_prepare_formula`), the common cells' XML
    (`_write_cell`), and whole table rows (`append_row`): XlsxWriter's
    per-cell machinery (a call, a dimension check and a tuple per cell, then
    an attribute list per cell when the row is written) was most of the time
    of a big workbook. Only our workbooks use this class (`Workbook` below);
    nothing is patched globally. The XML written is byte-identical
    (tests/test_workbooks.py writes the workbooks and sheets of awkward cells
    both ways and compares).
    """

    def __init__(self) -> None:
        super().__init__()
        # The row `append_row` took, kept until XlsxWriter would write it (see there).
        self._pending: str | list[str | Format] | None = None
        self._row_suffixes: dict[tuple[int | None, int], str] = {}
        self._date_tails: dict[dt.date, str] = {}
        self._formula_pieces: dict[str, tuple[str, ...] | None] = {}

    def _prepare_formula(self, formula: str, expand_future_functions: bool = False) -> str:
        """XlsxWriter's `_prepare_formula`, skipping the rewrites that cannot apply.

        It strips the leading `=` (and array braces), then applies each of its
        `re.sub` rewrites in turn. When the formula contains none of the
        literal text those patterns need (`xlsxwriter_would_rewrite`), no
        substitution can match (and without a first change there is nothing
        new for a later one to match), so its result is the stripped formula:
        all this fast path does. Anything else goes through XlsxWriter.
        """
        future = self.use_future_functions or expand_future_functions
        if xlsxwriter_would_rewrite(formula, future):
            return super()._prepare_formula(formula, expand_future_functions)
        if formula.startswith("{"):
            formula = formula[1:]
        if formula.startswith("="):
            formula = formula[1:]
        if formula.endswith("}"):
            formula = formula[:-1]
        return formula

    def _write_cell(self, row: int, col: int, cell: Any) -> None:
        """XlsxWriter's `<c>` element, written directly for the cells we write most.

        XlsxWriter builds an attribute list per cell and escapes each
        attribute; for a cell with a format, its `r` (an A1 reference) and `s`
        (an integer) never need escaping. Handled here, byte for byte as
        XlsxWriter writes them: numbers and dates, in-line strings that no
        escape or whitespace rule touches (`_PLAIN_STRING`), formulas with a
        numeric value, blanks. Everything else (no format, shared strings,
        rich strings, text values, booleans, arrays...) goes to XlsxWriter.
        """
        fmt = cell.format
        kind = type(cell)
        if kind is _FORMULA and type(cell.value) is str and cell.value == "":
            # XlsxWriter writes an empty text result as `<v></v>` with no type,
            # which a viewer that does not recalculate reads as a number (or
            # nothing). An empty string is text: `t="str"`.
            style = "" if fmt is None else f' s="{fmt._get_xf_index()}"'
            formula = self._escape_data(cell.formula)
            self.fh.write(
                f'<c r="{xl_rowcol_to_cell_fast(row, col)}"{style} t="str">'
                f"<f>{formula}</f><v></v></c>"
            )
            return
        if fmt is None or kind not in _FAST_CELLS:
            super()._write_cell(row, col, cell)
            return
        head = f'<c r="{xl_rowcol_to_cell_fast(row, col)}" s="{fmt._get_xf_index()}"'
        if kind is _NUMBER or kind is _DATETIME:
            self.fh.write(f"{head}><v>{cell.number:.16G}</v></c>")
        elif kind is _STRING:
            string = cell.string
            if not self.constant_memory or _PLAIN_STRING.search(string):
                super()._write_cell(row, col, cell)
                return
            self.fh.write(f'{head} t="inlineStr"><is><t>{string}</t></is></c>')
        elif kind is _FORMULA:
            value = cell.value
            if type(value) is not int and type(value) is not float:
                super()._write_cell(row, col, cell)
                return
            formula = self._escape_data(cell.formula)
            self.fh.write(f"{head}><f>{formula}</f><v>{value}</v></c>")
        else:  # blank
            self.fh.write(f"{head}/>")

    # --- Whole rows ------------------------------------------------------------

    def append_row(
        self, row: int, cells: Sequence[Cell], excel_row: int, height: float | None = None
    ) -> bool:
        """Write a table row as XlsxWriter would, or return False having changed nothing.

        The same as `set_row(row, height)` (when a height is given) followed by
        `cells.write_cell` for each cell, in constant_memory mode: the same
        dimension bookkeeping, the previous row written out now, this row kept
        back until XlsxWriter would write it (the next row, or close), so every
        format gets its style index in the same order. The row is rendered as
        one string. Cells it does not cover (no format, NaN, rich or over-long
        strings, array or dynamic formulas, text results) make it return False
        before anything changed; the caller then writes the row the slow way.
        """
        if (
            not self.constant_memory
            or row <= self.previous_row
            or row >= self.xls_rowmax
            or len(cells) > self.xls_colmax
        ):
            return False
        pixels = None
        if height is not None:
            pixels = int(height * 4.0 / 3.0 + 0.5)  # as set_row
            if pixels <= 0:
                return False
        number = str(row + 1)
        start = self._row_start(number, pixels)
        if start is None:
            return False
        if len(_LETTERS) < len(cells):
            _column_letter(len(cells))
        letters = _LETTERS
        # The row's XML; a format without a style index yet is kept as itself,
        # to be given its index when the row is written (see _write_single_row).
        parts: list[str | Format] = [start]
        deferred = False
        first = last = -1
        text_tails, number_tails = _TEXT_TAILS, _NUMBER_TAILS
        needs_escaping, half_strmax = _PLAIN_STRING.search, self.xls_strmax // 2
        for col, cell in enumerate(cells):
            if cell is None:
                continue
            fmt = cell.fmt
            if fmt is None:
                return False
            kind = type(cell)
            value = cell.value
            tail: str | None
            # Most cells first: text, then numbers (each rendered once per value).
            if kind is Text:
                if value is None:
                    tail = "/>"  # write_blank with a format
                elif type(value) is str:
                    tail = text_tails.get(value)
                    if tail is None:
                        if len(value) <= half_strmax and needs_escaping(value) is None:
                            tail = f' t="inlineStr"><is><t>{value}</t></is></c>'
                            if len(value) <= _CACHED_TEXT and len(text_tails) < _CACHE_LIMIT:
                                text_tails[value] = tail
                        else:
                            tail = self._text_tail(value)
                else:
                    tail = self._text_tail(value)
            elif kind is Number:
                if value is None:
                    tail = "/>"
                else:
                    tail = None if type(value) is float else number_tails.get(value)
                    if tail is None:
                        tail = _number_tail(value)
            elif kind is Formula:
                tail = self._formula_tail(cell.formula, value, excel_row)  # type: ignore[union-attr]
            elif kind is Date:
                if value is None:
                    tail = "/>"
                else:
                    tail = self._date_tails.get(value)  # type: ignore[arg-type]
                    if tail is None:
                        stored = self._convert_date_time(naive_utc(value))  # type: ignore[arg-type]
                        tail = self._date_tails[value] = f"><v>{stored:.16G}</v></c>"  # type: ignore[index]
            else:
                return False
            if tail is None:
                return False
            if first < 0:
                first = col
            last = col
            xf = fmt.xf_index
            if xf is None:
                deferred = True
                parts += (f'<c r="{letters[col]}{number}" s="', fmt, f'"{tail}')
            else:
                parts.append(f'<c r="{letters[col]}{number}" s="{xf}"{tail}')
        if first < 0:
            return False
        parts.append("</row>")
        # What set_row and the writes do to the dimensions (`_check_dimensions`, whose
        # bounds and written-row checks the tests above have done), in their order.
        if pixels is not None and self.dim_colmin is None:
            first = 0  # set_row checks column 0 when no column is known yet
        if self.dim_rowmin is None or row < self.dim_rowmin:
            self.dim_rowmin = row
        if self.dim_rowmax is None or row > self.dim_rowmax:
            self.dim_rowmax = row
        if self.dim_colmin is None or first < self.dim_colmin:
            self.dim_colmin = first
        if self.dim_colmax is None or last > self.dim_colmax:
            self.dim_colmax = last
        self._write_single_row(row)  # the previous row, as the first write of this one would
        if pixels is not None:
            self.row_sizes[row] = [pixels, False]  # chart and image anchors read it
        self._pending = parts if deferred else "".join(parts)  # type: ignore[arg-type]
        return True

    def _write_single_row(self, current_row_num: int = 0) -> None:
        """Write the row `append_row` kept back, else XlsxWriter's own pending row."""
        pending = self._pending
        if pending is None:
            super()._write_single_row(current_row_num)
            return
        if self.table:
            raise RuntimeError("a cell was written into a row written by append_row")
        self._pending = None
        self.previous_row = current_row_num
        if type(pending) is not str:
            # Style indexes are given on first use: now, as XlsxWriter would.
            pending = "".join(
                part if type(part) is str else str(part._get_xf_index())  # type: ignore[union-attr]
                for part in pending
            )
        self.fh.write(pending)

    def _row_start(self, number: str, pixels: int | None) -> str | None:
        """`<row r="N" ...>` exactly as XlsxWriter's `_write_row` writes it (no spans)."""
        key = (pixels, self.default_row_height)
        suffix = self._row_suffixes.get(key)
        if suffix is None:
            info = None
            if pixels is not None:
                info = xlsxwriter.worksheet.RowInfo(height=pixels)
            saved, self.fh = self.fh, io.StringIO()
            try:
                self._write_row(0, None, info)
                written = self.fh.getvalue()
            finally:
                self.fh = saved
            if not written.startswith('<row r="1"') or not written.endswith(">"):
                return None
            suffix = self._row_suffixes[key] = written[len('<row r="1"') :]
        return f'<row r="{number}"{suffix}'

    def _text_tail(self, value: object) -> str | None:
        """`_string_tail` of a Text value (as `write_cell` turns it into a string), cached."""
        string = value if type(value) is str else str(value)
        tail = _TEXT_TAILS.get(string)
        if tail is None:
            tail = self._string_tail(string)
            if tail is not None and len(string) <= _CACHED_TEXT and len(_TEXT_TAILS) < _CACHE_LIMIT:
                _TEXT_TAILS[string] = tail
        return tail

    def _string_tail(self, string: str) -> str | None:
        """An in-line string cell after its style, as `_write_cell` writes it."""
        if len(string) > self.xls_strmax // 2:
            return None  # may need XlsxWriter's truncation
        if _PLAIN_STRING.search(string) is None:
            return f' t="inlineStr"><is><t>{string}</t></is></c>'
        if _PRESERVE_WHITESPACE is None:
            return None  # not this XlsxWriter's helper: its own path decides
        string = self._escape_control_characters(string)
        if string.startswith("<r>") and string.endswith("</r>"):
            return None  # a rich string
        preserve = ' xml:space="preserve"' if _PRESERVE_WHITESPACE(string) else ""
        return f' t="inlineStr"><is><t{preserve}>{self._escape_data(string)}</t></is></c>'

    def _prepared_formula(self, formula: str) -> str | None:
        """The formula's `<f>` text as write_formula and `_write_cell` make it; None if not ours."""
        if (
            not formula
            or _DYNAMIC_FUNCTION(formula) is not None
            or (formula.startswith("{") and formula.endswith("}"))
        ):
            return None  # empty (an error), dynamic array or array formula
        return self._escape_data(self._prepare_formula(formula))

    def _split_template(self, template: str) -> tuple[str, ...] | None:
        """A `{r}` formula's `<f>` text split at `{r}`, the same for every row; None if unsure.

        Preparing and escaping the template and then putting the row number in
        gives the same text as putting it in first when no step can see the
        digits: nothing to rewrite (every XlsxWriter pattern is a function name
        followed by `(`, so `{r}` must not be followed by a letter, digit, `.`
        or `(`), and no brace at either end for the array and `=` stripping.
        """
        if template.startswith("{") or template.endswith("}"):
            return None
        if re.search(r"\{r\}[A-Za-z0-9.(_]", template):
            return None
        sample = template.replace("{r}", "1")
        if self._prepared_formula(sample) is None:
            return None
        future = self.use_future_functions  # as write_formula prepares it
        if any(xlsxwriter_would_rewrite(text, future) for text in (sample, template)):
            return None
        prepared = self._escape_data(self._prepare_formula(template))
        return tuple(prepared.split("{r}"))

    def _formula_tail(self, formula: str, value: Any, excel_row: int) -> str | None:
        """A formula cell after its style, as `write_cell` and `_write_cell` write it."""
        if "{r}" in formula:
            pieces = self._formula_pieces.get(formula, False)
            if pieces is False:
                pieces = self._formula_pieces[formula] = self._split_template(formula)
            if pieces is None:
                formula = formula.replace("{r}", str(excel_row))
                prepared = self._prepared_formula(formula)
            else:
                prepared = str(excel_row).join(pieces)  # type: ignore[union-attr]
        else:
            prepared = self._prepared_formula(formula)
        if prepared is None:
            return None
        if value is None or (type(value) is str and value == ""):
            return f' t="str"><f>{prepared}</f><v></v></c>'
        if isinstance(value, str):
            return None
        stored = _FORMULA_VALUES.get(value) if type(value) is not float else None
        if stored is None:
            stored = str(to_excel_number(value))
            if type(value) is not float and len(_FORMULA_VALUES) < _CACHE_LIMIT:
                _FORMULA_VALUES[value] = stored
        return f"><f>{prepared}</f><v>{stored}</v></c>"


# The cell tuples XlsxWriter stores until a row is written (constant_memory).
_NUMBER = xlsxwriter.worksheet.CellNumberTuple
_DATETIME = xlsxwriter.worksheet.CellDatetimeTuple
_STRING = xlsxwriter.worksheet.CellStringTuple
_FORMULA = xlsxwriter.worksheet.CellFormulaTuple
_BLANK = xlsxwriter.worksheet.CellBlankTuple
_FAST_CELLS = frozenset((_NUMBER, _DATETIME, _STRING, _FORMULA, _BLANK))
# Whatever XlsxWriter would change in an in-line string: XML escapes (`"&<>` and
# newline), control characters and `_xHHHH_` (written as `_xHHHH_` escapes),
# U+FFFE/U+FFFF, leading or trailing whitespace (xml:space="preserve"), and a
# leading `<r>` (rich text) which needs a `<` anyway. Any of them: XlsxWriter's path.
_PLAIN_STRING = re.compile(r'["&<>\n\x00-\x08\x0b-\x1f\ufffe\uffff]|_x[0-9a-fA-F]{4}_|^\s|\s$')


_DYNAMIC_FUNCTION = xlsxwriter.worksheet.re_dynamic_function.search
# XlsxWriter's own test for xml:space="preserve" (private; without it, strings
# that need escaping take XlsxWriter's path).
_PRESERVE_WHITESPACE = getattr(xlsxwriter.utility, "_preserve_whitespace", None)
# A cell's XML after its style depends on its value alone: values that repeat
# (currencies, statuses, amounts, quantities) are rendered once. Bounded. Keys
# that are equal write the same XML: ints and Decimals do; floats are not cached
# (-0.0 == 0 but is written "-0").
_CACHE_LIMIT = 50_000  # entries per cache, in each writing process
_CACHED_TEXT = 64  # characters: longer text rarely repeats (and would hold memory)
_TEXT_TAILS: dict[str, str] = {}
_NUMBER_TAILS: dict[object, str] = {}
_FORMULA_VALUES: dict[object, str] = {}  # a formula's stored result, as `<v>` text
_LETTERS: list[str] = []


def _number_tail(value: Any) -> str | None:
    """A number cell after its style, as `write_cell` and `_write_cell` write it; cached."""
    stored = to_excel_number(value)
    if type(stored) is not int and not math.isfinite(stored):
        return None  # NaN and infinities: XlsxWriter writes an error formula instead
    tail = f"><v>{stored:.16G}</v></c>"
    if type(value) is not float and len(_NUMBER_TAILS) < _CACHE_LIMIT:
        _NUMBER_TAILS[value] = tail
    return tail


def _column_letter(col: int) -> str:
    """`A`, `B`, ... for a 0-based column, computed once per column."""
    while len(_LETTERS) <= col:
        _LETTERS.append(xl_col_to_name(len(_LETTERS)))
    return _LETTERS[col]


# zlib level of the .xlsx zip. XlsxWriter leaves zipfile's default (6); level 1
# deflated invoices.xlsx's 194 MB of sheet XML at 100k accounts in 0.85 s of CPU
# instead of 2.19 s, for a file of 23.5 MB instead of 18.9 MB: every spreadsheet
# reads any level, and the close waits for the biggest workbook.
ZIP_LEVEL = 1
_store_lock = threading.Lock()


class Workbook(xlsxwriter.Workbook):
    """An XlsxWriter workbook whose sheets are `Worksheet` (XlsxWriter's subclassing hook)."""

    worksheet_class = Worksheet

    def _store_workbook(self) -> None:
        """XlsxWriter's packaging, with the zip deflated at ZIP_LEVEL.

        XlsxWriter opens its `ZipFile` inside this method with no level to pass, so
        the module's name is pointed at one that sets it for the call (under a lock:
        another thread's workbook never sees the swap half done).
        """
        with _store_lock:
            original = xlsxwriter.workbook.ZipFile
            xlsxwriter.workbook.ZipFile = functools.partial(original, compresslevel=ZIP_LEVEL)
            try:
                super()._store_workbook()
            finally:
                xlsxwriter.workbook.ZipFile = original

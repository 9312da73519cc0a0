"""The four workbooks, read back with openpyxl (no LibreOffice needed).

Known answers come from tests/workbook_fixtures.py, whose docstring carries
the arithmetic.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zipfile
from decimal import Decimal
from decimal import Decimal as D
from pathlib import Path

import duckdb
import openpyxl
import pytest
import xlsxwriter
import xlsxwriter.worksheet

import closebook.workbooks.invoices as invoices_module
from closebook.workbooks import RunInfo, sheets, warehouse, write_workbooks
from closebook.workbooks.formats import Formats
from tests.workbook_fixtures import INJECTIONS, OTHER_PERIOD, PERIOD, build_warehouse
from tests.workbook_verify import verify_full

NAMES = ("invoices", "overage", "prepaid", "reconciliation")
RUN = RunInfo(
    period=PERIOD,
    run_started_at=dt.datetime(2026, 11, 22, 8, 30, tzinfo=dt.UTC),
    as_of=dt.date(2027, 2, 15),
    validation_status="passed",
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return build_warehouse()


@pytest.fixture
def reports(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> Path:
    write_workbooks(con, PERIOD, tmp_path, RUN)
    return tmp_path


def load(reports: Path, name: str, **kwargs) -> openpyxl.Workbook:
    return openpyxl.load_workbook(reports / PERIOD / f"{name}.xlsx", **kwargs)


def table(wb: openpyxl.Workbook, sheet: str) -> list[dict]:
    rows = list(wb[sheet].iter_rows(values_only=True))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:] if any(row)]


def cents(value: float | int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.01"))


def test_writes_the_four_workbooks_in_the_period_folder(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    paths = write_workbooks(con, PERIOD, tmp_path, RUN)
    assert paths == [tmp_path / PERIOD / f"{name}.xlsx" for name in NAMES]
    assert sorted(p.name for p in (tmp_path / PERIOD).iterdir()) == sorted(
        f"{n}.xlsx" for n in NAMES
    )


def test_run_info_must_be_for_the_period(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2026-11"):
        write_workbooks(con, "2026-11", tmp_path, RUN)


def test_verify_finds_nothing_wrong(con: duckdb.DuckDBPyConnection, reports: Path) -> None:
    assert verify_full(con, PERIOD, reports) == []


def test_verify_reports_a_warehouse_that_disagrees(
    con: duckdb.DuckDBPyConnection, reports: Path
) -> None:
    con.execute("update main.invoices set total = 120 where invoice_number = '2026-10-A-100-BASE'")
    problems = verify_full(con, PERIOD, reports)
    assert any("2026-10-A-100-BASE" in p and "Total" in p for p in problems)
    assert any("Totals by currency USD" in p for p in problems)


def test_totals_per_currency_equal_the_warehouse(
    con: duckdb.DuckDBPyConnection, reports: Path
) -> None:
    wb = load(reports, "invoices", data_only=True)
    rows = list(wb["Totals by currency"].iter_rows(values_only=True))
    first_block = rows[1 : rows.index((None,) * len(rows[0]))]
    got = {row[0]: (row[1], cents(row[4])) for row in first_block}
    want = {
        cur: (n, total)
        for cur, n, total in con.execute(
            "select currency, count(*), sum(total) from main.invoices where period = ? "
            "group by currency",
            [PERIOD],
        ).fetchall()
    }
    assert got == want
    # by hand: 119.00 + 25.50 + 12345.68 + 6172.84 + 4.10; 2226 + 6173 + 3704
    assert got["USD"] == (5, Decimal("18667.12"))
    assert got["JPY"] == (3, Decimal("12103"))


def test_register_and_lines_equal_the_warehouse(
    con: duckdb.DuckDBPyConnection, reports: Path
) -> None:
    wb = load(reports, "invoices", data_only=True)
    register = {r["Invoice number"]: r for r in table(wb, "Invoice register")}
    want = con.execute(
        "select invoice_number, total, status, hold_reason from main.invoices where period = ?",
        [PERIOD],
    ).fetchall()
    assert set(register) == {number for number, *_ in want}
    for number, total, status, hold in want:
        assert cents(register[number]["Total"]) == total
        assert register[number]["Status"] == status
        assert register[number]["Hold reason"] == hold
    lines = table(wb, "Invoice lines")
    want_lines = con.execute(
        "select invoice_number, line_no, amount from main.invoice_lines where period = ? "
        "order by 1, 2",
        [PERIOD],
    ).fetchall()
    assert [(r["Invoice number"], r["Line"], cents(r["Amount"])) for r in lines] == want_lines


def test_other_periods_never_show(reports: Path) -> None:
    # AR aging lists this close's receivables of earlier periods (contract 3.1), so
    # invoice numbers of 2026-09 show there; no row of the 2026-09 close shows anywhere
    # (its invoice of 999.99, its aging row of 999.99, A-100's old name).
    for name in NAMES:
        for ws in load(reports, name):
            for row in ws.iter_rows(values_only=True):
                if ws.title != "AR aging":
                    assert not any(isinstance(v, str) and v.startswith(OTHER_PERIOD) for v in row)
                assert 999.99 not in row
                assert "Old name" not in row


def test_overage_prepaid_and_reconciliation_figures(reports: Path) -> None:
    overage = table(load(reports, "overage", data_only=True), "Accounts over contract")
    assert [(r["Account id"], r["Overage quantity"], r["Overage amount"]) for r in overage] == [
        ("A-100", 3, 25.5),
        ("A-800", 500, 6172.84),  # 500 x 12.345678 = 6172.839 -> 6172.84
        ("J-900", 3, 3704),  # 3 x 1234.5 = 3703.5 -> 3704
    ]
    assert overage[0]["Reached at (UTC)"] == dt.datetime(2026, 10, 14, 9, 30)
    prepaid = {
        r["Account id"]: r
        for r in table(load(reports, "prepaid", data_only=True), "Balance statement")
    }
    assert prepaid["P-500"]["Shortfall"] == 4.1  # 9 x 2.15 = 19.35 - 15.25
    assert prepaid["P-400"]["Runway months"] == 1  # floor(40 / 30)
    assert prepaid["P-600"]["Runway months"] in (None, "")  # no charge, no runway
    assert prepaid["P-400"]["Prepay 36 months"] == 1080  # 10 x 36 x 3.00
    recon = load(reports, "reconciliation", data_only=True)
    exceptions = table(recon, "Exceptions")
    # largest absolute difference first (5.50), then the held-but-billed invoice (0.00)
    assert [r["Invoice number"] for r in exceptions][:2] == [
        "2026-10-A-100-OVERAGE",
        "2026-10-A-800-OVERAGE",
    ]
    assert [r["Status"] for r in exceptions if r["Status"] == "matched"] == ["matched"]


def test_totals_and_derived_amounts_are_live_formulas(reports: Path) -> None:
    wb = load(reports, "invoices")
    register = wb["Invoice register"]
    # keyed on the invoice number, so sorting either sheet changes no total
    assert register["G2"].value == (
        "=SUMIFS('Invoice lines'!$I$2:$I$12,'Invoice lines'!$A$2:$A$12,$A2)"
    )
    lines = table(wb, "Invoice lines")
    amounts = {(r["Invoice number"], r["Line"]): r["Amount"] for r in lines}
    assert amounts[("2026-10-A-100-BASE", 1)].startswith("=ROUND(F2*G2,2)")
    assert amounts[("2026-10-J-300-LICENSE", 1)].startswith("=ROUND(F")
    assert "/H" in amounts[("2026-10-J-300-LICENSE", 1)]
    assert amounts[("2026-10-J-900-BASE", 1)].endswith(",0)")  # JPY: no minor unit
    totals = wb["Totals by currency"]
    assert totals["E2"].value.startswith("=SUMIFS(")
    prepaid = load(reports, "prepaid")["Balance statement"]
    assert prepaid["J2"].value == "=MIN(MAX(F2,0),I2)"
    assert prepaid["M2"].value.startswith('=IF(I2=0,"",INT(')
    for name in NAMES:
        for ws in load(reports, name):
            for row in ws.iter_rows():
                for cell in row:
                    if cell.data_type == "f":
                        assert "[#" not in cell.value and "[[" not in cell.value


def all_cells(reports: Path):
    for name in NAMES:
        for ws in load(reports, name):
            for row in ws.iter_rows():
                yield from row


def test_text_from_inputs_is_stored_as_text(reports: Path) -> None:
    found = {}
    for cell in all_cells(reports):
        if cell.value in INJECTIONS:
            found[cell.value] = cell.data_type
        if cell.data_type == "f":
            assert "HYPERLINK" not in cell.value and "1+1" not in cell.value
    assert set(found) == set(INJECTIONS)
    assert set(found.values()) == {"s"}


def test_number_formats_dates_and_integers(reports: Path) -> None:
    wb = load(reports, "invoices")
    register = {r[0].value: r for r in wb["Invoice register"].iter_rows(min_row=2)}
    jpy_total = register["2026-10-J-300-LICENSE"][6]
    usd_total = register["2026-10-A-100-BASE"][6]
    # accounting style: negatives in parentheses, positives leave room for the ")"
    assert jpy_total.number_format == '"JPY "#,##0_);"JPY "(#,##0)'
    assert usd_total.number_format == '"USD "#,##0.00_);"USD "(#,##0.00)'
    invoice_date = register["2026-10-A-100-BASE"][12]
    assert invoice_date.is_date and invoice_date.value == dt.datetime(2026, 11, 3)
    assert invoice_date.number_format == "yyyy-mm-dd"
    quantity = wb["Invoice lines"]["F2"]
    assert isinstance(quantity.value, int) and quantity.number_format == "#,##0"
    held = register["2026-10-A-200-BASE"][7]
    assert held.value == "held" and held.fill.fgColor.rgb.endswith("FFC7CE")


def test_cover_shows_the_run_and_its_inputs(reports: Path) -> None:
    ws = load(reports, "invoices")["Cover"]
    rows = [r for r in ws.iter_rows(values_only=True)]
    facts = {r[0]: r[1] for r in rows if r[0] and r[1] is not None}
    assert facts["Period"] == PERIOD
    assert facts["Run started (UTC)"] == dt.datetime(2026, 11, 22, 8, 30)
    assert facts["Payments as of"] == dt.datetime(2027, 2, 15)
    assert facts["Validation"] == "passed"
    assert facts["Invoices issued"] == 8
    assert facts["Invoices held (not issued)"] == 2
    assert facts["Rejected input rows"] == 2
    files = {r[0]: r for r in rows if r[0] in ("accounts.csv", "license_events.parquet")}
    import hashlib

    assert files["accounts.csv"][2:6] == (10, 9, 0, 1)
    assert files["accounts.csv"][7] == hashlib.sha256(b"accounts").hexdigest()


def test_document_properties_are_deterministic(reports: Path) -> None:
    props = load(reports, "overage").properties
    assert props.created == dt.datetime(2026, 11, 22, 8, 30)
    assert props.title == f"Overage {PERIOD}"
    assert props.creator == "closebook"


def test_sheets_are_usable_on_open(reports: Path) -> None:
    ws = load(reports, "invoices")["Invoice register"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:O11"
    assert ws.print_title_rows == "$1:$1"
    assert ws.page_setup.orientation == "landscape"
    assert ws.column_dimensions["A"].width > 20


@pytest.mark.parametrize("limit", [3, 5, 8])
def test_long_tables_continue_on_numbered_sheets(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    monkeypatch.setattr(sheets, "MAX_ROWS_PER_SHEET", limit)
    monkeypatch.setattr(warehouse, "BATCH_SIZE", 2)
    write_workbooks(con, PERIOD, tmp_path, RUN)
    assert verify_full(con, PERIOD, tmp_path) == []
    wb = load(tmp_path, "invoices")
    per_sheet = limit - 1
    parts = -(-11 // per_sheet)  # 11 lines
    names = [n for n in wb.sheetnames if n.startswith("Invoice lines")]
    assert names == ["Invoice lines"] + [f"Invoice lines ({i})" for i in range(2, parts + 1)]
    for name in names:
        assert wb[name].max_row <= limit
    totals = wb["Totals by currency"]["E2"].value
    assert totals.count("SUMIFS(") == -(-10 // per_sheet)  # one per register part
    register = {
        r[0].value: r[6].value
        for n in wb.sheetnames
        if n.startswith("Invoice register")
        for r in wb[n].iter_rows(min_row=2)
    }
    # every register total adds up its lines on every part of Invoice lines
    assert register["2026-10-J-300-LICENSE"].count("SUMIFS(") == parts


def sheet_contents(reports: Path) -> dict:
    out = {}
    for name in NAMES:
        wb = load(reports, name)
        for ws in wb:
            out[(name, ws.title)] = [
                [(c.value, c.number_format) for c in row] for row in ws.iter_rows()
            ]
    return out


def test_same_rows_give_the_same_workbooks(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    write_workbooks(con, PERIOD, tmp_path / "a", RUN)
    write_workbooks(con, PERIOD, tmp_path / "b", RUN)
    assert sheet_contents(tmp_path / "a") == sheet_contents(tmp_path / "b")
    for name in NAMES:  # XlsxWriter with a fixed `created` is byte-for-byte reproducible
        a = (tmp_path / "a" / PERIOD / f"{name}.xlsx").read_bytes()
        assert a == (tmp_path / "b" / PERIOD / f"{name}.xlsx").read_bytes()


def test_a_crash_mid_write_leaves_the_old_workbook(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_workbooks(con, PERIOD, tmp_path, RUN)
    folder = tmp_path / PERIOD
    before = (folder / "invoices.xlsx").read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(invoices_module, "_write_license_days", boom)
    con.execute("update main.invoices set account_name = 'Changed'")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_workbooks(con, PERIOD, tmp_path, RUN)
    assert (folder / "invoices.xlsx").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{n}.xlsx" for n in NAMES)


@pytest.mark.parametrize(
    "missing",
    [
        "reconciliation",
        "invoice_lines",
        "hwm_usage",
        "prepaid_balances",
        "license_days",
        "input_files",
    ],
)
def test_a_missing_table_still_gives_every_workbook(tmp_path: Path, missing: str) -> None:
    con = build_warehouse(skip=(missing,))
    write_workbooks(con, PERIOD, tmp_path, RUN)
    assert verify_full(con, PERIOD, tmp_path) == []
    if missing == "reconciliation":
        cover = load(tmp_path, "reconciliation")["Cover"]
        notes = [r[0] for r in cover.iter_rows(values_only=True) if isinstance(r[0], str)]
        assert any(t.startswith("No reconciliation for 2026-10") for t in notes)


def test_an_empty_period_gives_workbooks_that_say_so(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    write_workbooks(con, "2026-12", tmp_path, dataclasses.replace(RUN, period="2026-12"))
    assert verify_full(con, "2026-12", tmp_path) == []
    wb = openpyxl.load_workbook(tmp_path / "2026-12" / "invoices.xlsx")
    cover = [r[0] for r in wb["Cover"].iter_rows(values_only=True) if isinstance(r[0], str)]
    assert "No invoices were computed for 2026-12." in cover


def test_a_line_the_formula_cannot_reproduce_is_written_as_its_value(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    con.execute(
        "update main.invoice_lines set amount = 119.01 where invoice_number = '2026-10-A-100-BASE'"
    )
    write_workbooks(con, PERIOD, tmp_path, RUN)
    lines = load(tmp_path, "invoices")["Invoice lines"]
    assert lines["I2"].value == 119.01
    problems = verify_full(con, PERIOD, tmp_path)
    # the register total (a SUM over the lines) now disagrees with invoices.total
    assert any("2026-10-A-100-BASE" in p and "119.01" in p for p in problems)


def test_all_items_are_sorted_by_account_and_currency(reports: Path) -> None:
    items = table(load(reports, "reconciliation"), "All items")
    keys = [(r["Account id"] is None, r["Account id"] or "", r["Currency"] or "") for r in items]
    assert keys == sorted(keys)
    exceptions = table(load(reports, "reconciliation", data_only=True), "Exceptions")
    differences = [abs(r["Difference"]) for r in exceptions if r["Difference"] is not None]
    assert differences == sorted(differences, reverse=True)


# --- The XlsxWriter fast paths write exactly what XlsxWriter writes ------------------


def _xml_parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in sorted(archive.namelist())}


# The one deliberate difference from XlsxWriter: a formula whose cached result is
# the empty string is stored as text (t="str"); XlsxWriter leaves it untyped.
_UNTYPED_EMPTY_RESULT = re.compile(
    rb'(<c r="[A-Z]+[0-9]+"(?: s="[0-9]+")?)(><f>[^<]*</f><v></v></c>)'
)


def _typed_empty_results(parts: dict[str, bytes]) -> dict[str, bytes]:
    return {name: _UNTYPED_EMPTY_RESULT.sub(rb'\1 t="str"\2', xml) for name, xml in parts.items()}


def test_fast_paths_write_byte_identical_workbooks(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_workbooks(con, PERIOD, tmp_path / "fast", RUN)
    monkeypatch.setattr(sheets, "Workbook", xlsxwriter.Workbook)  # XlsxWriter's own classes
    write_workbooks(con, PERIOD, tmp_path / "stock", RUN)
    for name in NAMES:
        fast = _xml_parts(tmp_path / "fast" / PERIOD / f"{name}.xlsx")
        stock = _typed_empty_results(_xml_parts(tmp_path / "stock" / PERIOD / f"{name}.xlsx"))
        assert fast.keys() == stock.keys()
        for part in fast:
            assert fast[part] == stock[part], f"{name}.xlsx {part}"


TRICKY_STRINGS = (
    *INJECTIONS,
    "plain",
    "",
    " leading",
    "trailing ",
    "line\nbreak",
    "ends with newline\n",
    "carriage\rreturn",
    "bell\x07",
    "tab\tinside",
    "_x0041_ looks escaped",
    "_x004_ almost",
    "<r>rich?</r>",
    "a & b < c > d",
    'say "hi"',
    "non-char \ufffe \uffff",
    "emoji \U0001f600 and accents éß",
    "x" * 40000,
)
TRICKY_FORMULAS = (
    ("=SUM(A1:A3)", 6),
    ("=ROUND(B2*C2,2)", 1.25),
    ("SUM(A1)", 0),
    ('=IF(A1=0,"",INT(ROUND(A2/A1,9)))', ""),
    ('=IF(A1=0,"x","y")', "y"),
    ("=A1>0", True),
    ("=1/0", "#DIV/0!"),
    ("=XLOOKUP(A1,B1:B3,C1:C3)", 0),
    ("=FILTER(A1:A3,A1:A3>0)", 0),
    ("=_xlfn.STDEV.S(A1:A3)", 0),
    ("=STDEV.S(A1:A3)", 0),
    ('=VAR.P(A1:A3)+SUMIFS(A1:A3,B1:B3,"x")', 0),
    ("=T.DIST.2T(A1,2)", 0),
    ("=SINGLE(A1)+XSINGLE(A2)", 0),
    ("=LAMBDA(x,x+1)(A1)", 0),
    ("{=SUM(A1:A3*B1:B3)}", 0),
    ('="a&b<c>"&A1', "a&b<c>"),
    ("=SUMPRODUCT(('All items'!$L$2:$L$3=\"1-30\")*'All items'!$I$2:$I$3)", 12.5),
)


def _tricky_sheet(workbook_class: type, path: Path, options: dict) -> None:
    with workbook_class(str(path), options) as wb:
        fmt = wb.add_format({"num_format": "0.00"})
        ws = wb.add_worksheet()
        ws.set_column(3, 3, 10, wb.add_format({"bold": True}))
        row = 0
        for text in TRICKY_STRINGS:
            ws.write_string(row, 0, text, fmt)
            ws.write_string(row, 1, text)
            row += 1
        for formula, value in TRICKY_FORMULAS:
            ws.write_formula(row, 0, formula, fmt, value)
            ws.write_formula(row, 1, formula, None, value)
            row += 1
        for number in (0, -1, 1.5, 1e-300, 123456789012345678, float("nan"), float("inf")):
            ws.write_number(row, 0, number, fmt)
            ws.write_number(row, 3, number)
            row += 1
        ws.write_datetime(row, 0, dt.datetime(2026, 10, 31, 23, 59, 59), fmt)
        ws.write_blank(row, 1, None, fmt)
        ws.write_blank(row, 2, None)
        ws.write_boolean(row, 3, True, fmt)


@pytest.mark.parametrize(
    "options",
    [
        sheets.WORKBOOK_OPTIONS,
        {**sheets.WORKBOOK_OPTIONS, "use_future_functions": True},
        {**sheets.WORKBOOK_OPTIONS, "constant_memory": False},
    ],
    ids=["ours", "future-functions", "shared-strings"],
)
def test_fast_paths_match_xlsxwriter_on_tricky_cells(tmp_path: Path, options: dict) -> None:
    _tricky_sheet(sheets.Workbook, tmp_path / "fast.xlsx", options)
    _tricky_sheet(xlsxwriter.Workbook, tmp_path / "stock.xlsx", options)
    fast = _xml_parts(tmp_path / "fast.xlsx")
    stock = _typed_empty_results(_xml_parts(tmp_path / "stock.xlsx"))
    assert fast.keys() == stock.keys()
    for part in fast:
        if part != "docProps/core.xml":  # holds the creation time
            assert fast[part] == stock[part], part


def test_formula_fast_path_is_active_and_exact() -> None:
    # Read from the installed XlsxWriter's source; None would mean every formula goes
    # the slow way (correct, but the fast path silently stopped working: look again).
    assert sheets.FORMULA_REWRITE_NEEDLES is not None
    ours = [
        "=ROUND(F2*G2/H2,0)",
        "=SUM('Invoice lines'!$I$8,'Invoice lines (2)'!$I$2)",
        "=SUMIFS('Invoice register'!$F$2:$F$11,'Invoice register'!$E$2:$E$11,$A2)",
        "=COUNTIFS('Invoice register'!$E$2:$E$11,$A2)",
        "=MIN(MAX(F2,0),I2)",
        '=IF(I2=0,"",INT(ROUND(L2/I2,9)))',
        "=SUMPRODUCT(('All items'!$K$2:$K$3>0)*('All items'!$I$2:$I$3>0))",
        "=E2-D2",
    ]
    assert not any(sheets.xlsxwriter_would_rewrite(f) for f in ours)
    fast, stock = sheets.Worksheet(), xlsxwriter.worksheet.Worksheet()
    for future in (False, True):
        fast.use_future_functions = stock.use_future_functions = future
        for formula in ours + [f for f, _ in TRICKY_FORMULAS]:
            assert fast._prepare_formula(formula) == stock._prepare_formula(formula)
            assert fast._prepare_formula(formula, True) == stock._prepare_formula(formula, True)


# --- Whole rows (fast_xml.Worksheet.append_row) ---------------------------------------

_NO_FORMAT = object()  # a cell written without a format (XlsxWriter's path)


def _awkward_rows(fmts: Formats) -> list[list]:
    """Rows through every branch of `append_row`: fast, fallen back, tall, empty."""
    text, wrapped, money = fmts.text(), fmts.text(wrap=True), fmts.money("USD")
    tz = dt.timezone(dt.timedelta(hours=-5))
    rows: list[list] = []
    for value in TRICKY_STRINGS:  # each string both plain-looking and wrapped
        rows.append([sheets.Text(value, text), sheets.Text(value, wrapped)])
    rows += [
        # numbers of every kind; None with a format is a styled blank
        [
            sheets.Number(D("12.50"), money),
            sheets.Number(7, fmts.integer()),
            sheets.Number(D("0.1"), money),
            sheets.Number(1.5, money),
            sheets.Number(True, fmts.integer()),
            sheets.Number(None, money),
            sheets.Number(123456789012345678, fmts.integer()),
            sheets.Number(-0.0, money),
        ],
        [
            sheets.Date(dt.date(2026, 10, 31), fmts.date()),
            sheets.Date(dt.datetime(2026, 10, 31, 23, 59, 59, tzinfo=tz), fmts.datetime()),
            sheets.Date(None, fmts.date()),
            None,
            sheets.Text(None, text),
            None,
        ],
        # formulas with {r}, with every kind of stored value
        [
            sheets.Formula("=ROUND(A{r}*B{r},2)", D("2.50"), money),
            sheets.Formula('=IF(A{r}=0,"",A{r})', "", text),
            sheets.Formula('=IF(A{r}=0,"",A{r})', None, text),
            sheets.Formula("=A{r}>0", True, text),
            sheets.Formula('=SUMIFS($A$2:$A$9,$B$2:$B$9,"<>x")', 3, money),
            sheets.Formula('=A{r}&"<&>"', 4, text),
            sheets.Formula("=LOG{r}(A1)", 1, text),  # {r} inside a function name
            sheets.Formula("=STDEV.S(A1:A{r})", 0, money),
        ],  # rewritten to _xlfn.
        # equal values written differently: 2 and Decimal 2.0 as "2", the float 2.0 as "2.0"
        [
            sheets.Formula("=B{r}", 2, money),
            sheets.Formula("=B{r}", 2.0, money),
            sheets.Formula("=B{r}", D("2.0"), money),
            sheets.Formula("=B{r}", 0, money),
            sheets.Formula("=B{r}", -0.0, money),
            sheets.Number(0, money),
            sheets.Number(-0.0, money),
            sheets.Number(D("-0.00"), money),
        ],
        # rows that fall back whole (no format, NaN, rich, over-long, text result, arrays)
        [sheets.Text("no format", None), sheets.Number(1, money)],
        [sheets.Number(float("nan"), money), sheets.Text("after NaN", text)],
        [sheets.Number(float("inf"), money)],
        [sheets.Text("<r>rich?</r>", text)],
        [sheets.Text("y" * 20000, wrapped)],
        [sheets.Formula("=A1", "text result", text)],
        [sheets.Formula("=A1", "#N/A", text)],
        [sheets.Formula("{=SUM(A1:A{r}*B1:B{r})}", 0, money)],
        [sheets.Formula("=FILTER(A1:A{r},A1:A{r}>0)", 0, money)],
        [None, None],  # nothing written at all
        [None, sheets.Text("a long reason " * 20, wrapped)],  # tall, starting at column B
        [sheets.Text("held", fmts.text(True)), sheets.Number(1, fmts.money("EUR", True))],
    ]
    return rows


def _write_awkward_tables(workbook_class: type, path: Path) -> None:
    """Two tables streamed side by side (new formats first used mid-stream), split in parts."""
    with workbook_class(str(path), sheets.WORKBOOK_OPTIONS) as wb:
        fmts = Formats(wb)
        columns = [sheets.Column(f"C{i}", 12, wrap=i % 2 == 1) for i in range(8)]
        first = sheets.TableSheet(wb, fmts, "First", columns, expected_rows=40)
        second = sheets.TableSheet(wb, fmts, "Second", columns)
        chart = wb.add_chart({"type": "column"})  # anchored over tall rows: row sizes count
        chart.add_series({"values": ["First", 1, 0, 6, 0]})
        first.parts[0].worksheet.insert_chart(3, 9, chart)
        rows = _awkward_rows(fmts)
        for index, row in enumerate(rows):
            first.append(row)
            second.append(rows[-1 - index])
        for table in (first, second):
            table.finish()


def test_whole_rows_match_xlsxwriter_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sheets, "MAX_ROWS_PER_SHEET", 17)  # parts (2), (3) ... as well
    _write_awkward_tables(sheets.Workbook, tmp_path / "fast.xlsx")
    _write_awkward_tables(xlsxwriter.Workbook, tmp_path / "stock.xlsx")
    fast = _xml_parts(tmp_path / "fast.xlsx")
    stock = _typed_empty_results(_xml_parts(tmp_path / "stock.xlsx"))
    assert fast.keys() == stock.keys()
    assert len([p for p in fast if p.startswith("xl/worksheets/sheet")]) >= 4
    for part in fast:
        if part != "docProps/core.xml":  # holds the creation time
            assert fast[part] == stock[part], part


def test_whole_rows_take_the_fast_path_and_fall_back_only_when_they_must(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken: list[bool] = []
    original = sheets.Worksheet.append_row

    def counting(self, *args, **kwargs) -> bool:
        taken.append(original(self, *args, **kwargs))
        return taken[-1]

    monkeypatch.setattr(sheets.Worksheet, "append_row", counting)
    with sheets.Workbook(str(tmp_path / "x.xlsx"), sheets.WORKBOOK_OPTIONS) as wb:
        fmts = Formats(wb)
        table = sheets.TableSheet(wb, fmts, "T", [sheets.Column("A", 10, wrap=True)] * 8)
        rows = _awkward_rows(fmts)
        for row in rows:
            table.append(row)
    # The tricky strings: all fast but the rich one and the 40,000-character one.
    strings = [text not in ("<r>rich?</r>", "x" * 40000) for text in TRICKY_STRINGS]
    assert strings.count(False) == 2
    # Then 4 rows of values, 10 rows that must fall back, a tall row, a highlighted row.
    assert taken == strings + [True] * 4 + [False] * 10 + [True, True]


@pytest.mark.parametrize(
    ("template", "future", "safe"),
    [
        ("=ROUND(F{r}*G{r},2)", False, True),
        ("=SUMIFS('Lines'!$I$2:$I$9,'Lines'!$A$2:$A$9,$A{r})", False, True),
        ("=SUMPRODUCT(EXACT('L'!$A$2:$A$9,$A{r})*('L'!$K$2:$K$9>0))", False, True),
        ("=LOG{r}(A1)", False, False),  # the row number would be part of a function name
        ("=A{r}.5", False, False),
        ("=STDEV.S(A1:A{r})", False, True),
        ("=STDEV.S(A1:A{r})", True, False),  # with future functions XlsxWriter rewrites it
        ("=SWITCH(A{r},1,2)", False, False),  # a dynamic-array formula
        ("{=SUM(A1:A{r})}", False, False),  # an array formula
        ("=A{r}", False, False),  # ends in a brace before the row goes in
    ],
)
def test_formula_templates_are_split_only_when_every_row_prepares_the_same(
    template: str, future: bool, safe: bool
) -> None:
    ws, stock = sheets.Worksheet(), xlsxwriter.worksheet.Worksheet()
    ws.use_future_functions = stock.use_future_functions = future
    assert (ws._split_template(template) is not None) == safe
    for row in (1, 9, 10, 1048576):
        formula = template.replace("{r}", str(row))
        tail = ws._formula_tail(template, 1, row)
        dynamic = xlsxwriter.worksheet.re_dynamic_function.search(formula)
        if formula.startswith("{") or dynamic:  # XlsxWriter's array paths: not ours
            assert tail is None
        else:
            prepared = stock._escape_data(stock._prepare_formula(formula))
            assert tail == f"><f>{prepared}</f><v>1</v></c>"


@pytest.mark.parametrize(
    ("key", "plain"),
    [
        ("A-100", True),
        ("2026-10-A-100-BASE", True),
        ("e5", True),  # float() refuses it
        ("inf-1", True),
        ("1e5", False),  # SUMIFS would read these as numbers
        ("1E-5", False),
        ("1_0e5", False),
        ("INF", False),
        ("Infinity", False),
        ("nan", False),
        ("00123", False),  # no letter
        ("1-30", False),
        ("Mar-5", False),  # a date
        ("a*b", False),  # a wildcard
        ("=A1", False),
        ("", False),
    ],
)
def test_keys_that_sumifs_could_misread_are_not_plain(key: str, plain: bool) -> None:
    assert sheets.plain_key(key) is plain

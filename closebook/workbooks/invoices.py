"""invoices.xlsx: the register accountants send from, the lines behind it, and the journal.

Sheets: Cover, Invoice register (one row per invoice; total = SUMIFS over its
lines by invoice number), Invoice lines (amount = ROUND(quantity x unit
price), or for license lines ROUND(days x unit price / days in month)),
License days (the licenses behind each license line), Totals by currency,
Prepaid drawdown and Journal (journal.py: what to post to the GL), Rejected
rows.
"""

from __future__ import annotations

import calendar
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from .cover import document_properties, write_cover
from .formats import Formats, minor_unit, quantize
from .journal import DRAWDOWN, DRAWDOWN_COLUMNS, journal_figures, write_drawdown, write_journal
from .sheets import (
    Cell,
    Column,
    Date,
    Formula,
    Number,
    TableSheet,
    Text,
    atomic_workbook,
    countifs,
    keyed_total,
    plain_key,
    quote_sheet,
    sumifs,
    summary_sheet,
    write_block,
)
from .warehouse import (
    RunInfo,
    account_names_sql,
    case_collisions,
    count_rows,
    display_name,
    fetch,
    load_cover_facts,
    stream,
    table_exists,
)

TITLE = "Invoices"
REGISTER = "Invoice register"
LINES = "Invoice lines"
LICENSE_DAYS = "License days"
TOTALS = "Totals by currency"
REJECTED = "Rejected rows"

REGISTER_COLUMNS = (
    Column("Invoice number", 30),
    Column("Account id", 16),
    Column("Account name", 26, wrap=True),
    Column("Invoice type", 15),
    Column("Type code", 14),
    Column("Currency", 9),
    Column("Total", 16, numeric=True),
    Column("Status", 8),
    Column("Hold reason", 34, wrap=True),
    Column("Payment action", 13),
    Column("Action code", 12),
    Column("Issuing paused", 9),
    Column("Invoice date", 12, numeric=True),
    Column("Due date", 12, numeric=True),
    Column("Billing email", 26, wrap=True),
)
# The label a person reads, beside the code (kept to filter on, as in the warehouse).
TYPE_LABELS = {
    "base": "Base",
    "overage": "Overage",
    "license_days": "License days",
    "prepaid_shortfall": "Prepaid shortfall",
}
ACTION_LABELS = {"autopay": "Autopay", "send_invoice": "Send invoice"}
LINE_COLUMNS = (
    Column("Invoice number", 30),
    Column("Line", 6, numeric=True),
    Column("Invoice type", 16),
    Column("Currency", 9),
    Column("Description", 44, wrap=True),
    Column("Quantity", 10, numeric=True),
    Column("Unit price", 14, numeric=True),
    Column("Days in month", 9, numeric=True),
    Column("Amount", 16, numeric=True),
)
LICENSE_COLUMNS = (
    Column("Account id", 16),
    Column("Account name", 28, wrap=True),
    Column("Product", 22),
    Column("License id", 24),
    Column("Days", 8, numeric=True),
)
REJECTED_COLUMNS = (
    Column("Input file", 22),
    Column("Line", 8, numeric=True),
    Column("Account id", 16),
    Column("Reason", 44, wrap=True),
    Column("Row as read", 60, wrap=True),
)
TOTAL_HEADERS = (
    "Currency",
    "Invoices",
    "Issued",
    "Held",
    "Total",
    "Issued total",
    "Held total",
    "Lines total",
)
TYPE_TOTAL_HEADERS = ("Currency", "Type code", "Invoices", "Total", "Issued total", "Held total")


def days_in_month(period: str) -> int:
    year, month = (int(part) for part in period.split("-"))
    return calendar.monthrange(year, month)[1]


def _line_amount_cell(line: dict[str, Any], fmts: Formats, dim: int) -> tuple[Cell, bool]:
    """The amount as a live formula when the formula gives the warehouse figure, else its value.

    Returns (cell, uses_days_in_month).
    """
    currency, amount = line["currency"], line["amount"]
    quantity, price = line["quantity"], line["unit_price"]
    fmt = fmts.money(currency)
    places = minor_unit(currency)
    if amount is None or quantity is None or price is None:
        return Number(amount, fmt), False
    if line["invoice_type"] == "license_days":
        if quantize(Decimal(quantity) * price / dim, currency) == amount:
            return Formula(f"=ROUND(F{{r}}*G{{r}}/H{{r}},{places})", amount, fmt), True
    elif quantize(Decimal(quantity) * price, currency) == amount:
        return Formula(f"=ROUND(F{{r}}*G{{r}},{places})", amount, fmt), False
    return Number(amount, fmt), False


def _invoice_query(con: duckdb.DuckDBPyConnection) -> str | None:
    """Invoices joined to their lines, in (invoice number, line) order."""
    if not table_exists(con, "invoices"):
        return None
    if table_exists(con, "invoice_lines"):
        lines = "select * from main.invoice_lines where period = ?"
    else:
        lines = (
            "select null::varchar as invoice_number, null::integer as line_no, "
            "null::varchar as description, null::bigint as quantity, "
            "null::decimal(18,6) as unit_price, null::decimal(18,2) as amount "
            "where ?::varchar is null"
        )
    return f"""
        with inv as (select * from main.invoices where period = ?),
        lines as ({lines})
        select coalesce(inv.invoice_number, lines.invoice_number) as invoice_number,
               inv.invoice_number is not null as has_invoice,
               inv.account_id, {display_name("n", "inv.account_id")} as account_name,
               inv.billing_email, inv.invoice_type,
               inv.currency, inv.total, inv.invoice_date, inv.due_date, inv.payment_action,
               inv.status, inv.hold_reason, inv.issuing_paused,
               lines.invoice_number is not null as has_line,
               lines.line_no, lines.description, lines.quantity, lines.unit_price, lines.amount
        from inv full outer join lines on inv.invoice_number = lines.invoice_number
        left join {account_names_sql(con)} n on n.account_id = inv.account_id
        order by 1, lines.line_no nulls first, lines.description, lines.quantity,
                 lines.unit_price, lines.amount
    """


def _register_total(lines: TableSheet, plain: bool) -> str:
    """The register's total: the invoice's lines, found by invoice number, added up.

    Keyed on the invoice number (not on the lines' positions), the total stays
    right however either sheet is sorted. The same for every row but for `{r}`.
    """
    formula = keyed_total(lines, "Amount", [("Invoice number", "$A{r}")], plain=plain, planned=True)
    return "=" + formula


def _register_row(
    invoice: dict[str, Any],
    fmts: Formats,
    totals: dict[bool, str],
    line_sum: Decimal | None,
    plain: bool,
) -> list[Cell]:
    """A register row; its total a formula over the invoice's lines (`_register_total`)."""
    held = invoice["status"] == "held"
    text, wrapped, date = fmts.text(held), fmts.text(held, wrap=True), fmts.date(held)
    money = fmts.money(invoice["currency"], held)
    if line_sum is not None:
        total: Cell = Formula(totals[plain], line_sum, money)
    else:
        total = Number(invoice["total"], money)
    paused = invoice["issuing_paused"]
    kind, action = invoice["invoice_type"], invoice["payment_action"]
    return [
        Text(invoice["invoice_number"], text),
        Text(invoice["account_id"], text),
        Text(invoice["account_name"], wrapped),
        Text(TYPE_LABELS.get(kind, kind), text),
        Text(kind, text),
        Text(invoice["currency"], text),
        total,
        Text(invoice["status"], text),
        Text(invoice["hold_reason"], wrapped),
        Text(ACTION_LABELS.get(action, action), text),
        Text(action, text),
        Text(None if paused is None else ("yes" if paused else "no"), text),
        Date(invoice["invoice_date"], date),
        Date(invoice["due_date"], date),
        Text(invoice["billing_email"], wrapped),
    ]


def _write_register_and_lines(
    con: duckdb.DuckDBPyConnection,
    period: str,
    register: TableSheet,
    lines: TableSheet,
    fmts: Formats,
) -> None:
    """Stream lines and register together: each invoice's lines, then its register row."""
    sql = _invoice_query(con)
    if sql is None:
        return
    dim = days_in_month(period)
    current: dict[str, Any] | None = None
    line_sum: Decimal | None = None
    collisions = case_collisions(
        con, "select invoice_number from main.invoices where period = ?", [period]
    )

    totals = {plain: _register_total(lines, plain) for plain in (True, False)}

    def flush() -> None:
        if current is not None and current["has_invoice"]:
            number = current["invoice_number"]
            plain = plain_key(number) and number not in collisions
            register.append(_register_row(current, fmts, totals, line_sum, plain))

    # The formats every line uses, looked up once (a lookup per cell added up).
    text, integer, wrapped = fmts.text(), fmts.integer(), fmts.text(wrap=True)
    for row in stream(con, sql, [period, period, period]):
        if current is None or row["invoice_number"] != current["invoice_number"]:
            flush()
            current, line_sum = row, None
        if not row["has_line"]:
            continue
        amount_cell, uses_days = _line_amount_cell(row, fmts, dim)
        lines.append(
            [
                Text(row["invoice_number"], text),
                Number(row["line_no"], integer),
                Text(TYPE_LABELS.get(row["invoice_type"], row["invoice_type"]), text),
                Text(row["currency"], text),
                Text(row["description"], wrapped),
                Number(row["quantity"], integer),
                Number(row["unit_price"], fmts.price(row["currency"], row["unit_price"])),
                Number(dim, integer) if uses_days else None,
                amount_cell,
            ]
        )
        line_sum = (line_sum or Decimal(0)) + (row["amount"] or 0)
    flush()


def _write_license_days(
    con: duckdb.DuckDBPyConnection, period: str, table: TableSheet, fmts: Formats
) -> None:
    if not table_exists(con, "license_days"):
        return
    sql = f"""
        select d.account_id, {display_name("n", "d.account_id")} as account_name,
               d.product, d.license_id, d.days
        from main.license_days d
        left join {account_names_sql(con)} n on n.account_id = d.account_id
        where d.period = ?
        order by d.account_id, d.product, d.license_id, d.days
    """
    text, wrapped, integer = fmts.text(), fmts.text(wrap=True), fmts.integer()
    for row in stream(con, sql, [period, period]):
        table.append(
            [
                Text(row["account_id"], text),
                Text(row["account_name"], wrapped),
                Text(row["product"], text),
                Text(row["license_id"], text),
                Number(row["days"], integer),
            ]
        )


def _write_rejected(
    con: duckdb.DuckDBPyConnection, period: str, table: TableSheet, fmts: Formats
) -> None:
    if not table_exists(con, "rejected_rows"):
        return
    sql = """
        select file, line_number, account_id, reason, raw from main.rejected_rows
        where period = ? order by file, line_number, reason, account_id, raw
    """
    for row in stream(con, sql, [period]):
        table.append(
            [
                Text(row["file"], fmts.text()),
                Number(row["line_number"], fmts.integer()),
                Text(row["account_id"], fmts.text()),
                Text(row["reason"], fmts.text(wrap=True)),
                Text(row["raw"], fmts.text(wrap=True)),
            ]
        )


def _write_totals(
    workbook: Any,
    con: duckdb.DuckDBPyConnection,
    period: str,
    register: TableSheet,
    lines: TableSheet,
    fmts: Formats,
) -> int:
    """Per currency, and per currency x invoice type: COUNTIFS/SUMIFS over the register.

    Returns the number of currency rows (the first block, rows 2 onwards).
    """
    ws = summary_sheet(workbook, fmts, TOTALS, (12, 16, *(16,) * 6))
    by_currency: list[dict[str, Any]] = []
    by_type: list[dict[str, Any]] = []
    if table_exists(con, "invoices"):
        lines_sql = (
            "select l.invoice_number, l.amount from main.invoice_lines l where l.period = ?"
            if table_exists(con, "invoice_lines")
            else "select null::varchar as invoice_number, null::decimal(18,2) as amount "
            "where ?::varchar is null"
        )
        by_currency = fetch(
            con,
            f"""
            with inv as (select * from main.invoices where period = ?),
            line_totals as (
                select inv.currency, sum(l.amount) as lines_total
                from ({lines_sql}) l join inv on inv.invoice_number = l.invoice_number
                group by inv.currency
            ),
            invoice_totals as (
                select currency, count(*) as invoices,
                       count(*) filter (where status = 'issued') as issued,
                       count(*) filter (where status = 'held') as held,
                       sum(total) as total,
                       coalesce(sum(total) filter (where status = 'issued'), 0) as issued_total,
                       coalesce(sum(total) filter (where status = 'held'), 0) as held_total
                from inv group by currency
            )
            select t.*, coalesce(l.lines_total, 0) as lines_total
            from invoice_totals t left join line_totals l on l.currency = t.currency
            order by t.currency
            """,
            [period, period],
        )
        by_type = fetch(
            con,
            """
            select currency, invoice_type, count(*) as invoices, sum(total) as total,
                   coalesce(sum(total) filter (where status = 'issued'), 0) as issued_total,
                   coalesce(sum(total) filter (where status = 'held'), 0) as held_total
            from main.invoices where period = ? group by all order by currency, invoice_type
            """,
            [period],
        )
    currency_rows: list[list[Cell]] = []
    for index, item in enumerate(by_currency):
        r = index + 2
        cur = item["currency"]
        money = fmts.money(cur)
        crit = [("Currency", f"$A{r}")]
        issued = [*crit, ("Status", '"issued"')]
        held = [*crit, ("Status", '"held"')]
        currency_rows.append(
            [
                Text(cur, fmts.text()),
                Formula("=" + countifs(register, crit), item["invoices"], fmts.integer()),
                Formula("=" + countifs(register, issued), item["issued"], fmts.integer()),
                Formula("=" + countifs(register, held), item["held"], fmts.integer()),
                Formula("=" + sumifs(register, "Total", crit), item["total"], money),
                Formula("=" + sumifs(register, "Total", issued), item["issued_total"], money),
                Formula("=" + sumifs(register, "Total", held), item["held_total"], money),
                Formula("=" + sumifs(lines, "Amount", crit), item["lines_total"], money),
            ]
        )
    next_row = write_block(ws, 0, TOTAL_HEADERS, fmts, currency_rows)
    type_rows: list[list[Cell]] = []
    for index, item in enumerate(by_type):
        r = next_row + 2 + index
        money = fmts.money(item["currency"])
        crit = [("Currency", f"$A{r}"), ("Type code", f"$B{r}")]
        type_rows.append(
            [
                Text(item["currency"], fmts.text()),
                Text(item["invoice_type"], fmts.text()),
                Formula("=" + countifs(register, crit), item["invoices"], fmts.integer()),
                Formula("=" + sumifs(register, "Total", crit), item["total"], money),
                Formula(
                    "=" + sumifs(register, "Total", [*crit, ("Status", '"issued"')]),
                    item["issued_total"],
                    money,
                ),
                Formula(
                    "=" + sumifs(register, "Total", [*crit, ("Status", '"held"')]),
                    item["held_total"],
                    money,
                ),
            ]
        )
    write_block(ws, next_row, TYPE_TOTAL_HEADERS, fmts, type_rows)
    return len(currency_rows)


def write_invoices(
    con: duckdb.DuckDBPyConnection, period: str, path: Path, run_info: RunInfo
) -> Path:
    """Write invoices.xlsx for the period to `path` (atomically)."""
    facts = load_cover_facts(con, period)
    notes = []
    if not facts.has_invoices:
        notes.append(f"No invoices were computed for {period}.")
    if facts.invoices_held:
        notes.append("Held invoices are shown in red in the register and are not to be sent.")
    with atomic_workbook(path, document_properties(TITLE, run_info)) as workbook:
        fmts = Formats(workbook, run_info.paper)
        write_cover(workbook, fmts, TITLE, run_info, facts, notes)
        register = TableSheet(
            workbook, fmts, REGISTER, REGISTER_COLUMNS, count_rows(con, "invoices", period)
        )
        lines = TableSheet(
            workbook, fmts, LINES, LINE_COLUMNS, count_rows(con, "invoice_lines", period)
        )
        _write_register_and_lines(con, period, register, lines, fmts)
        register.finish()
        lines.finish()
        license_days = TableSheet(workbook, fmts, LICENSE_DAYS, LICENSE_COLUMNS)
        _write_license_days(con, period, license_days, fmts)
        license_days.finish()
        currencies = _write_totals(workbook, con, period, register, lines, fmts)
        drawdown = TableSheet(workbook, fmts, DRAWDOWN, DRAWDOWN_COLUMNS)
        write_drawdown(con, period, drawdown, fmts)
        drawdown.finish()
        issued_totals = (
            f"{quote_sheet(TOTALS)}!$F$2:$F${currencies + 1}",
            f"{quote_sheet(TOTALS)}!$A$2:$A${currencies + 1}",
        )
        write_journal(
            workbook,
            fmts,
            journal_figures(con, period),
            (register, drawdown, issued_totals),
            run_info.gl_accounts,
        )
        rejected = TableSheet(workbook, fmts, REJECTED, REJECTED_COLUMNS)
        _write_rejected(con, period, rejected, fmts)
        rejected.finish()
    return path

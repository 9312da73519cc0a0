"""The full check of the workbooks (tests only): every row of every table, in order.

`verify_full` runs the close's own check (covers and totals blocks,
`closebook.workbooks.verify`) and then compares every row of every table with
an independent warehouse query, and every formula's stored value with an
error list. Tests run it on the fixture's workbooks and on copies
recalculated by LibreOffice, which proves the formulas, not only the stored
values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb

from closebook.workbooks.verify import (
    Book,
    Field,
    Problems,
    check_formula_values,
    compare_row,
    verify_workbooks,
)
from closebook.workbooks.warehouse import (
    NO_ACCOUNT_ROW,
    NO_NAME,
    stream,
    table_exists,
)


def _name(row: dict[str, Any]) -> str | None:
    """The account name a sheet shows (contract: names from main.accounts, never blank)."""
    if row.get("account_id") is None:
        return None
    if not row.get("has_account"):
        return NO_ACCOUNT_ROW
    name = row.get("account_name")
    return name if name is not None and name.strip() else NO_NAME


def _names_join(alias: str) -> str:
    return (
        "left join (select account_id, min(account_name) as account_name, true as has_account "
        f"from main.accounts where period = ? group by account_id) n "
        f"on n.account_id = {alias}.account_id"
    )


def compare_table(
    problems: Problems,
    book: Book,
    sheet: str,
    expected: Iterable[dict[str, Any]],
    fields: list[Field],
    key: Callable[[dict[str, Any]], Any],
    first_header: str | None = None,
) -> None:
    """Compare a table's rows, in order, with the warehouse's rows (full checks only)."""
    got_rows = book.table(sheet, first_header)
    index = 0
    for index, want in enumerate(expected, start=1):
        got = next(got_rows, None)
        where = f"{book.name} {sheet} row {index} ({key(want)})"
        if got is None:
            problems.add(f"{book.name} {sheet}", f"missing row {index}: {key(want)}")
            return
        compare_row(problems, where, got, want, fields)
    extra = sum(1 for _ in got_rows)
    if extra:
        problems.add(f"{book.name} {sheet}", f"{extra} rows more than the warehouse's {index}")


def _table_rows(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, params: list[Any]
) -> Iterator[dict[str, Any]]:
    """A table's expected rows, queried only when iterated and streamed in batches.

    `compare_table` does not iterate them when the check is not full, so the
    close's quick check never reads a million-row table into Python.
    """
    if table_exists(con, table):
        yield from stream(con, sql, params)


TYPE_LABELS = {
    "base": "Base",
    "overage": "Overage",
    "license_days": "License days",
    "prepaid_shortfall": "Prepaid shortfall",
}
ACTION_LABELS = {"autopay": "Autopay", "send_invoice": "Send invoice"}


def check_invoices_tables(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    line_count = (
        "(select count(*) from main.invoice_lines l where l.period = i.period "
        "and l.invoice_number = i.invoice_number)"
        if table_exists(con, "invoice_lines")
        else "0"
    )
    invoices = _table_rows(
        con,
        "invoices",
        f"select i.*, n.account_name, n.has_account, {line_count} as n_lines "
        f"from main.invoices i {_names_join('i')} "
        "where i.period = ? order by i.invoice_number",
        [period, period],
    )
    compare_table(
        problems,
        book,
        "Invoice register",
        invoices,
        [
            Field("Invoice number", "invoice_number"),
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Invoice type", lambda r: TYPE_LABELS[r["invoice_type"]]),
            Field("Type code", "invoice_type"),
            Field("Currency", "currency"),
            Field("Total", "total", "money", formula=lambda r: r["n_lines"] > 0),
            Field("Status", "status"),
            Field("Hold reason", "hold_reason"),
            Field("Payment action", lambda r: ACTION_LABELS[r["payment_action"]]),
            Field("Action code", "payment_action"),
            Field("Invoice date", "invoice_date", "date"),
            Field("Due date", "due_date", "date"),
        ],
        key=lambda r: r["invoice_number"],
    )
    lines = _table_rows(
        con,
        "invoice_lines",
        "select l.*, i.currency from main.invoice_lines l left join "
        "(select * from main.invoices where period = ?) i using (invoice_number) "
        "where l.period = ? order by l.invoice_number, l.line_no nulls first, l.description, "
        "l.quantity, l.unit_price, l.amount",
        [period, period],
    )
    compare_table(
        problems,
        book,
        "Invoice lines",
        lines,
        [
            Field("Invoice number", "invoice_number"),
            Field("Line", "line_no", "int"),
            Field("Description", "description"),
            Field("Quantity", "quantity", "int"),
            Field("Unit price", "unit_price", "price"),
            Field("Amount", "amount", "money"),
        ],
        key=lambda r: f"{r['invoice_number']} line {r['line_no']}",
    )
    days = _table_rows(
        con,
        "license_days",
        f"select d.*, n.account_name, n.has_account from main.license_days d {_names_join('d')} "
        "where d.period = ? order by d.account_id, d.product, d.license_id, d.days",
        [period, period],
    )
    compare_table(
        problems,
        book,
        "License days",
        days,
        [
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Product", "product"),
            Field("License id", "license_id"),
            Field("Days", "days", "int"),
        ],
        key=lambda r: f"{r['account_id']} {r['license_id']}",
    )
    drawdown = _table_rows(
        con,
        "prepaid_balances",
        f"select b.*, n.account_name, n.has_account from main.prepaid_balances b "
        f"{_names_join('b')} where b.period = ? and b.charge <> 0 order by b.account_id",
        [period, period],
    )
    compare_table(
        problems,
        book,
        "Prepaid drawdown",
        drawdown,
        [
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Currency", "currency"),
            Field("Charge", "charge", "money"),
            Field("Drawdown", "drawdown", "money"),
            Field("Shortfall", "shortfall", "money", formula=True),
        ],
        key=lambda r: r["account_id"],
    )


def check_overage_tables(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    rows = _table_rows(
        con,
        "hwm_usage",
        f"select u.*, n.account_name, n.has_account from main.hwm_usage u {_names_join('u')} "
        "where u.period = ? and u.overage_quantity > 0 order by u.account_id, u.metric",
        [period, period],
    )
    compare_table(
        problems,
        book,
        "Accounts over contract",
        rows,
        [
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Metric", "metric"),
            Field("Contracted", "contracted_quantity", "int"),
            Field("High-water mark", "hwm", "int"),
            Field("Reached at (UTC)", "hwm_observed_at", "datetime"),
            Field("Overage quantity", "overage_quantity", "int"),
            Field("Unit price", "unit_price", "price"),
            Field("Overage amount", "overage_amount", "money"),
            Field("Currency", "currency"),
        ],
        key=lambda r: f"{r['account_id']} {r['metric']}",
    )


PREPAID_MONEY = (
    ("Opening balance", "opening_balance"),
    ("Credits", "credits"),
    ("Charge", "charge"),
    ("Drawdown", "drawdown"),
    ("Shortfall", "shortfall"),
    ("Closing balance", "closing_balance"),
)


def check_prepaid_tables(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    rows = _table_rows(
        con,
        "prepaid_balances",
        f"select b.*, n.account_name, n.has_account from main.prepaid_balances b "
        f"{_names_join('b')} where b.period = ? order by b.account_id",
        [period, period],
    )
    compare_table(
        problems,
        book,
        "Balance statement",
        rows,
        [
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Currency", "currency"),
            *(Field(h, c, "money") for h, c in PREPAID_MONEY),
            Field("Available", lambda r: r["opening_balance"] + r["credits"], "money", True),
            Field("Devices", "devices", "int"),
            Field("Unit price", "unit_price", "price"),
            Field("Runway months", "runway_months", "int"),
            *(Field(f"Prepay {n} months", f"prepay_{n}_months", "money") for n in (12, 24, 36)),
        ],
        key=lambda r: r["account_id"],
    )


ITEM_FIELDS = [
    Field("Invoice number", "invoice_number"),
    Field("Account id", "account_id"),
    Field("Account name", _name),
    Field("Currency", "currency"),
    Field("Status", "status"),
    Field("Invoice status", "invoice_status"),
    Field("Computed amount", "computed_amount", "money"),
    Field("Billed amount", "billed_amount", "money"),
    Field("Difference", "difference", "money"),
    Field("Paid", "paid_amount", "money"),
    Field("Outstanding", "outstanding", "money"),
    Field("Due date", "due_date", "date"),
    Field("Days overdue", "days_overdue", "int"),
    Field("Aging bucket", "aging_bucket"),
]


def check_reconciliation_tables(
    problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str
) -> None:
    order = (
        "invoice_number, status, account_id, currency, computed_amount, billed_amount, paid_amount"
    )
    key = lambda r: f"{r['invoice_number']} {r['status']}"  # noqa: E731
    items = (
        "(select r.*, i.status as invoice_status, n.account_name, n.has_account "
        "from main.reconciliation r left join main.invoices i "
        f"on i.invoice_number = r.invoice_number and i.period = r.period {_names_join('r')} "
        "where r.period = ?)"
    )
    compare_table(
        problems,
        book,
        "All items",
        _table_rows(
            con,
            "reconciliation",
            f"select * from {items} order by account_id nulls last, currency nulls last, {order}",
            [period, period],
        ),
        ITEM_FIELDS,
        key,
    )
    compare_table(
        problems,
        book,
        "Exceptions",
        _table_rows(
            con,
            "reconciliation",
            f"select * from {items} where status <> 'matched' or invoice_status = 'held' "
            f"order by abs(difference) desc nulls last, {order}",
            [period, period],
        ),
        ITEM_FIELDS,
        key,
    )
    compare_table(
        problems,
        book,
        "AR aging",
        _table_rows(
            con,
            "ar_aging",
            f"select a.*, n.account_name, n.has_account from main.ar_aging a {_names_join('a')} "
            "where a.period = ? "
            "order by a.account_id, a.currency, a.invoice_period, a.invoice_number",
            [period, period],
        ),
        [
            Field("Invoice number", "invoice_number"),
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Invoice period", "invoice_period"),
            Field("Currency", "currency"),
            Field("Billed amount", "billed_amount", "money"),
            Field("Paid", "paid_amount", "money"),
            Field("Outstanding", "outstanding", "money", True),
            Field("Due date", "due_date", "date"),
            Field("Days overdue", "days_overdue", "int"),
            Field("Aging bucket", "aging_bucket"),
        ],
        key=lambda r: r["invoice_number"],
        first_header="Invoice number",
    )
    compare_table(
        problems,
        book,
        "Past-due accounts",
        _table_rows(
            con,
            "ar_aging",
            "select p.*, n.account_name, n.has_account from (select account_id, currency, "
            "count(*) as invoices, sum(outstanding) as overdue, max(days_overdue) as most_days, "
            "min(due_date) as oldest_due from main.ar_aging "
            "where period = ? and days_overdue > 0 and outstanding > 0 "
            f"group by account_id, currency) p {_names_join('p')} "
            "order by p.currency, p.overdue desc, p.account_id",
            [period, period],
        ),
        [
            Field("Account id", "account_id"),
            Field("Account name", _name),
            Field("Currency", "currency"),
            Field("Overdue invoices", "invoices", "int", True),
            Field("Overdue outstanding", "overdue", "money", True),
            Field("Most days overdue", "most_days", "int"),
            Field("Oldest due date", "oldest_due", "date"),
        ],
        key=lambda r: f"{r['account_id']} {r['currency']}",
    )


def _with_formula_values(check):  # noqa: ANN001, ANN202 - tiny local decorator
    def run(problems: Problems, book: Book, con: duckdb.DuckDBPyConnection, period: str) -> None:
        check(problems, book, con, period)
        check_formula_values(problems, book)

    return run


TABLE_CHECKS = {
    "invoices": _with_formula_values(check_invoices_tables),
    "overage": _with_formula_values(check_overage_tables),
    "prepaid": _with_formula_values(check_prepaid_tables),
    "reconciliation": _with_formula_values(check_reconciliation_tables),
}


def verify_full(con: duckdb.DuckDBPyConnection, period: str, reports_dir: Path) -> list[str]:
    """The close's check plus every row of every table and every formula's stored value."""
    return verify_workbooks(con, period, reports_dir, extra=TABLE_CHECKS)

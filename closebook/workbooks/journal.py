"""The journal summary of invoices.xlsx: what the accountant posts to the GL for the period.

Per currency (amounts in different currencies are never added):
- revenue recognised from the period's *issued* invoices, by invoice type,
  against the receivable they create (Dr accounts receivable, Cr revenue);
- the prepaid usage drawn down from customer balances (Dr customer
  prepayments, a liability, Cr prepaid usage revenue).

Every figure is a live formula: SUMIFS keyed on currency, invoice type code
and status over the Invoice register, or on currency over the Prepaid
drawdown sheet (one row per prepaid account, the figures of prepaid.xlsx's
Balance statement), so sorting either sheet changes nothing. Beside them, the
checks that the entry balances and ties to the register and the drawdown, each
showing `Ties` or `Does not tie`.

GL account names come from `[gl_accounts]` of `closebook.toml` (read by
`load_gl_accounts`); docs/workbooks.md says which line each is meant for.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import xlsxwriter.workbook

from .cells import difference_cell
from .formats import Formats, minor_unit, money_format
from .sheets import (
    Cell,
    Column,
    Formula,
    Number,
    TableSheet,
    Text,
    sumifs,
    summary_sheet,
    write_cell,
)
from .warehouse import account_names_sql, display_name, fetch, stream, table_exists

JOURNAL = "Journal"
DRAWDOWN = "Prepaid drawdown"
CONFIG_NAME = "closebook.toml"

# Journal line -> the GL account it is meant for (docs/workbooks.md).
GL_ACCOUNT_DEFAULTS: dict[str, str] = {
    "accounts_receivable": "1200 Accounts receivable",
    "revenue_base": "4000 Subscription revenue",
    "revenue_overage": "4010 Overage revenue",
    "revenue_license_days": "4020 License revenue",
    "revenue_prepaid_shortfall": "4030 Prepaid usage revenue",
    "customer_prepayments": "2300 Customer prepayments (deferred revenue)",
    "revenue_prepaid_drawdown": "4030 Prepaid usage revenue",
}
# Invoice type -> (journal line label, GL key). Contract 2.4's four types.
REVENUE_LINES = (
    ("base", "Revenue: base subscriptions", "revenue_base"),
    ("overage", "Revenue: overage", "revenue_overage"),
    ("license_days", "Revenue: license days", "revenue_license_days"),
    ("prepaid_shortfall", "Revenue: prepaid shortfall invoices", "revenue_prepaid_shortfall"),
)
HEADERS = ("Currency", "Entry", "Line", "GL account", "Debit", "Credit")
WIDTHS = (9, 16, 34, 36, 15, 15)
TIES, DOES_NOT_TIE = "Ties", "Does not tie"
DRAWDOWN_COLUMNS = (
    Column("Account id", 16),
    Column("Account name", 26, wrap=True),
    Column("Currency", 9),
    Column("Charge", 14, numeric=True),
    Column("Drawdown", 14, numeric=True),
    Column("Shortfall", 14, numeric=True),
)


# The register, the prepaid drawdown table, and Totals by currency's (issued total,
# currency) ranges: what the journal's formulas read.
Sources = tuple[TableSheet, TableSheet, tuple[str, str]]


class ConfigError(ValueError):
    """closebook.toml cannot be used; the message is one line."""


def load_gl_accounts(path: Path) -> dict[str, str]:
    """GL account names from `[gl_accounts]` of a closebook.toml; the defaults when it is absent.

    Unknown keys and non-text values are errors (a typo would otherwise post
    to the default account silently).
    """
    accounts = dict(GL_ACCOUNT_DEFAULTS)
    if not path.exists():
        return accounts
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: not readable TOML ({error})") from None
    section = config.get("gl_accounts", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [gl_accounts] must be a table of names")
    for key, value in section.items():
        if key not in GL_ACCOUNT_DEFAULTS:
            known = ", ".join(GL_ACCOUNT_DEFAULTS)
            raise ConfigError(f"{path}: unknown gl_accounts key {key!r} (known: {known})")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: gl_accounts.{key} must be a non-empty text")
        accounts[key] = value
    return accounts


def write_drawdown(
    con: duckdb.DuckDBPyConnection, period: str, table: TableSheet, fmts: Formats
) -> None:
    """One row per prepaid account with a charge: charge, drawdown, shortfall (prepaid_balances)."""
    if not table_exists(con, "prepaid_balances"):
        return
    sql = f"""
        select b.account_id, {display_name("n", "b.account_id")} as account_name,
               b.currency, b.charge, b.drawdown, b.shortfall
        from (select * from main.prepaid_balances where period = ? and charge <> 0) b
        left join {account_names_sql(con)} n on n.account_id = b.account_id
        order by b.account_id
    """
    for item in stream(con, sql, [period, period]):
        cur = item["currency"]
        money = fmts.money(cur)
        charge, drawdown, shortfall = item["charge"], item["drawdown"], item["shortfall"]
        shortfall_cell = difference_cell(
            charge, drawdown, shortfall, ("D", "E"), minor_unit(cur), money
        )
        table.append(
            [
                Text(item["account_id"], fmts.text()),
                Text(item["account_name"], fmts.text(wrap=True)),
                Text(cur, fmts.text()),
                Number(charge, money),
                Number(drawdown, money),
                shortfall_cell,
            ]
        )


@dataclass(frozen=True)
class CurrencyFigures:
    """The warehouse's figures for one currency's entries (the values stored with the formulas)."""

    currency: str
    by_type: dict[str, Decimal]  # issued totals per invoice type
    drawdown: Decimal
    charge: Decimal
    shortfall: Decimal

    @property
    def receivable(self) -> Decimal:
        return sum(self.by_type.values(), Decimal(0))


def journal_line_amount(fig: CurrencyFigures, line: str) -> Decimal | None:
    """The warehouse's figure for a journal line, by its label (None: not a journal line)."""
    amounts = {
        "Accounts receivable": fig.receivable,
        "Customer prepayments released": fig.drawdown,
        "Revenue: prepaid usage from balances": fig.drawdown,
    }
    amounts.update({label: fig.by_type[code] for code, label, _ in REVENUE_LINES})
    return amounts.get(line)


def journal_figures(con: duckdb.DuckDBPyConnection, period: str) -> list[CurrencyFigures]:
    """Per currency: issued totals by invoice type, and the prepaid drawdown (warehouse)."""
    by_type: dict[str, dict[str, Decimal]] = {}
    if table_exists(con, "invoices"):
        for row in fetch(
            con,
            "select currency, invoice_type, sum(total) as total from main.invoices "
            "where period = ? and status = 'issued' group by all",
            [period],
        ):
            by_type.setdefault(row["currency"], {})[row["invoice_type"]] = row["total"]
    prepaid: dict[str, dict[str, Any]] = {}
    if table_exists(con, "prepaid_balances"):
        for row in fetch(
            con,
            "select currency, sum(drawdown) as drawdown, sum(charge) as charge, "
            "sum(shortfall) as shortfall from main.prepaid_balances "
            "where period = ? and charge <> 0 group by currency",
            [period],
        ):
            prepaid[row["currency"]] = row
    figures = []
    for currency in sorted(set(by_type) | set(prepaid), key=lambda c: c or ""):
        if currency is None:
            continue
        p = prepaid.get(currency, {})
        figures.append(
            CurrencyFigures(
                currency,
                {t: by_type.get(currency, {}).get(t, Decimal(0)) for t, _, _ in REVENUE_LINES},
                p.get("drawdown") or Decimal(0),
                p.get("charge") or Decimal(0),
                p.get("shortfall") or Decimal(0),
            )
        )
    return figures


def _currency_rows(
    fig: CurrencyFigures,
    first: int,
    sources: Sources,
    gl: Mapping[str, str],
    fmts: Formats,
) -> tuple[list[list[Cell]], list[int]]:
    """One currency's journal lines and checks, starting at Excel row `first`.

    Returns the rows and the Excel rows of its revenue lines (for the chart).
    """
    register, drawdown, (totals_issued, totals_currency) = sources
    cur = fig.currency
    money = fmts.money(cur)
    places = minor_unit(cur)
    tolerance = "0.5" if places == 0 else f"0.{'0' * places}5"
    currency_key = [("Currency", f"$A{first}")]
    issued = [*currency_key, ("Status", '"issued"')]
    receivable = sumifs(register, "Total", issued)
    drawdown_sum = sumifs(drawdown, "Drawdown", currency_key)

    def line(entry: str, label: str, gl_key: str, debit: Cell, credit: Cell) -> list[Cell]:
        texts = (cur, entry, label)
        return [
            *(Text(text, fmts.text()) for text in texts),
            Text(gl[gl_key], fmts.text(wrap=True)),
            debit,
            credit,
        ]

    rows = [
        line(
            "Invoices issued",
            "Accounts receivable",
            "accounts_receivable",
            Formula("=" + receivable, fig.receivable, money),
            None,
        )
    ]
    revenue_rows = []
    for code, label, gl_key in REVENUE_LINES:
        revenue_rows.append(first + len(rows))
        by_type = sumifs(register, "Total", [*issued, ("Type code", f'"{code}"')])
        credit = Formula("=" + by_type, fig.by_type[code], money)
        rows.append(line("Invoices issued", label, gl_key, None, credit))
    debit_row = first + len(rows)
    rows.append(
        line(
            "Prepaid drawdown",
            "Customer prepayments released",
            "customer_prepayments",
            Formula("=" + drawdown_sum, fig.drawdown, money),
            None,
        )
    )
    rows.append(
        line(
            "Prepaid drawdown",
            "Revenue: prepaid usage from balances",
            "revenue_prepaid_drawdown",
            None,
            Formula(f"=E{debit_row}", fig.drawdown, money),
        )
    )
    last = first + len(rows) - 1
    charge = sumifs(drawdown, "Charge", currency_key)
    shortfall = sumifs(drawdown, "Shortfall", currency_key)
    checks = (
        ("Debits equal credits", f"SUM(E{first}:E{last})-SUM(F{first}:F{last})"),
        (
            "Receivable equals the issued total of Totals by currency",
            f"E{first}-SUMIFS({totals_issued},{totals_currency},$A{first})",
        ),
        (
            "Revenue by type adds up to the receivable",
            f"E{first}-SUM({','.join(f'F{r}' for r in revenue_rows)})",
        ),
        (
            "Drawdown equals the statement's charge less shortfall",
            f"E{debit_row}-(({charge})-({shortfall}))",
        ),
    )
    verdict = fmts.custom(bold=True, valign="top")
    for label, difference in checks:
        rows.append(
            [
                Text(cur, fmts.text()),
                Text("Check", fmts.custom(italic=True, valign="top")),
                Text(label, fmts.text(wrap=True)),
                Formula(
                    f'=IF(ABS({difference})<{tolerance},"{TIES}","{DOES_NOT_TIE}")', TIES, verdict
                ),
            ]
        )
    return rows, revenue_rows


def write_journal(
    workbook: xlsxwriter.workbook.Workbook,
    fmts: Formats,
    figures: list[CurrencyFigures],
    sources: Sources,
    gl_accounts: Mapping[str, str],
) -> None:
    """The Journal sheet: per currency, the two entries, their checks, and a revenue chart.

    `sources`: the register, the prepaid drawdown table, and the ranges
    (issued total, currency) of the first block of Totals by currency.
    """
    ws = summary_sheet(workbook, fmts, JOURNAL, WIDTHS)
    gl = {**GL_ACCOUNT_DEFAULTS, **gl_accounts}
    ws.set_row(0, 30)
    for col, text in enumerate(HEADERS):
        ws.write_string(0, col, text, fmts.header(col >= 4))
    row0 = 1
    for fig in figures:
        rows, revenue_rows = _currency_rows(fig, row0 + 1, sources, gl, fmts)
        for cells in rows:
            texts = [c.value for c in cells if isinstance(c, Text) and isinstance(c.value, str)]
            if any(len(text) > WIDTHS[3] - 2 for text in texts[3:4] + texts[2:3]):
                ws.set_row(row0, 30)  # a long GL account name or check wraps to two lines
            for col, cell in enumerate(cells):
                _cell(ws, row0, col, cell)
            row0 += 1
        _revenue_chart(workbook, ws, fig.currency, revenue_rows)
        row0 += 1  # a blank row between currencies
    ws.print_area(0, 0, max(row0, 1), len(HEADERS) - 1)  # the chart is for the screen


def _cell(ws: Any, row0: int, col: int, cell: Cell) -> None:
    write_cell(ws, row0, col, cell, row0 + 1)


def _revenue_chart(
    workbook: xlsxwriter.workbook.Workbook,
    ws: Any,
    currency: str,
    revenue_rows: list[int],
) -> None:
    """A bar chart of the currency's revenue by invoice type, from the journal's own cells."""
    chart = workbook.add_chart({"type": "bar"})
    first, last = revenue_rows[0] - 1, revenue_rows[-1] - 1
    chart.add_series(
        {
            "name": f"Revenue {currency}",
            "categories": [JOURNAL, first, 2, last, 2],
            "values": [JOURNAL, first, 5, last, 5],
            "data_labels": {"value": True, "num_format": money_format(currency)},
        }
    )
    chart.set_title({"name": f"Revenue by invoice type, {currency}"})
    chart.set_legend({"none": True})
    chart.set_x_axis({"num_format": money_format(currency)})
    chart.set_y_axis({"reverse": True})
    chart.set_size({"width": 480, "height": 240})
    ws.insert_chart(first - 1, len(HEADERS) + 1, chart, {"object_position": 3, "x_offset": 10})

"""prepaid.xlsx: the balance statement of every prepaid account (contract 2.3).

The balance arithmetic is written out as formulas an accountant can follow
across the row: available = opening + credits; drawdown = MIN(MAX(available,
0), charge); shortfall = charge - drawdown; closing = available - drawdown;
runway = INT(closing / charge); prepay N months = devices x N x unit price.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb

from .cover import document_properties, write_cover
from .formats import Formats, minor_unit, quantize
from .sheets import (
    Cell,
    Column,
    Formula,
    Number,
    TableSheet,
    Text,
    atomic_workbook,
    countifs,
    sumifs,
    summary_sheet,
    write_block,
)
from .warehouse import (
    RunInfo,
    account_names_sql,
    count_rows,
    display_name,
    fetch,
    load_cover_facts,
    stream,
    table_exists,
)

TITLE = "Prepaid balances"
STATEMENT = "Balance statement"
TOTALS = "Totals by currency"
PREPAY_MONTHS = (12, 24, 36)
COLUMNS = (
    Column("Account id", 16),
    Column("Account name", 26, wrap=True),
    Column("Currency", 9),
    Column("Opening balance", 15, numeric=True),
    Column("Credits", 14, numeric=True),
    Column("Available", 15, numeric=True),
    Column("Devices", 9, numeric=True),
    Column("Unit price", 13, numeric=True),
    Column("Charge", 14, numeric=True),
    Column("Drawdown", 14, numeric=True),
    Column("Shortfall", 14, numeric=True),
    Column("Closing balance", 15, numeric=True),
    Column("Runway months", 9, numeric=True),
    *(Column(f"Prepay {months} months", 15, numeric=True) for months in PREPAY_MONTHS),
)
TOTAL_HEADERS = (
    "Currency",
    "Accounts",
    "Opening balance",
    "Credits",
    "Charge",
    "Drawdown",
    "Shortfall",
    "Closing balance",
)
TOTAL_COLUMNS = {
    "Opening balance": "opening_balance",
    "Credits": "credits",
    "Charge": "charge",
    "Drawdown": "drawdown",
    "Shortfall": "shortfall",
    "Closing balance": "closing_balance",
}
RUNWAY_PLACES = 9  # ROUND before INT so 0.3/0.1 (2.9999...) still floors to 3


def _runway(closing: Decimal, charge: Decimal) -> int | None:
    if charge == 0:
        return None
    step = Decimal(1).scaleb(-RUNWAY_PLACES)
    return math.floor((closing / charge).quantize(step, rounding=ROUND_HALF_UP))


def _row(item: dict[str, Any], fmts: Formats) -> list[Cell]:
    """One statement row; each formula is used only when it gives the warehouse figure."""
    cur = item["currency"]
    m = minor_unit(cur)
    money = fmts.money(cur)
    opening, credits = item["opening_balance"], item["credits"]
    devices, price, charge = item["devices"], item["unit_price"], item["charge"]
    available = opening + credits

    def derived(formula: str, computed: Any, warehouse: Any, fmt: Any = money) -> Cell:
        if computed == warehouse:
            return Formula(formula, warehouse if warehouse is not None else "", fmt)
        return Number(warehouse, fmt)

    charge_computed = (
        quantize(Decimal(devices) * price, cur) if None not in (devices, price) else None
    )
    drawdown = min(max(available, Decimal(0)), charge)
    cells: list[Cell] = [
        Text(item["account_id"], fmts.text()),
        Text(item["account_name"], fmts.text(wrap=True)),
        Text(cur, fmts.text()),
        Number(opening, money),
        Number(credits, money),
        Formula(f"=ROUND(D{{r}}+E{{r}},{m})", available, money),
        Number(devices, fmts.integer()),
        Number(price, fmts.price(cur, price)),
        derived(f"=ROUND(G{{r}}*H{{r}},{m})", charge_computed, charge),
        derived("=MIN(MAX(F{r},0),I{r})", drawdown, item["drawdown"]),
        derived(f"=ROUND(I{{r}}-J{{r}},{m})", charge - drawdown, item["shortfall"]),
        derived(f"=ROUND(F{{r}}-J{{r}},{m})", available - drawdown, item["closing_balance"]),
        derived(
            f'=IF(I{{r}}=0,"",INT(ROUND(L{{r}}/I{{r}},{RUNWAY_PLACES})))',
            _runway(item["closing_balance"], charge),
            item["runway_months"],
            fmts.integer(),
        ),
    ]
    for months in PREPAY_MONTHS:
        warehouse = item[f"prepay_{months}_months"]
        computed = (
            quantize(Decimal(devices) * months * price, cur)
            if None not in (devices, price)
            else None
        )
        cells.append(derived(f"=ROUND(G{{r}}*{months}*H{{r}},{m})", computed, warehouse))
    return cells


def write_prepaid(
    con: duckdb.DuckDBPyConnection, period: str, path: Path, run_info: RunInfo
) -> Path:
    """Write prepaid.xlsx for the period to `path` (atomically)."""
    facts = load_cover_facts(con, period)
    count = count_rows(con, "prepaid_balances", period)
    notes = [] if count else [f"No prepaid balances were computed for {period}."]
    with atomic_workbook(path, document_properties(TITLE, run_info)) as workbook:
        fmts = Formats(workbook, run_info.paper)
        write_cover(workbook, fmts, TITLE, run_info, facts, notes)
        table = TableSheet(workbook, fmts, STATEMENT, COLUMNS, count)
        totals: list[dict[str, Any]] = []
        if table_exists(con, "prepaid_balances"):
            sql = f"""
                select b.*, {display_name("n", "b.account_id")} as account_name
                from (select * from main.prepaid_balances where period = ?) b
                left join {account_names_sql(con)} n on n.account_id = b.account_id
                order by b.account_id
            """
            for item in stream(con, sql, [period, period]):
                table.append(_row(item, fmts))
            sums = ", ".join(f"sum({col}) as {col}" for col in TOTAL_COLUMNS.values())
            totals = fetch(
                con,
                f"select currency, count(*) as accounts, {sums} from main.prepaid_balances "
                "where period = ? group by currency order by currency",
                [period],
            )
        table.finish()
        ws = summary_sheet(workbook, fmts, TOTALS, (12, 10, *(16,) * len(TOTAL_COLUMNS)))
        rows = []
        for index, item in enumerate(totals):
            r = index + 2
            crit = [("Currency", f"$A{r}")]
            money = fmts.money(item["currency"])
            cells: list[Cell] = [
                Text(item["currency"], fmts.text()),
                Formula("=" + countifs(table, crit), item["accounts"], fmts.integer()),
            ]
            for header, column in TOTAL_COLUMNS.items():
                cells.append(Formula("=" + sumifs(table, header, crit), item[column], money))
            rows.append(cells)
        write_block(ws, 0, TOTAL_HEADERS, fmts, rows)
    return path

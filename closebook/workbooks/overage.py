"""overage.xlsx: accounts that went over their contract this period (contract 2.1).

One row per hwm_usage row with overage > 0: overage quantity = HWM - contracted
and amount = ROUND(overage x unit price) as live formulas, then totals per
currency.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from xlsxwriter.utility import xl_col_to_name

from .cover import document_properties, write_cover
from .formats import Formats, minor_unit, money_format, quantize
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
    sumifs,
    summary_sheet,
    write_block,
)
from .warehouse import (
    RunInfo,
    account_names_sql,
    display_name,
    fetch,
    load_cover_facts,
    stream,
    table_exists,
)

TITLE = "Overage"
OVERAGE = "Accounts over contract"
TOTALS = "Totals by currency"
COLUMNS = (
    Column("Account id", 16),
    Column("Account name", 28, wrap=True),
    Column("Metric", 9),
    Column("Contracted", 11, numeric=True),
    Column("High-water mark", 11, numeric=True),
    Column("Reached at (UTC)", 19, numeric=True),
    Column("Overage quantity", 11, numeric=True),
    Column("Unit price", 14, numeric=True),
    Column("Overage amount", 16, numeric=True),
    Column("Currency", 9),
)
TOTAL_HEADERS = ("Currency", "Accounts", "Overage amount")
TREND_HEADER = "Overage by period"
WHERE = "from main.hwm_usage where period = ? and overage_quantity > 0"


def _row(item: dict, fmts: Formats) -> list[Cell]:
    currency = item["currency"]
    contracted, hwm, overage = (
        item["contracted_quantity"],
        item["hwm"],
        item["overage_quantity"],
    )
    price, amount = item["unit_price"], item["overage_amount"]
    integer = fmts.integer()
    overage_cell: Cell = (
        Formula("=E{r}-D{r}", overage, integer)
        if None not in (contracted, hwm) and hwm - contracted == overage
        else Number(overage, integer)
    )
    money = fmts.money(currency)
    if (
        price is not None
        and amount is not None
        and quantize(Decimal(overage) * price, currency) == amount
    ):
        amount_cell: Cell = Formula(f"=ROUND(G{{r}}*H{{r}},{minor_unit(currency)})", amount, money)
    else:
        amount_cell = Number(amount, money)
    return [
        Text(item["account_id"], fmts.text()),
        Text(item["account_name"], fmts.text(wrap=True)),
        Text(item["metric"], fmts.text()),
        Number(contracted, integer),
        Number(hwm, integer),
        Date(item["hwm_observed_at"], fmts.datetime()),
        overage_cell,
        Number(price, fmts.price(currency, price)),
        amount_cell,
        Text(currency, fmts.text()),
    ]


def write_overage(
    con: duckdb.DuckDBPyConnection, period: str, path: Path, run_info: RunInfo
) -> Path:
    """Write overage.xlsx for the period to `path` (atomically)."""
    facts = load_cover_facts(con, period)
    has_usage = table_exists(con, "hwm_usage")
    count = (
        con.execute(f"select count(*) {WHERE}", [period]).fetchone()[0] if has_usage else 0  # type: ignore[index]
    )
    notes = []
    if not has_usage:
        notes.append(f"No usage was computed for {period}.")
    elif count == 0:
        notes.append(f"No account went over its contracted quantity in {period}.")
    with atomic_workbook(path, document_properties(TITLE, run_info)) as workbook:
        fmts = Formats(workbook, run_info.paper)
        write_cover(workbook, fmts, TITLE, run_info, facts, notes)
        table = TableSheet(workbook, fmts, OVERAGE, COLUMNS, count)
        totals: list[dict] = []
        if has_usage:
            sql = f"""
                select u.*, {display_name("n", "u.account_id")} as account_name
                from (select * {WHERE}) u
                left join {account_names_sql(con)} n on n.account_id = u.account_id
                order by u.account_id, u.metric
            """
            for item in stream(con, sql, [period, period]):
                table.append(_row(item, fmts))
            totals = fetch(
                con,
                f"select currency, count(*) as accounts, sum(overage_amount) as amount {WHERE} "
                "group by currency order by currency",
                [period],
            )
        table.finish()
        ws = summary_sheet(workbook, fmts, TOTALS, (18, 16, 18, 16, 16, 16, 16))
        rows = []
        for index, item in enumerate(totals):
            r = index + 2
            crit = [("Currency", f"$A{r}")]
            rows.append(
                [
                    Text(item["currency"], fmts.text()),
                    Formula("=" + countifs(table, crit), item["accounts"], fmts.integer()),
                    Formula(
                        "=" + sumifs(table, "Overage amount", crit),
                        item["amount"],
                        fmts.money(item["currency"], bold=True),
                    ),
                ]
            )
        next_row = write_block(ws, 0, TOTAL_HEADERS, fmts, rows)
        if has_usage:
            _write_trend(workbook, ws, con, period, next_row, table, fmts)
    return path


def _write_trend(
    workbook: Any,
    ws: Any,
    con: duckdb.DuckDBPyConnection,
    period: str,
    row0: int,
    table: TableSheet,
    fmts: Formats,
) -> None:
    """Overage amount per closed period up to this one, per currency, and a chart per currency.

    Earlier periods' rows are not in this workbook, so their figures are the
    warehouse's values; this period's are SUMIFS over the sheet beside it.
    """
    trend = fetch(
        con,
        "select period, currency, sum(overage_amount) as amount from main.hwm_usage "
        "where period <= ? and overage_quantity > 0 group by all order by period, currency",
        [period],
    )
    currencies = sorted({row["currency"] for row in trend if row["currency"] is not None})
    periods = sorted({row["period"] for row in trend} | {period})
    amounts = {(row["period"], row["currency"]): row["amount"] for row in trend}
    rows: list[list[Cell]] = []
    for month in periods:
        cells: list[Cell] = [Text(month, fmts.text())]
        for col, currency in enumerate(currencies):
            amount = amounts.get((month, currency), Decimal(0))
            money = fmts.money(currency)
            if month == period:
                letter = xl_col_to_name(col + 1)
                crit = [("Currency", f"{letter}${row0 + 1}")]
                cells.append(Formula("=" + sumifs(table, "Overage amount", crit), amount, money))
            else:
                cells.append(Number(amount, money))
        rows.append(cells)
    write_block(ws, row0, (TREND_HEADER, *currencies), fmts, rows)
    first, last = row0 + 1, row0 + len(periods)  # 0-based rows of the first and last period
    for col, currency in enumerate(currencies, start=1):
        chart = workbook.add_chart({"type": "line"})
        chart.add_series(
            {
                "name": [TOTALS, row0, col],
                "categories": [TOTALS, first, 0, last, 0],
                "values": [TOTALS, first, col, last, col],
                "marker": {"type": "circle"},
                "data_labels": {"value": True, "num_format": money_format(currency)},
            }
        )
        chart.set_title({"name": f"Overage by closed period, {currency}"})
        chart.set_legend({"none": True})
        chart.set_y_axis({"num_format": money_format(currency), "min": 0})
        chart.set_size({"width": 460, "height": 240})
        ws.insert_chart(
            (col - 1) * 13, len(currencies) + 2, chart, {"object_position": 3, "x_offset": 10}
        )
    ws.print_area(0, 0, row0 + len(periods), max(len(currencies), len(TOTAL_HEADERS) - 1))

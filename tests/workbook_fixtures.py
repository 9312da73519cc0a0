"""A tiny hand-made warehouse for the workbook tests: the `main` tables of
docs/architecture.md with a few rows for 2026-10 (and one for 2026-09 that must
never show), in USD, EUR, GBP, CAD, AUD and JPY, with held invoices, a half-cent
rounding case and spreadsheet-injection strings in every text field that came
from the inputs.

Known answers, worked by hand:
- A-100 USD hwm, C=14, HWM 17, 8.50: base 14 x 8.50 = 119.00; overage 3 x 8.50 = 25.50
- A-200 EUR hwm, C=0, HWM 12, 4.95: base 12 x 4.95 = 59.40 (held)
- J-300 JPY license days, 31-day month: backup 45 days x 1200 / 31 = 1741.94 -> 1742;
  scan 30 days x 500 / 31 = 483.87 -> 484; total 2226
- A-700 AUD hwm, C=0, HWM 3, 0.895: 3 x 0.895 = 2.685 -> 2.69 (half-up on a half cent)
- A-800 USD hwm, C=1000, HWM 1500, 12.345678: base 12345.678 -> 12345.68;
  overage 500 x 12.345678 = 6172.839 -> 6172.84 (held)
- J-900 JPY hwm, C=5, HWM 8, 1234.5: base 6172.5 -> 6173; overage 3703.5 -> 3704
- P-400 GBP prepaid: 50.00 + 20.00 = 70.00, charge 10 x 3.00 = 30.00, closing 40.00,
  runway floor(40 / 30) = 1; prepay 12 = 10 x 12 x 3.00 = 360.00
- P-500 USD prepaid: 10.00 + 5.25 = 15.25, charge 9 x 2.15 = 19.35, drawdown 15.25,
  shortfall 4.10 (a PREPAID invoice), closing 0.00, runway 0
- P-600 CAD prepaid: 100.00 + 0, charge 0, closing 100.00, runway none
USD totals: 119.00 + 25.50 + 12345.68 + 6172.84 + 4.10 = 18667.12
JPY totals: 2226 + 6173 + 3704 = 12103
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import duckdb

PERIOD = "2026-10"
OTHER_PERIOD = "2026-09"

INJECTIONS = (
    '=HYPERLINK("http://x","click")',
    "+1-2",
    "@SUM(A1)",
    "-2+3",
    "\tTabbed Ltd",
    "=1+1",
)

DDL = """
create table main.invoices (
    invoice_number varchar, period varchar, account_id varchar, invoice_type varchar,
    currency varchar, total decimal(18,2), invoice_date date, due_date date,
    payment_action varchar, status varchar, hold_reason varchar, issuing_paused boolean,
    account_name varchar, billing_email varchar);
create table main.invoice_lines (
    invoice_number varchar, line_no integer, description varchar, quantity bigint,
    unit_price decimal(18,6), amount decimal(18,2), period varchar);
create table main.hwm_usage (
    period varchar, account_id varchar, metric varchar, carried_in_quantity bigint,
    hwm bigint, hwm_observed_at timestamp, contracted_quantity bigint,
    overage_quantity bigint, currency varchar, unit_price decimal(18,6),
    overage_amount decimal(18,2));
create table main.license_days (
    period varchar, account_id varchar, license_id varchar, product varchar, days integer);
create table main.prepaid_balances (
    period varchar, account_id varchar, opening_balance decimal(18,2),
    credits decimal(18,2), charge decimal(18,2), drawdown decimal(18,2),
    shortfall decimal(18,2), closing_balance decimal(18,2), runway_months integer,
    currency varchar, devices bigint, unit_price decimal(18,6),
    prepay_12_months decimal(18,2), prepay_24_months decimal(18,2),
    prepay_36_months decimal(18,2));
create table main.reconciliation (
    period varchar, invoice_number varchar, status varchar, computed_amount decimal(18,2),
    billed_amount decimal(18,2), difference decimal(18,2), paid_amount decimal(18,2),
    outstanding decimal(18,2), days_overdue integer, aging_bucket varchar,
    account_id varchar, currency varchar, due_date date);
create table main.rejected_rows (
    period varchar, file varchar, line_number bigint, account_id varchar, reason varchar,
    raw varchar);
create table main.load_counts (
    period varchar, file varchar, rows_read bigint, accepted bigint, duplicates bigint,
    rejected bigint);
create table main.ar_aging (
    period varchar, invoice_number varchar, account_id varchar, invoice_period varchar,
    currency varchar, billed_amount decimal(18,2), paid_amount decimal(18,2),
    outstanding decimal(18,2), due_date date, days_overdue integer, aging_bucket varchar);
create table main.accounts (
    period varchar, account_id varchar, account_name varchar, billing_model varchar,
    currency varchar);
create table main.input_files (
    period varchar, file varchar, path varchar, format varchar, bytes bigint, sha256 varchar);
"""

INV_DATE = dt.date(2026, 11, 3)
DUE = dt.date(2026, 12, 3)

# invoice_number, account_id, type, currency, total, action, status, hold, paused, name, email
INVOICES = [
    (
        "A-100",
        "base",
        "USD",
        D("119.00"),
        "autopay",
        "issued",
        None,
        False,
        "Acme Corp",
        "ap@acme.example",
    ),
    (
        "A-100",
        "overage",
        "USD",
        D("25.50"),
        "autopay",
        "issued",
        None,
        False,
        "Acme Corp",
        "ap@acme.example",
    ),
    (
        "A-200",
        "base",
        "EUR",
        D("59.40"),
        "send_invoice",
        "held",
        "rejected accounts line 3: @SUM(A1)",
        False,
        INJECTIONS[0],
        "-2+3",
    ),
    (
        "J-300",
        "license_days",
        "JPY",
        D("2226.00"),
        "send_invoice",
        "issued",
        None,
        True,
        "Tokyo KK",
        None,
    ),
    ("A-700", "base", "AUD", D("2.69"), "autopay", "issued", None, False, INJECTIONS[4], None),
    (
        "A-800",
        "base",
        "USD",
        D("12345.68"),
        "send_invoice",
        "issued",
        None,
        False,
        INJECTIONS[1],
        "+1-2@x.example",
    ),
    (
        "A-800",
        "overage",
        "USD",
        D("6172.84"),
        "send_invoice",
        "held",
        "rejected usage_snapshots line 12: =1+1",
        False,
        INJECTIONS[1],
        "+1-2@x.example",
    ),
    (
        "J-900",
        "base",
        "JPY",
        D("6173.00"),
        "send_invoice",
        "issued",
        None,
        False,
        "Nagoya GK",
        None,
    ),
    (
        "J-900",
        "overage",
        "JPY",
        D("3704.00"),
        "send_invoice",
        "issued",
        None,
        False,
        "Nagoya GK",
        None,
    ),
    (
        "P-500",
        "prepaid_shortfall",
        "USD",
        D("4.10"),
        "autopay",
        "issued",
        None,
        False,
        "-2+3",
        None,
    ),
]
TYPE_CODE = {
    "base": "BASE",
    "overage": "OVERAGE",
    "license_days": "LICENSE",
    "prepaid_shortfall": "PREPAID",
}

# account_id, type, line_no, description, quantity, unit_price, amount
LINES = [
    ("A-100", "base", 1, "Contracted users: 14 x 8.50", 14, D("8.50"), D("119.00")),
    ("A-100", "overage", 1, "Users over contract: 17 - 14", 3, D("8.50"), D("25.50")),
    ("A-200", "base", 1, '=HYPERLINK("http://x","click")', 12, D("4.95"), D("59.40")),
    ("J-300", "license_days", 1, "jetpack-backup: 45 license-days", 45, D("1200"), D("1742.00")),
    ("J-300", "license_days", 2, "@SUM(A1): 30 license-days", 30, D("500"), D("484.00")),
    ("A-700", "base", 1, "\tUsers: 3 x 0.895", 3, D("0.895"), D("2.69")),
    ("A-800", "base", 1, "Contracted devices: 1000", 1000, D("12.345678"), D("12345.68")),
    ("A-800", "overage", 1, "+1-2 devices over contract", 500, D("12.345678"), D("6172.84")),
    ("J-900", "base", 1, "Contracted users: 5", 5, D("1234.5"), D("6173.00")),
    ("J-900", "overage", 1, "Users over contract: 8 - 5", 3, D("1234.5"), D("3704.00")),
    (
        "P-500",
        "prepaid_shortfall",
        1,
        "Charge USD 19.35, balance applied USD 15.25",
        1,
        D("4.10"),
        D("4.10"),
    ),
]

# account_id, metric, carried, hwm, observed_at, contracted, overage, currency, price, amount
HWM = [
    (
        "A-100",
        "users",
        15,
        17,
        dt.datetime(2026, 10, 14, 9, 30),
        14,
        3,
        "USD",
        D("8.50"),
        D("25.50"),
    ),
    ("A-200", "users", 12, 12, dt.datetime(2026, 10, 1), 0, 0, "EUR", D("4.95"), D("0.00")),
    ("A-700", "users", 0, 3, dt.datetime(2026, 10, 2, 8), 0, 0, "AUD", D("0.895"), D("0.00")),
    (
        "A-800",
        "devices",
        1200,
        1500,
        dt.datetime(2026, 10, 31, 23, 59, 59),
        1000,
        500,
        "USD",
        D("12.345678"),
        D("6172.84"),
    ),
    ("J-900", "users", 6, 8, dt.datetime(2026, 10, 20, 12), 5, 3, "JPY", D("1234.5"), D("3704.00")),
    ("P-400", "devices", 10, 10, dt.datetime(2026, 10, 1), 0, 0, "GBP", D("3.00"), D("0.00")),
    ("P-500", "devices", 9, 9, dt.datetime(2026, 10, 1), 0, 0, "USD", D("2.15"), D("0.00")),
]

LICENSE_DAYS = [
    ("J-300", "L-1", "jetpack-backup", 31),
    ("J-300", "L-2", "jetpack-backup", 14),
    ("J-300", "=1+1", "@SUM(A1)", 30),
]

# account, opening, credits, charge, drawdown, shortfall, closing, runway, cur, devices, price
PREPAID = [
    (
        "P-400",
        D("50.00"),
        D("20.00"),
        D("30.00"),
        D("30.00"),
        D("0.00"),
        D("40.00"),
        1,
        "GBP",
        10,
        D("3.00"),
    ),
    (
        "P-500",
        D("10.00"),
        D("5.25"),
        D("19.35"),
        D("15.25"),
        D("4.10"),
        D("0.00"),
        0,
        "USD",
        9,
        D("2.15"),
    ),
    (
        "P-600",
        D("100.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
        D("100.00"),
        None,
        "CAD",
        0,
        D("4.00"),
    ),
]


def _inv(account: str, kind: str) -> str:
    return f"{PERIOD}-{account}-{TYPE_CODE[kind]}"


# invoice, status, computed, billed, diff, paid, outstanding, days, bucket, account, currency
RECONCILIATION = [
    (
        _inv("A-100", "base"),
        "matched",
        D("119.00"),
        D("119.00"),
        D("0.00"),
        D("119.00"),
        D("0.00"),
        0,
        "current",
        "A-100",
        "USD",
    ),
    (
        _inv("A-100", "overage"),
        "amount_mismatch",
        D("25.50"),
        D("20.00"),
        D("5.50"),
        D("0.00"),
        D("20.00"),
        15,
        "1-30",
        "A-100",
        "USD",
    ),
    (
        _inv("A-200", "base"),
        "currency_mismatch",
        D("59.40"),
        D("59.40"),
        None,
        None,
        D("59.40"),
        45,
        "31-60",
        "A-200",
        "EUR",
    ),
    (
        _inv("J-300", "license_days"),
        "missing_in_billing_system",
        D("2226.00"),
        None,
        None,
        D("0.00"),
        D("2226.00"),
        74,
        "61-90",
        "J-300",
        "JPY",
    ),
    (
        f"{PERIOD}-Z-999-BASE",
        "unexpected_in_billing_system",
        None,
        D("300.00"),
        None,
        D("50.00"),
        D("250.00"),
        120,
        "90+",
        "Z-999",
        "USD",
    ),
    ("=1+1", "unapplied_payment", None, None, None, D("75.00"), None, None, None, None, None),
    (
        _inv("A-800", "base"),
        "matched",
        D("12345.68"),
        D("12345.68"),
        D("0.00"),
        D("0.00"),
        D("12345.68"),
        74,
        "61-90",
        "A-800",
        "USD",
    ),
    (  # held by closebook, yet billed and paid: matched, and on the exceptions sheet
        _inv("A-800", "overage"),
        "matched",
        D("6172.84"),
        D("6172.84"),
        D("0.00"),
        D("6172.84"),
        D("0.00"),
        0,
        "current",
        "A-800",
        "USD",
    ),
    (
        _inv("P-500", "prepaid_shortfall"),
        "matched",
        D("4.10"),
        D("4.10"),
        D("0.00"),
        D("0.00"),
        D("4.10"),
        0,
        "current",
        "P-500",
        "USD",
    ),
]

# Receivables as of 2026-11-20 (contract 3.1), every period up to 2026-10:
# invoice, account, invoice period, currency, billed, paid, due date, days overdue, bucket
# (outstanding = billed - paid; days = as-of - due date)
AR_AGING = [
    ("2026-10-A-100-OVERAGE", "A-100", "2026-10", "USD", D("20.00"), D("0.00"), DUE, 0, "current"),
    ("2026-10-A-800-BASE", "A-800", "2026-10", "USD", D("12345.68"), D("0"), DUE, 0, "current"),
    ("2026-10-P-500-PREPAID", "P-500", "2026-10", "USD", D("4.10"), D("0.00"), DUE, 0, "current"),
    ("2026-10-Z-999-BASE", "Z-999", "2026-10", "USD", D("300.00"), D("50.00"), DUE, 0, "current"),
    # due 2026-11-02: 18 days before 2026-11-20
    (
        "2026-09-A-100-OVERAGE",
        "A-100",
        "2026-09",
        "USD",
        D("599.99"),
        D("100.00"),
        dt.date(2026, 11, 2),
        18,
        "1-30",
    ),
    (
        "2026-09-J-900-OVERAGE",
        "J-900",
        "2026-09",
        "JPY",
        D("3704"),
        D("0"),
        dt.date(2026, 11, 2),
        18,
        "1-30",
    ),
    # due 2026-10-03: 28 + 20 = 48 days
    (
        "2026-08-J-900-BASE",
        "J-900",
        "2026-08",
        "JPY",
        D("6173"),
        D("0"),
        dt.date(2026, 10, 3),
        48,
        "31-60",
    ),
    (
        "2026-08-A-700-BASE",
        "A-700",
        "2026-08",
        "AUD",
        D("2.69"),
        D("5.00"),
        dt.date(2026, 10, 3),
        0,
        "credit",
    ),  # overpaid: -2.31, a credit
    # due 2026-09-02: 28 + 31 + 20 = 79 days
    (
        "2026-07-A-800-OVERAGE",
        "A-800",
        "2026-07",
        "USD",
        D("100.00"),
        D("0.00"),
        dt.date(2026, 9, 2),
        79,
        "61-90",
    ),
    # due 2026-08-02: 29 + 30 + 31 + 20 = 110 days
    (
        "2026-06-A-100-BASE",
        "A-100",
        "2026-06",
        "USD",
        D("50.00"),
        D("0.00"),
        dt.date(2026, 8, 2),
        110,
        "90+",
    ),
]
# By currency and bucket, by hand:
# USD current 20.00 + 12345.68 + 4.10 + 250.00 = 12619.78;
#     1-30 599.99 - 100.00 = 499.99; 61-90 100.00; 90+ 50.00; total 13269.77
# JPY 1-30 3704, 31-60 6173, total 9877; AUD credit 2.69 - 5.00 = -2.31

# account_id, name, model, currency (the accepted accounts rows of the close)
ACCOUNTS = [
    ("A-100", "Acme Corp", "hwm", "USD"),
    ("A-200", INJECTIONS[0], "hwm", "EUR"),
    ("J-300", "Tokyo KK", "license_day", "JPY"),
    ("P-400", "Leeds & Sons <Ltd>", "prepaid", "GBP"),  # no invoice this period
    ("P-500", "-2+3", "prepaid", "USD"),
    ("P-600", "", "prepaid", "CAD"),  # blank name in the input
    ("A-700", INJECTIONS[4], "hwm", "AUD"),
    ("A-800", INJECTIONS[1], "hwm", "USD"),
    ("J-900", "Nagoya GK", "hwm", "JPY"),
]  # Z-999 (billed by the billing system) is not an account of ours

REJECTED = [
    (
        "accounts",
        3,
        "A-200",
        "unit_price is not a decimal: @SUM(A1)",
        'A-200,"=HYPERLINK(""http://x"",""click"")",hwm,users,@SUM(A1)',
    ),
    ("usage_snapshots", 12, "A-800", "quantity is not an integer", "A-800,2026-10-03,devices,-2+3"),
]

FILES = [
    ("accounts", "/exports/accounts.csv", "csv", 812, 10, 9, 0, 1),
    ("usage_snapshots", "/exports/usage_snapshots.csv", "csv", 2048, 40, 38, 1, 1),
    ("license_events", "/exports/license_events.parquet", "parquet", 4096, 12, 12, 0, 0),
]


def _sha(name: str) -> str:
    import hashlib

    return hashlib.sha256(name.encode()).hexdigest()


def build_warehouse(
    con: duckdb.DuckDBPyConnection | None = None, *, skip: tuple[str, ...] = ()
) -> duckdb.DuckDBPyConnection:
    """Create and fill the `main` tables; `skip` leaves those tables out entirely."""
    con = con or duckdb.connect(":memory:")
    for statement in DDL.split(";"):
        name = statement.split("main.")[1].split(" ")[0] if "main." in statement else None
        if name and name not in skip:
            con.execute(statement)

    def insert(table: str, rows: list[tuple]) -> None:
        if table in skip or not rows:
            return
        marks = ",".join("?" * len(rows[0]))
        con.executemany(f"insert into main.{table} values ({marks})", rows)

    insert(
        "invoices",
        [
            (_inv(a, k), PERIOD, a, k, c, t, INV_DATE, DUE, act, st, hold, paused, name, email)
            for a, k, c, t, act, st, hold, paused, name, email in INVOICES
        ]
        + [
            (
                f"{OTHER_PERIOD}-A-100-BASE",
                OTHER_PERIOD,
                "A-100",
                "base",
                "USD",
                D("999.99"),
                dt.date(2026, 10, 3),
                dt.date(2026, 11, 2),
                "autopay",
                "issued",
                None,
                False,
                "Acme Corp",
                None,
            )
        ],
    )
    insert(
        "invoice_lines",
        [(_inv(a, k), n, desc, q, p, amt, PERIOD) for a, k, n, desc, q, p, amt in LINES]
        + [(f"{OTHER_PERIOD}-A-100-BASE", 1, "old", 1, D("999.99"), D("999.99"), OTHER_PERIOD)],
    )
    insert("hwm_usage", [(PERIOD, *row) for row in HWM])
    insert(
        "license_days",
        [(PERIOD, a, lic, prod, days) for a, lic, prod, days in LICENSE_DAYS]
        + [(OTHER_PERIOD, "J-300", "L-1", "jetpack-backup", 30)],
    )
    insert(
        "prepaid_balances",
        [
            (
                PERIOD,
                a,
                o,
                cr,
                ch,
                dd,
                sf,
                cl,
                rw,
                cur,
                dev,
                price,
                dev * 12 * price,
                dev * 24 * price,
                dev * 36 * price,
            )
            for a, o, cr, ch, dd, sf, cl, rw, cur, dev, price in PREPAID
        ],
    )
    insert(
        "reconciliation",
        [(PERIOD, *row[:10], row[10], DUE if row[9] else None) for row in RECONCILIATION],
    )
    insert(
        "ar_aging",
        [
            (PERIOD, inv, acct, inv_period, cur, billed, paid, billed - paid, due, days, bucket)
            for inv, acct, inv_period, cur, billed, paid, due, days, bucket in AR_AGING
        ]
        + [
            (
                OTHER_PERIOD,
                "2026-09-A-100-BASE",
                "A-100",
                "2026-09",
                "USD",
                D("999.99"),
                D("0"),
                D("999.99"),
                dt.date(2026, 11, 2),
                0,
                "current",
            )
        ],
    )
    insert(
        "accounts",
        [(PERIOD, *row) for row in ACCOUNTS] + [(OTHER_PERIOD, "A-100", "Old name", "hwm", "USD")],
    )
    insert(
        "rejected_rows",
        [(PERIOD, *row) for row in REJECTED]
        + [(OTHER_PERIOD, "accounts", 2, "A-100", "old", "old")],
    )
    insert(
        "load_counts",
        [(PERIOD, f, read, acc, dup, rej) for f, _, _, _, read, acc, dup, rej in FILES],
    )
    insert(
        "input_files",
        [(PERIOD, f, path, fmt, size, _sha(f)) for f, path, fmt, size, *_ in FILES],
    )
    return con

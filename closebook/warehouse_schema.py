"""The warehouse tables closebook owns, declared once: columns, types, keys and meanings.

One source for four things that must agree: the DDL publish creates (`create table`
with NOT NULL; each grain's unique key is checked by publish, see `create_table_sql`
for why it is not a PRIMARY KEY), the `COMMENT ON` text an analyst reads in DuckDB
(`duckdb_columns().comment`), the shape a close checks before it touches a warehouse
(`closebook.warehouse_guard`), and `docs/warehouse.md` (written by
`scripts/write_warehouse_doc.py`, tested to be equal). Types are spelled as DuckDB
reports them (`duckdb_columns().data_type`), so a shape is compared as text.

SCHEMA_VERSION counts shapes: 1 is every warehouse written before the shape was
declared (tables created from the marts, no keys, no comments, no version record);
2 adds the keys, comments, `ar_aging`, `accounts`, `billed_invoices`, `payments`,
`invoice_lines.product` / `days_in_month`, the analyst views and `closebook_schema`.
A column or table added later states the version that added it (`since`), which is
what a migration reads.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 2
VERSION_TABLE = "closebook_schema"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str
    not_null: bool = False
    since: int = 1


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    comment: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    since: int = 1

    @property
    def catalog_comment(self) -> str:
        """The table's comment in the warehouse: its meaning, then its key."""
        if not self.key:
            return self.comment
        return f"{self.comment} Key: {', '.join(self.key)} (unique; checked by publish)."

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def columns_at(self, version: int) -> tuple[Column, ...]:
        """The columns the table had at schema `version`."""
        return tuple(c for c in self.columns if c.since <= version)


@dataclass(frozen=True)
class View:
    """An analyst view over the history; its SQL is `sql/views/<name>.sql`."""

    name: str
    grain: str
    comment: str
    columns: tuple[Column, ...]


def _c(name: str, type_: str, comment: str, *, null: bool = False, since: int = 1) -> Column:
    """A column that always has a value (NOT NULL) unless `null=True`."""
    return Column(name, type_, comment, not_null=not null, since=since)


PERIOD = _c("period", "VARCHAR", "The closed period (YYYY-MM) whose close wrote the row.")
MONEY = "DECIMAL(18,2)"
PRICE = "DECIMAL(18,6)"
EXPORT_MONEY = "DECIMAL(18,4)"

TABLES: tuple[Table, ...] = (
    Table(
        "invoices",
        "one row per invoice",
        "Every invoice a close computed, issued or held (contract 2.4, 4, 5). "
        "Zero-total invoices are not issued and not kept, unless a line could not be priced.",
        (
            _c(
                "invoice_number",
                "VARCHAR",
                "period-account_id-TYPE (e.g. 2026-10-A1-BASE), TYPE one of BASE, OVERAGE, "
                "LICENSE, PREPAID.",
            ),
            PERIOD,
            _c("account_id", "VARCHAR", "The account invoiced (accounts.account_id)."),
            _c(
                "invoice_type",
                "VARCHAR",
                "base, overage, license_days or prepaid_shortfall.",
            ),
            _c(
                "currency",
                "VARCHAR",
                "ISO 4217 code of the account (USD, EUR, GBP, CAD, AUD, JPY).",
            ),
            _c(
                "total",
                MONEY,
                "Sum of the invoice's lines, each rounded half-up to the currency's minor unit.",
            ),
            _c("invoice_date", "DATE", "The 3rd of the month after the period."),
            _c("due_date", "DATE", "invoice_date + 30 days."),
            _c(
                "payment_action",
                "VARCHAR",
                "autopay (card payer, total below autopay_limit) or send_invoice.",
            ),
            _c(
                "status",
                "VARCHAR",
                "issued, or held (computed and shown, not issued; see hold_reason).",
            ),
            _c("hold_reason", "VARCHAR", "Why the invoice is held; null when issued.", null=True),
            _c(
                "issuing_paused",
                "BOOLEAN",
                "True for a license_day account with payment_method none: new licenses paused.",
            ),
            _c("account_name", "VARCHAR", "The account's name in the accounts export.", null=True),
            _c("billing_email", "VARCHAR", "The account's billing email, if given.", null=True),
        ),
        key=("invoice_number",),
    ),
    Table(
        "invoice_lines",
        "one row per invoice line",
        "The lines of every kept invoice; each line recomputes from its own row: "
        "amount = round(quantity x unit_price), or round(quantity x unit_price / "
        "days_in_month) where days_in_month is set (license-day lines).",
        (
            _c("invoice_number", "VARCHAR", "The invoice the line belongs to (invoices)."),
            _c("line_no", "INTEGER", "Line number within the invoice, from 1."),
            _c("description", "VARCHAR", "What the line charges, as the customer reads it."),
            _c(
                "quantity",
                "BIGINT",
                "Units charged: contracted or overage users/devices, license-days, "
                "or 1 for a prepaid shortfall.",
            ),
            _c(
                "unit_price",
                PRICE,
                "Price per unit per month; null when the product has no price in the "
                "currency (the invoice is held).",
                null=True,
            ),
            _c(
                "amount",
                MONEY,
                "The line's charge, rounded once half-up to the currency's minor unit; "
                "null when it could not be priced.",
                null=True,
            ),
            PERIOD,
            _c(
                "product",
                "VARCHAR",
                "The licensed product of a license_days line; null on other lines.",
                null=True,
                since=2,
            ),
            _c(
                "days_in_month",
                "INTEGER",
                "Days in the period, the divisor of a license_days line; null on other lines.",
                null=True,
                since=2,
            ),
        ),
        key=("invoice_number", "line_no"),
    ),
    Table(
        "hwm_usage",
        "one row per hwm or prepaid account and period",
        "The high-water mark of every hwm and prepaid account (contract 2.1).",
        (
            PERIOD,
            _c("account_id", "VARCHAR", "The account."),
            _c("metric", "VARCHAR", "What is counted: users or devices."),
            _c(
                "carried_in_quantity",
                "BIGINT",
                "The latest snapshot at or before the period start; null when there is none.",
                null=True,
            ),
            _c(
                "hwm",
                "BIGINT",
                "High-water mark: the largest of the carried-in quantity and every snapshot "
                "inside the period (0 with no snapshot).",
            ),
            _c(
                "hwm_observed_at",
                "TIMESTAMP",
                "First instant (UTC) of the period at which the HWM stood; null with no snapshot.",
                null=True,
            ),
            _c(
                "contracted_quantity",
                "BIGINT",
                "Contracted quantity C of an hwm account; 0 for prepaid accounts.",
            ),
            _c(
                "overage_quantity",
                "BIGINT",
                "HWM - C where positive for an hwm account with C > 0, else 0.",
            ),
            _c("currency", "VARCHAR", "The account's currency."),
            _c("unit_price", PRICE, "The account's price per unit per month."),
            _c(
                "overage_amount",
                MONEY,
                "overage_quantity x unit_price, rounded half-up to the minor unit.",
            ),
        ),
        key=("period", "account_id"),
    ),
    Table(
        "license_days",
        "one row per license with days counted in the period",
        "Every license billed by license-days (contract 2.2): active on [issued, revoked).",
        (
            PERIOD,
            _c("account_id", "VARCHAR", "The account the license was issued to."),
            _c("license_id", "VARCHAR", "The license."),
            _c("product", "VARCHAR", "The licensed product (priced in license_prices)."),
            _c(
                "days",
                "INTEGER",
                "UTC days of the period on which the license was active at any instant.",
            ),
            _c("issued_at", "TIMESTAMP", "When the license was issued (UTC)."),
            _c(
                "revoked_at",
                "TIMESTAMP",
                "When it was revoked (UTC); null = still active.",
                null=True,
            ),
            _c("first_day", "DATE", "First day of the period counted."),
            _c("last_day", "DATE", "Last day of the period counted."),
        ),
        key=("period", "license_id"),
    ),
    Table(
        "prepaid_balances",
        "one row per prepaid account and period",
        "The month's prepaid balance statement (contract 2.3).",
        (
            PERIOD,
            _c("account_id", "VARCHAR", "The prepaid account."),
            _c(
                "opening_balance", MONEY, "Balance at the period start (previous closing; 0 first)."
            ),
            _c(
                "credits",
                MONEY,
                "Net of the period's accepted balance transactions (refunds and negative "
                "adjustments included).",
            ),
            _c("charge", MONEY, "devices x unit_price, rounded to the minor unit."),
            _c("drawdown", MONEY, "min(max(opening + credits, 0), charge)."),
            _c("shortfall", MONEY, "charge - drawdown; invoiced when above 0."),
            _c("closing_balance", MONEY, "opening + credits - drawdown; opens the next period."),
            _c(
                "runway_months",
                "BIGINT",
                "floor(closing_balance / charge); null when the charge is 0.",
                null=True,
            ),
            _c("currency", "VARCHAR", "The account's currency."),
            _c("devices", "BIGINT", "High-water mark of devices in the period."),
            _c("unit_price", PRICE, "Price per device per month."),
            _c("prepay_12_months", MONEY, "devices x 12 x unit_price: cost to prepay 12 months."),
            _c("prepay_24_months", MONEY, "devices x 24 x unit_price."),
            _c("prepay_36_months", MONEY, "devices x 36 x unit_price."),
        ),
        key=("period", "account_id"),
    ),
    Table(
        "reconciliation",
        "one row per computed invoice of the period, per billed invoice of the period "
        "with no computed one, and per unapplied payment paid in the period",
        "Computed invoices against the billing system and payments (contract 3). No key: "
        "invoice rows are unique on invoice_number, payment rows on payment_id, and the "
        "two kinds share the table. Empty for a close without billed_invoices.",
        (
            PERIOD,
            _c(
                "invoice_number",
                "VARCHAR",
                "The invoice (computed or billed), or the number an unapplied payment names.",
            ),
            _c(
                "status",
                "VARCHAR",
                "matched, amount_mismatch, currency_mismatch, missing_in_billing_system, "
                "unexpected_in_billing_system or unapplied_payment.",
            ),
            _c("computed_amount", MONEY, "closebook's invoice total; null if none.", null=True),
            _c(
                "billed_amount",
                MONEY,
                "The billing system's amount, rounded to its currency's minor unit; null if none.",
                null=True,
            ),
            _c(
                "difference",
                MONEY,
                "computed - billed for matched and amount_mismatch; null otherwise.",
                null=True,
            ),
            _c(
                "paid_amount",
                MONEY,
                "Payments dated on or before as_of; null without a payments file.",
                null=True,
            ),
            _c(
                "outstanding",
                MONEY,
                "billed (else computed) amount - paid_amount; null without payments.",
                null=True,
            ),
            _c(
                "days_overdue",
                "INTEGER",
                "as_of - due_date when outstanding > 0 and past due, else 0.",
                null=True,
            ),
            _c(
                "aging_bucket",
                "VARCHAR",
                "current, 1-30, 31-60, 61-90 or 90+ (91 days or more).",
                null=True,
            ),
            _c("account_id", "VARCHAR", "The account; null for an unapplied payment.", null=True),
            _c("currency", "VARCHAR", "The invoice's currency; null for a payment.", null=True),
            _c("due_date", "DATE", "The invoice's due date; null for a payment.", null=True),
            _c("billed_currency", "VARCHAR", "The billing system's currency.", null=True),
            _c("invoice_type", "VARCHAR", "The computed invoice's type.", null=True),
            _c("invoice_status", "VARCHAR", "issued or held (the computed invoice).", null=True),
            _c("payment_id", "VARCHAR", "The unapplied payment; null on invoice rows.", null=True),
            _c("paid_at", "TIMESTAMP", "When the unapplied payment was made (UTC).", null=True),
            _c("as_of", "DATE", "The date payments are counted up to and invoices aged at."),
        ),
    ),
    Table(
        "ar_aging",
        "one row per billed invoice of the period or earlier still open as of the as-of date",
        "Receivables aging (contract 3.1): every billed invoice of the closed period or "
        "earlier whose outstanding is not zero. Empty unless billed_invoices and payments "
        "were both given.",
        (
            PERIOD,
            _c("invoice_number", "VARCHAR", "The billed invoice (billed_invoices)."),
            _c("account_id", "VARCHAR", "The account billed."),
            _c("invoice_period", "VARCHAR", "The invoice's own period (YYYY-MM)."),
            _c("currency", "VARCHAR", "The billed currency."),
            _c("billed_amount", MONEY, "Billed amount, rounded half-up to the minor unit."),
            _c(
                "paid_amount",
                MONEY,
                "Its payments dated on or before as_of, summed, rounded to the minor unit.",
            ),
            _c("outstanding", MONEY, "billed_amount - paid_amount; never 0, below 0 = overpaid."),
            _c("due_date", "DATE", "Due date of its own period: the 3rd of the next month + 30."),
            _c(
                "days_overdue",
                "INTEGER",
                "as_of - due_date when outstanding > 0 and past due, else 0.",
            ),
            _c(
                "aging_bucket",
                "VARCHAR",
                "current, 1-30, 31-60, 61-90, 90+ (91 days or more), or credit (overpaid).",
            ),
            _c("as_of", "DATE", "The date it was aged at (--as-of)."),
            _c(
                "last_paid_at",
                "TIMESTAMP",
                "The latest payment counted (UTC); null when none.",
                null=True,
            ),
        ),
        key=("period", "invoice_number"),
        since=2,
    ),
    Table(
        "rejected_rows",
        "one row per rejected input row, per close",
        "Every rejected row of the input folder, each close recording its own (contract 4).",
        (
            PERIOD,
            _c("file", "VARCHAR", "The export file, e.g. usage_snapshots.csv."),
            _c(
                "line_number",
                "BIGINT",
                "Line in the file as a spreadsheet shows it (header = 1); Parquet row 1 = 1.",
            ),
            _c("account_id", "VARCHAR", "The account the row names, if any.", null=True),
            _c("reason", "VARCHAR", "The first rule the row breaks."),
            _c("raw", "VARCHAR", "The row as it was in the file (CSV text)."),
        ),
        key=("period", "file", "line_number"),
    ),
    Table(
        "load_counts",
        "one row per input file, per close",
        "Nothing lost (contract 4): rows_read = accepted + duplicates + rejected.",
        (
            PERIOD,
            _c("file", "VARCHAR", "The export file."),
            _c("rows_read", "BIGINT", "Data rows read."),
            _c("accepted", "BIGINT", "Rows accepted."),
            _c("duplicates", "BIGINT", "Exact duplicates of an accepted row, counted not billed."),
            _c("rejected", "BIGINT", "Rows rejected (see rejected_rows)."),
        ),
        key=("period", "file"),
    ),
    Table(
        "accounts",
        "one row per accepted account, per close",
        "The accepted accounts rows as the close saw them (contract 1, 5), defaults applied "
        "(blank contracted_quantity = 0, currency = USD, autopay_limit = 4000).",
        (
            PERIOD,
            _c("account_id", "VARCHAR", "The account."),
            _c("account_name", "VARCHAR", "The account's name.", null=True),
            _c("billing_model", "VARCHAR", "hwm, license_day or prepaid."),
            _c(
                "metric",
                "VARCHAR",
                "users or devices (hwm, prepaid); null for license_day.",
                null=True,
            ),
            _c(
                "unit_price",
                PRICE,
                "Price per unit per month (hwm, prepaid); null for license_day.",
                null=True,
            ),
            _c("contracted_quantity", "BIGINT", "Contracted quantity C (hwm); 0 when blank."),
            _c("currency", "VARCHAR", "ISO 4217 code; USD when blank."),
            _c("payment_method", "VARCHAR", "card, invoice or none."),
            _c("autopay_limit", PRICE, "Card invoices below it are autopaid; 4000 when blank."),
            _c("billing_email", "VARCHAR", "Where invoices are sent, if given.", null=True),
            _c("line_number", "BIGINT", "The row's line in the export (header = 1)."),
        ),
        key=("period", "account_id"),
        since=2,
    ),
    Table(
        "billed_invoices",
        "one row per accepted billed invoice of any period, per close",
        "The billing system's invoices as the close saw them (contract 1, 3, 5); "
        "empty for a close without the file.",
        (
            PERIOD,
            _c("invoice_number", "VARCHAR", "The billing system's invoice number."),
            _c("account_id", "VARCHAR", "The account billed."),
            _c("invoice_period", "VARCHAR", "The period the invoice bills (the export's period)."),
            _c("currency", "VARCHAR", "The billed currency."),
            _c("amount", EXPORT_MONEY, "The billed amount as exported (up to 4 decimals)."),
            _c("line_number", "BIGINT", "The row's line in the export (header = 1)."),
        ),
        key=("period", "invoice_number"),
        since=2,
    ),
    Table(
        "payments",
        "one row per accepted payment, per close",
        "The payments as the close saw them (contract 1, 3, 5), every date (also after "
        "as_of); empty for a close without the file.",
        (
            PERIOD,
            _c("payment_id", "VARCHAR", "The payment."),
            _c("invoice_number", "VARCHAR", "The invoice it pays."),
            _c("amount", EXPORT_MONEY, "The amount paid as exported (up to 4 decimals)."),
            _c("paid_at", "TIMESTAMP", "When it was paid (UTC)."),
            _c("line_number", "BIGINT", "The row's line in the export (header = 1)."),
        ),
        key=("period", "payment_id"),
        since=2,
    ),
    Table(
        "input_files",
        "one row per export file read, per close",
        "Which inputs each close was computed from.",
        (
            PERIOD,
            _c("file", "VARCHAR", "File name, e.g. accounts.csv."),
            _c("path", "VARCHAR", "Where it was read from."),
            _c("format", "VARCHAR", "csv or parquet."),
            _c("bytes", "BIGINT", "Size in bytes."),
            _c("sha256", "VARCHAR", "SHA-256 of the file's bytes."),
            _c("source_table", "VARCHAR", "The contract table it holds, e.g. accounts."),
        ),
        key=("period", "file"),
    ),
    Table(
        "validation_results",
        "one row per expectation run by a close",
        "What each check of the close found and did. No key: a check may run several "
        "expectations on one column.",
        (
            PERIOD,
            _c("suite", "VARCHAR", "input, output or external."),
            _c("check_name", "VARCHAR", "The check, e.g. invoice_totals."),
            _c(
                "expectation",
                "VARCHAR",
                "The great-expectations expectation (snake case).",
                null=True,
            ),
            _c("table_name", "VARCHAR", "The table checked.", null=True),
            _c("column_name", "VARCHAR", "The column checked.", null=True),
            _c("description", "VARCHAR", "What the check checks, in plain words.", null=True),
            _c("status", "VARCHAR", "passed, failed or skipped."),
            _c("success", "BOOLEAN", "The result; null when skipped.", null=True),
            _c("element_count", "BIGINT", "Rows checked.", null=True),
            _c("unexpected_count", "BIGINT", "Rows failing.", null=True),
            _c("examples", "VARCHAR", "A few failing rows.", null=True),
            _c("details", "VARCHAR", "More on the result.", null=True),
            _c("attributed_invoices", "VARCHAR", "Invoices it held, comma-separated.", null=True),
            _c("action", "VARCHAR", "none, held, run_failed or skipped.", null=True),
        ),
    ),
    Table(
        "close_runs",
        "one row per finished close run",
        "Run metadata, the one place wall-clock time is kept. No key: a period may be "
        "closed again within the same second.",
        (
            PERIOD,
            _c("started_at", "TIMESTAMP", "When the run started (UTC)."),
            _c("finished_at", "TIMESTAMP", "When it finished (UTC)."),
            _c("input_dir", "VARCHAR", "The export folder."),
            _c("as_of", "DATE", "The --as-of date."),
            _c("exit_code", "INTEGER", "0 all issued; 3 held invoices or rejected rows."),
            _c("summary", "VARCHAR", "The summary printed at the end of the run.", null=True),
        ),
    ),
    Table(
        VERSION_TABLE,
        "one row per schema version applied to this warehouse",
        "The warehouse's shape version; a later closebook migrates from it.",
        (
            _c("version", "INTEGER", "Schema version (closebook.warehouse_schema)."),
            _c("applied_at", "TIMESTAMP", "When this warehouse was created at or migrated to it."),
        ),
        key=("version",),
        since=2,
    ),
)

VIEWS: tuple[View, ...] = (
    View(
        "monthly_revenue",
        "one row per period, currency and invoice type",
        "Issued invoices per closed period, currency and invoice type (held ones are not "
        "revenue until issued). Currencies are never added together.",
        (
            _c("period", "VARCHAR", "The closed period."),
            _c("currency", "VARCHAR", "The invoices' currency."),
            _c("invoice_type", "VARCHAR", "base, overage, license_days or prepaid_shortfall."),
            _c("invoices", "BIGINT", "Issued invoices."),
            _c("total", "DECIMAL(38,2)", "Sum of their totals."),
        ),
    ),
    View(
        "overage_trend",
        "one row per hwm account with a contract and closed period",
        "Overage per account over the closed periods, with the change against the account's "
        "previous closed period (accounts with contracted_quantity > 0 only).",
        (
            _c("account_id", "VARCHAR", "The account."),
            _c("period", "VARCHAR", "The closed period."),
            _c("currency", "VARCHAR", "The account's currency in the period."),
            _c("contracted", "BIGINT", "Contracted quantity C."),
            _c("hwm", "BIGINT", "High-water mark."),
            _c("overage_quantity", "BIGINT", "HWM - C where positive."),
            _c("overage_amount", MONEY, "overage_quantity x unit_price, rounded."),
            _c(
                "previous_period",
                "VARCHAR",
                "The account's latest earlier closed period; null for its first.",
                null=True,
            ),
            _c(
                "overage_quantity_change",
                "BIGINT",
                "overage_quantity - that of previous_period; null for the first.",
                null=True,
            ),
            _c(
                "overage_amount_change",
                MONEY,
                "overage_amount - that of previous_period, same currency only; else null.",
                null=True,
            ),
        ),
    ),
    View(
        "dso",
        "one row per closed period and currency with billed invoices of the period",
        "Days sales outstanding per period and currency: receivables / billed in the "
        "period x days in the period, rounded half-up to 0.1 day.",
        (
            _c("period", "VARCHAR", "The closed period."),
            _c("currency", "VARCHAR", "The currency."),
            _c("as_of", "DATE", "The date receivables were aged at (that close's --as-of)."),
            _c(
                "receivables",
                "DECIMAL(38,2)",
                "Sum of positive outstanding in ar_aging of that close (credits excluded).",
            ),
            _c(
                "billed",
                "DECIMAL(38,2)",
                "Billed amount of the period's own invoices, each rounded to the minor unit.",
            ),
            _c("days_in_period", "BIGINT", "Calendar days of the period."),
            _c("dso", "DECIMAL(18,1)", "receivables / billed x days_in_period, to 0.1 day."),
        ),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}


def create_table_sql(table: Table, name: str | None = None) -> str:
    """`create table` for the declared shape (under `name` when given).

    The key is not a PRIMARY KEY: DuckDB backs one with an ART index, and replacing a
    period (delete its rows, insert the same keys again, in one transaction) then costs
    about 30 s at commit for 200,000 rows (measured on DuckDB 2.0, against 0.03 s
    without the index), so re-running a 100k-account close would take minutes. Publish
    checks each key on the rows it writes instead (`warehouse_guard.check_keys`)."""
    parts = [f'"{c.name}" {c.type}' + (" not null" if c.not_null else "") for c in table.columns]
    body = ",\n    ".join(parts)
    return f"create table main.{name or table.name} (\n    {body}\n)"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_statements(obj: Table | View) -> list[str]:
    """`COMMENT ON` the table or view and each of its columns."""
    kind = "view" if isinstance(obj, View) else "table"
    comment = obj.catalog_comment if isinstance(obj, Table) else obj.comment
    statements = [f"comment on {kind} main.{obj.name} is {_quote(comment)}"]
    statements += [
        f'comment on column main.{obj.name}."{c.name}" is {_quote(c.comment)}' for c in obj.columns
    ]
    return statements

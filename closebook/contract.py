"""The input side of billing-rules §1 and §4 as data: which files, which columns, which keys.

Kept in one place so the loader, the docs test and the error messages agree on
what a valid export folder is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputTable:
    """One contract input table (`<name>.csv` or `<name>.parquet`)."""

    name: str
    required_columns: tuple[str, ...]
    optional_columns: tuple[str, ...] = ()
    required_file: bool = True

    @property
    def columns(self) -> tuple[str, ...]:
        return self.required_columns + self.optional_columns


INPUT_TABLES: tuple[InputTable, ...] = (
    InputTable(
        "accounts",
        (
            "account_id",
            "account_name",
            "billing_model",
            "metric",
            "unit_price",
            "contracted_quantity",
            "currency",
            "payment_method",
            "autopay_limit",
        ),
        ("billing_email",),
    ),
    InputTable("license_prices", ("product", "currency", "unit_price")),
    InputTable("usage_snapshots", ("account_id", "observed_at", "metric", "quantity")),
    InputTable(
        "license_events",
        ("event_id", "license_id", "account_id", "product", "event", "occurred_at"),
        ("site",),
    ),
    InputTable(
        "balance_transactions",
        ("txn_id", "account_id", "occurred_at", "kind", "amount", "device_months"),
        ("code",),
    ),
    InputTable(
        "billed_invoices",
        ("invoice_number", "account_id", "period", "currency", "amount"),
        required_file=False,
    ),
    InputTable(
        "payments",
        ("payment_id", "invoice_number", "amount", "paid_at"),
        required_file=False,
    ),
)

TABLES_BY_NAME: dict[str, InputTable] = {t.name: t for t in INPUT_TABLES}

# Excel's hard limit on rows per worksheet; shared by the workbook writer.
EXCEL_MAX_ROWS = 1_048_576

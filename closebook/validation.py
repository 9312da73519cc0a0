"""Validate a built close with great-expectations before anything is published.

Why this exists: the SQL models implement the contract, and these checks state the
contract's invariants a second, independent way (keys unique, enums in range, every
invoice total = the sum of its rounded lines, HWM >= every snapshot, balances conserved,
exactly the invoices each account should have). A failure is never only logged:

- when it can be pinned on invoices (by invoice_number or account_id), those invoices are
  marked `held` in `build.invoices` with the reason `validation: <check> (...)`, so they are
  computed and shown but not issued;
- when it cannot (an unknown account, a duplicate payment, an invariant broken for an
  account that has no invoice to hold), `ValidationResult.run_failed` is True and the
  pipeline must not publish.

How: each check is a SQL query over the build tables that returns a frame (one row per
thing checked, with per-row differences or flags for cross-row rules computed in SQL),
streamed from DuckDB in chunks of at most `CHUNK_ROWS` rows and validated by a GX
suite of 1.x expectations on an ephemeral context with a pandas datasource. Memory stays
flat at ten million snapshots; uniqueness is decided in SQL (group by ... having
count(*) > 1), so it is exact across chunks. Every check's outcome is kept in
`build.validation_results` and rendered as `validation.html` for finance.
"""

from __future__ import annotations

import html
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

CHUNK_ROWS = 500_000
EXAMPLES = 5
RESULTS_TABLE = "validation_results"
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "JPY")

RESULTS_COLUMNS = (
    ("period", "varchar"),
    ("suite", "varchar"),
    ("check_name", "varchar"),
    ("expectation", "varchar"),
    ("table_name", "varchar"),
    ("column_name", "varchar"),
    ("description", "varchar"),
    ("status", "varchar"),
    ("success", "boolean"),
    ("element_count", "bigint"),
    ("unexpected_count", "bigint"),
    ("examples", "varchar"),
    ("details", "varchar"),
    ("attributed_invoices", "varchar"),
    ("action", "varchar"),
)


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one expectation (or one external check) of one close.

    status: `passed`, `failed` or `skipped` (its table does not exist in this build).
    action: what the failure did: `none`, `held` (attributed_invoices were held) or
    `run_failed` (nothing to hold: the close must not publish).
    """

    suite: str
    check: str
    expectation: str
    table: str
    column: str | None
    description: str
    status: str
    element_count: int = 0
    unexpected_count: int = 0
    examples: tuple[str, ...] = ()
    details: str = ""
    attributed_invoices: tuple[str, ...] = ()
    action: str = "none"

    @property
    def success(self) -> bool | None:
        return None if self.status == "skipped" else self.status == "passed"


@dataclass(frozen=True)
class ValidationResult:
    """Every check of a close, the failures, the invoices they held, and whether to stop."""

    period: str
    checks: list[CheckResult]
    failed: list[CheckResult]
    held_invoices: list[str]
    run_failed: bool
    report_path: Path | None

    @property
    def skipped(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status == "skipped"]

    def one_line(self) -> str:
        """A one-line summary, e.g. for the CLI's error when the run failed."""
        stopping = [c for c in self.failed if c.action == "run_failed"]
        if stopping:
            names = ", ".join(sorted({f"{c.suite}.{c.check}" for c in stopping}))
            return (
                f"validation failed for {self.period}: {len(stopping)} check(s) cannot be "
                f"pinned on an invoice ({names}); nothing was published"
            )
        if self.failed:
            return (
                f"validation of {self.period}: {len(self.failed)} check(s) failed; "
                f"{len(self.held_invoices)} invoice(s) held"
            )
        return f"validation of {self.period}: {len(self.checks) - len(self.skipped)} checks passed"


# --------------------------------------------------------------------------- the suites


@dataclass(frozen=True)
class Expect:
    """One GX expectation: its class in `great_expectations.expectations`, and plain words."""

    kind: str
    column: str | None
    says: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    """A frame (SQL over build tables, period from close_params) and what must hold on it.

    attribute_by names the frame column that pins a failing row on invoices:
    `invoice_number`, `account_id` (all the account's invoices of the period), or None.
    requires: tables (`name` or `name.column`) without which the check is skipped.
    """

    suite: str
    name: str
    table: str
    sql: str
    expectations: tuple[Expect, ...]
    attribute_by: str | None
    requires: tuple[str, ...] = ()


def _between(column: str, says: str, low: int | None = None, high: int | None = None) -> Expect:
    kwargs: dict[str, Any] = {}
    if low is not None:
        kwargs["min_value"] = low
    if high is not None:
        kwargs["max_value"] = high
    return Expect("ExpectColumnValuesToBeBetween", column, says, kwargs)


def _zero(column: str, says: str) -> Expect:
    return _between(column, says, 0, 0)


def _true(column: str, says: str) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", column, says, {"value_set": [True]})


def _in_set(column: str, values: Sequence[str], says: str) -> Expect:
    return Expect("ExpectColumnValuesToBeInSet", column, says, {"value_set": list(values)})


def _not_null(column: str, says: str) -> Expect:
    return Expect("ExpectColumnValuesToNotBeNull", column, says)


def _unique_key(table: str, key: Sequence[str], attribute: str | None) -> Check:
    """Keys that appear more than once (SQL decides, so it is exact across chunks)."""
    key_list = ", ".join(key)
    extra = ""
    if attribute and attribute not in key:
        extra = f", min({attribute}) as {attribute}"
    return Check(
        "input",
        f"{table}_key_unique",
        table,
        f"select {key_list}{extra}, count(*) as copies from {table} "
        f"group by {key_list} having count(*) > 1",
        (_between("copies", f"each {' + '.join(key)} appears once among accepted rows", 1, 1),),
        attribute,
    )


# Money columns are compared in hundredths (bigint): exact for every currency we bill in
# (amounts are decimal(18, 2)), and much cheaper in pandas than Decimal objects.
INPUT_CHECKS: tuple[Check, ...] = (
    _unique_key("int_accounts", ["account_id"], "account_id"),
    _unique_key("int_license_events", ["event_id"], "account_id"),
    _unique_key("int_balance_transactions", ["txn_id"], "account_id"),
    _unique_key("int_payments", ["payment_id"], None),
    _unique_key("int_usage_snapshots", ["account_id", "metric", "observed_at"], "account_id"),
    _unique_key("int_license_prices", ["product", "currency"], None),
    _unique_key("int_billed_invoices", ["invoice_number"], "invoice_number"),
    Check(
        "input",
        "accounts_values",
        "int_accounts",
        """
        select
            account_id, billing_model, payment_method, currency,
            case
                when billing_model = 'hwm' then metric in ('users', 'devices')
                when billing_model = 'prepaid' then metric = 'devices'
                else true
            end is true as metric_ok,
            case
                when billing_model in ('hwm', 'prepaid') then unit_price >= 0
                else true
            end is true as unit_price_ok,
            contracted_quantity,
            autopay_limit is not null and autopay_limit >= 0 as autopay_limit_ok
        from int_accounts
        """,
        (
            _in_set("billing_model", ("hwm", "license_day", "prepaid"), "billing model known"),
            _in_set("payment_method", ("card", "invoice", "none"), "payment method known"),
            _in_set("currency", CURRENCIES, "currency is one we bill in"),
            _not_null("currency", "currency given (blank means USD)"),
            _true("metric_ok", "metric users/devices for hwm, devices for prepaid"),
            _true("unit_price_ok", "hwm and prepaid accounts have a unit price >= 0"),
            _between("contracted_quantity", "contracted quantity >= 0", 0),
            _true("autopay_limit_ok", "autopay limit set (blank means 4000) and >= 0"),
        ),
        "account_id",
    ),
    Check(
        "input",
        "usage_snapshots_values",
        "int_usage_snapshots",
        """
        select
            snapshots.account_id,
            snapshots.metric,
            snapshots.quantity,
            snapshots.observed_at is not null as observed_at_parsed,
            exists (
                select 1 from int_accounts where int_accounts.account_id = snapshots.account_id
            ) as known_account
        from int_usage_snapshots as snapshots
        """,
        (
            _in_set("metric", ("users", "devices"), "metric is users or devices"),
            _not_null("quantity", "quantity given"),
            _between("quantity", "quantity >= 0", 0),
            Expect(
                "ExpectColumnValuesToBeInTypeList",
                "quantity",
                "quantity is a whole number",
                {"type_list": ["int64", "Int64", "int32", "Int32"]},
            ),
            _true("observed_at_parsed", "observed_at parsed to a UTC instant"),
            _true("known_account", "the account is an accepted account"),
        ),
        "account_id",
    ),
    Check(
        "input",
        "license_events_values",
        "int_license_events",
        """
        select
            events.account_id,
            events.event_id,
            events.event,
            events.occurred_at is not null as occurred_at_parsed,
            events.license_id is not null and events.product is not null as named,
            exists (
                select 1 from int_accounts where int_accounts.account_id = events.account_id
            ) as known_account
        from int_license_events as events
        """,
        (
            _in_set(
                "event",
                ("issued", "assigned", "unassigned", "transferred", "revoked"),
                "event is one of issued, assigned, unassigned, transferred, revoked",
            ),
            _true("occurred_at_parsed", "occurred_at parsed to a UTC instant"),
            _true("named", "license_id and product given"),
            _true("known_account", "the account is an accepted account"),
        ),
        "account_id",
    ),
    Check(
        "input",
        "balance_transactions_values",
        "int_balance_transactions",
        """
        select
            txns.account_id,
            txns.txn_id,
            txns.kind,
            txns.occurred_at is not null as occurred_at_parsed,
            case
                when txns.kind = 'license_pack' then txns.device_months > 0
                when txns.kind = 'adjustment' then txns.amount is not null
                else txns.amount >= 0
            end is true as amount_ok,
            exists (
                select 1 from int_accounts where int_accounts.account_id = txns.account_id
            ) as known_account
        from int_balance_transactions as txns
        """,
        (
            _in_set(
                "kind",
                ("purchase", "reload", "redeem_code", "license_pack", "refund", "adjustment"),
                "kind is a known transaction kind",
            ),
            _true("occurred_at_parsed", "occurred_at parsed to a UTC instant"),
            _true(
                "amount_ok",
                "license packs have device_months > 0; other kinds an amount, >= 0 "
                "except adjustments",
            ),
            _true("known_account", "the account is an accepted account"),
        ),
        "account_id",
    ),
    Check(
        "input",
        "billed_invoices_values",
        "int_billed_invoices",
        """
        select
            billed.invoice_number,
            billed.currency,
            billed.amount is not null as amount_given,
            exists (
                select 1 from int_accounts where int_accounts.account_id = billed.account_id
            ) as known_account
        from int_billed_invoices as billed
        """,
        (
            _in_set("currency", CURRENCIES, "currency is one we bill in"),
            _true("amount_given", "amount given"),
            _true("known_account", "the account is an accepted account"),
        ),
        "invoice_number",
    ),
    Check(
        "input",
        "payments_values",
        "int_payments",
        """
        select payment_id, paid_at is not null as paid_at_parsed,
            amount is not null and amount >= 0 as amount_ok
        from int_payments
        """,
        (
            _true("paid_at_parsed", "paid_at parsed to a UTC instant"),
            _true("amount_ok", "amount given and >= 0"),
        ),
        None,
    ),
    Check(
        "input",
        "license_prices_values",
        "int_license_prices",
        """
        select product, currency, unit_price is not null and unit_price >= 0 as price_ok
        from int_license_prices
        """,
        (
            _in_set("currency", CURRENCIES, "currency is one we bill in"),
            _true("price_ok", "unit price given and >= 0"),
        ),
        None,
    ),
    Check(
        "input",
        "license_prices_in_use",
        "int_license_prices",
        """
        with params as (select * from close_params),
        issued as (
            select license_id, account_id, product, min(occurred_at) as issued_at
            from int_license_events where event = 'issued'
            group by license_id, account_id, product
        ),
        revoked as (
            select license_id, min(occurred_at) as revoked_at
            from int_license_events where event = 'revoked' group by license_id
        ),
        in_use as (
            select distinct issued.account_id, issued.product, accounts.currency
            from issued
            inner join int_accounts as accounts
                on accounts.account_id = issued.account_id
                and accounts.billing_model = 'license_day'
            left join revoked on revoked.license_id = issued.license_id
            cross join params
            where issued.issued_at < params.period_end
                and (revoked.revoked_at is null or revoked.revoked_at > params.period_start)
        )
        select in_use.account_id, in_use.product, in_use.currency,
            prices.unit_price is not null as has_price
        from in_use
        left join int_license_prices as prices
            on prices.product = in_use.product and prices.currency = in_use.currency
        """,
        (
            _true(
                "has_price",
                "every product a license account uses in the period has a price in its currency",
            ),
        ),
        "account_id",
    ),
    Check(
        "input",
        "checked_rows_fates",
        "int_input_rows",
        """
        select source_table, line_number, account_id, row_status,
            (row_status = 'rejected') = (reject_reason is not null) as reason_iff_rejected
        from int_input_rows
        """,
        (
            _in_set("row_status", ("accepted", "duplicate", "rejected"), "every row has a fate"),
            _true("reason_iff_rejected", "a rejected row has a reason, and only a rejected one"),
        ),
        None,
    ),
)

OUTPUT_CHECKS: tuple[Check, ...] = (
    Check(
        "output",
        "invoice_totals",
        "invoices",
        """
        with lines as (
            select invoice_number, count(*) as line_count, sum(amount) as lines_total,
                count(*) filter (where amount < 0) as negative_lines
            from build.invoice_lines group by invoice_number
        )
        select
            invoices.invoice_number,
            invoices.account_id,
            cast(invoices.total * 100 as bigint) as total_hundredths,
            cast((invoices.total - coalesce(lines.lines_total, 0)) * 100 as bigint)
                as total_minus_lines_hundredths,
            coalesce(lines.line_count, 0) as line_count,
            coalesce(lines.negative_lines, 0) as negative_lines
        from build.invoices as invoices
        left join lines on lines.invoice_number = invoices.invoice_number
        """,
        (
            _zero("total_minus_lines_hundredths", "the total equals the sum of its lines"),
            _between("total_hundredths", "the total is not negative", 0),
            _between("line_count", "the invoice has at least one line", 1),
            _zero("negative_lines", "no line has a negative amount"),
        ),
        "invoice_number",
    ),
    Check(
        "output",
        "invoice_lines_rounded",
        "invoice_lines",
        """
        select
            lines.invoice_number,
            cast((lines.amount - round_money(lines.amount, currencies.minor_unit)) * 100
                as bigint) as rounding_left_hundredths,
            cast(lines.amount * 100 as bigint) as amount_hundredths,
            lines.quantity
        from build.invoice_lines as lines
        left join build.invoices as invoices on invoices.invoice_number = lines.invoice_number
        left join ref_currencies as currencies on currencies.currency = invoices.currency
        """,
        (
            _zero(
                "rounding_left_hundredths",
                "each line is rounded to its currency's minor unit (JPY: whole yen)",
            ),
            _between("amount_hundredths", "no line amount is negative", 0),
            _between("quantity", "no line quantity is negative", 0),
        ),
        "invoice_number",
    ),
    Check(
        "output",
        "hwm_overage",
        "hwm_usage",
        """
        select
            usage.account_id,
            usage.hwm,
            usage.overage_quantity - case
                when accounts.billing_model = 'hwm' and accounts.contracted_quantity > 0
                    then greatest(usage.hwm - accounts.contracted_quantity, 0)
                else 0
            end as overage_minus_expected,
            cast(usage.overage_amount * 100 as bigint) as overage_amount_hundredths
        from build.hwm_usage as usage
        left join int_accounts as accounts on accounts.account_id = usage.account_id
        """,
        (
            _zero("overage_minus_expected", "overage quantity = HWM - contracted where positive"),
            _between("hwm", "the HWM is not negative", 0),
            _between("overage_amount_hundredths", "the overage amount is not negative", 0),
        ),
        "account_id",
    ),
    Check(
        "output",
        "hwm_covers_snapshots",
        "hwm_usage",
        """
        with params as (select * from close_params),
        metered as (
            select snapshots.account_id, snapshots.observed_at, snapshots.quantity
            from int_usage_snapshots as snapshots
            inner join int_accounts as accounts
                on accounts.account_id = snapshots.account_id
                and accounts.metric = snapshots.metric
        ),
        in_period as (
            select metered.account_id, max(metered.quantity) as peak
            from metered cross join params
            where metered.observed_at >= params.period_start
                and metered.observed_at < params.period_end
            group by metered.account_id
        ),
        carried as (
            select metered.account_id, arg_max(metered.quantity, metered.observed_at) as carried
            from metered cross join params
            where metered.observed_at <= params.period_start
            group by metered.account_id
        )
        select
            usage.account_id,
            usage.hwm - coalesce(in_period.peak, 0) as hwm_minus_period_peak,
            usage.hwm - coalesce(carried.carried, 0) as hwm_minus_carried_in,
            usage.hwm - greatest(coalesce(in_period.peak, 0), coalesce(carried.carried, 0))
                as hwm_minus_highest_seen,
            coalesce(usage.carried_in_quantity, -1) - coalesce(carried.carried, -1)
                as carried_in_minus_latest_before_start
        from build.hwm_usage as usage
        left join in_period on in_period.account_id = usage.account_id
        left join carried on carried.account_id = usage.account_id
        """,
        (
            _between("hwm_minus_period_peak", "the HWM is >= every snapshot of the period", 0),
            _between("hwm_minus_carried_in", "the HWM is >= the quantity carried in", 0),
            _zero(
                "hwm_minus_highest_seen",
                "the HWM is the largest of the carried-in quantity and the period's snapshots",
            ),
            _zero(
                "carried_in_minus_latest_before_start",
                "the carried-in quantity is the latest snapshot at or before the start",
            ),
        ),
        "account_id",
    ),
    Check(
        "output",
        "license_days_bounds",
        "license_days",
        """
        select license_days.account_id, license_days.license_id, license_days.days,
            params.days_in_month - license_days.days as days_left_in_month
        from build.license_days as license_days cross join close_params as params
        """,
        (
            _between("days", "license days are not negative", 0),
            _between("days_left_in_month", "license days per license <= days in the month", 0),
        ),
        "account_id",
        requires=("license_days.days", "license_days.license_id"),
    ),
    Check(
        "output",
        "prepaid_conservation",
        "prepaid_balances",
        """
        select
            account_id,
            cast((opening_balance + credits - drawdown - closing_balance) * 100 as bigint)
                as opening_plus_credits_minus_drawdown_minus_closing,
            cast((drawdown - least(greatest(opening_balance + credits, 0), charge)) * 100
                as bigint) as drawdown_minus_rule,
            cast((shortfall - (charge - drawdown)) * 100 as bigint)
                as shortfall_minus_charge_left,
            cast(least(charge, drawdown, shortfall, closing_balance) * 100 as bigint)
                as smallest_amount_hundredths
        from build.prepaid_balances
        """,
        (
            _zero(
                "opening_plus_credits_minus_drawdown_minus_closing",
                "opening + credits - drawdown = closing",
            ),
            _zero("drawdown_minus_rule", "drawdown = min(max(opening + credits, 0), charge)"),
            _zero("shortfall_minus_charge_left", "shortfall = charge - drawdown"),
            _between(
                "smallest_amount_hundredths",
                "charge, drawdown, shortfall and closing balance are not negative",
                0,
            ),
        ),
        "account_id",
        requires=(
            "prepaid_balances.opening_balance",
            "prepaid_balances.credits",
            "prepaid_balances.drawdown",
            "prepaid_balances.closing_balance",
            "prepaid_balances.charge",
            "prepaid_balances.shortfall",
        ),
    ),
    Check(
        "output",
        "prepaid_continuity",
        "int_prepaid_monthly",
        """
        with ordered as (
            select account_id, period, opening_balance, closing_balance,
                lag(closing_balance) over (partition by account_id order by period)
                    as previous_closing,
                row_number() over (partition by account_id order by period) as month_no
            from int_prepaid_monthly
        )
        select account_id, period,
            cast((opening_balance - coalesce(previous_closing, 0)) * 100 as bigint)
                as opening_minus_previous_closing
        from ordered
        """,
        (
            _zero(
                "opening_minus_previous_closing",
                "each month opens at the previous month's closing balance (the first at 0)",
            ),
        ),
        "account_id",
        requires=(
            "int_prepaid_monthly.opening_balance",
            "int_prepaid_monthly.closing_balance",
            "int_prepaid_monthly.period",
        ),
    ),
)

# The invoices each account should have, computed from the marts' quantities (not from
# the invoice lines): hwm C > 0 -> one base, and one overage iff HWM > C; hwm C = 0 -> one
# base iff HWM x price rounds above 0; license_day -> one license_days invoice iff a
# product's days price above 0 or a product has no price (that invoice is held, §2.2);
# prepaid -> one prepaid_shortfall iff shortfall > 0. Zero totals issue nothing (§2.4).
_EXPECTED_HWM = """
    select accounts.account_id, 'base' as invoice_type,
        round_money(
            case when accounts.contracted_quantity > 0 then accounts.contracted_quantity
                else coalesce(usage.hwm, 0) end * accounts.unit_price,
            accounts.minor_unit
        ) as expected_total
    from int_accounts as accounts
    left join build.hwm_usage as usage on usage.account_id = accounts.account_id
    where accounts.billing_model = 'hwm'
    union all
    select accounts.account_id, 'overage',
        round_money((usage.hwm - accounts.contracted_quantity) * accounts.unit_price,
            accounts.minor_unit)
    from int_accounts as accounts
    inner join build.hwm_usage as usage on usage.account_id = accounts.account_id
    where accounts.billing_model = 'hwm' and accounts.contracted_quantity > 0
        and usage.hwm > accounts.contracted_quantity
"""
_EXPECTED_LICENSE = """
    select days.account_id, 'license_days' as invoice_type,
        case when bool_or(prices.unit_price is null) then null
            else sum(div_round_money(days.days * prices.unit_price, params.days_in_month,
                accounts.minor_unit)) end as expected_total
    from (
        select account_id, product, sum(days) as days from build.license_days
        group by account_id, product having sum(days) > 0
    ) as days
    cross join close_params as params
    inner join int_accounts as accounts on accounts.account_id = days.account_id
    left join int_license_prices as prices
        on prices.product = days.product and prices.currency = accounts.currency
    group by days.account_id
"""
_EXPECTED_PREPAID = """
    select account_id, 'prepaid_shortfall' as invoice_type, shortfall as expected_total
    from build.prepaid_balances
"""


def _expected_invoices_check(present: set[str]) -> Check:
    """Exactly the invoices each account should have (only for the models whose tables exist)."""
    parts = [_EXPECTED_HWM]
    types = ["base", "overage"]
    if "license_days" in present:
        parts.append(_EXPECTED_LICENSE)
        types.append("license_days")
    if "prepaid_balances" in present:
        parts.append(_EXPECTED_PREPAID)
        types.append("prepaid_shortfall")
    type_list = ", ".join(f"'{t}'" for t in types)
    sql = f"""
        with expected as (
            select account_id, invoice_type, count(*) as expected_count,
                any_value(expected_total) as expected_total
            from ({" union all ".join(parts)}) as candidates
            where expected_total is null or expected_total <> 0
            group by account_id, invoice_type
        ),
        actual as (
            select account_id, invoice_type, count(*) as actual_count,
                any_value(total) as actual_total
            from build.invoices
            where invoice_type in ({type_list})
            group by account_id, invoice_type
        )
        select
            coalesce(actual.account_id, expected.account_id) as account_id,
            coalesce(actual.invoice_type, expected.invoice_type) as invoice_type,
            coalesce(actual.actual_count, 0) as actual_count,
            coalesce(actual.actual_count, 0) - coalesce(expected.expected_count, 0)
                as actual_minus_expected_count,
            cast(coalesce(actual.actual_total - expected.expected_total, 0) * 100 as bigint)
                as actual_minus_expected_total_hundredths
        from actual
        full outer join expected
            on expected.account_id = actual.account_id
            and expected.invoice_type = actual.invoice_type
    """
    return Check(
        "output",
        "invoices_expected",
        "invoices",
        sql,
        (
            _zero(
                "actual_minus_expected_count",
                "each billable account has exactly the invoices its model calls for",
            ),
            _between("actual_count", "at most one invoice of each type per account", 0, 1),
            _zero(
                "actual_minus_expected_total_hundredths",
                "the invoice total equals the amount its model computes",
            ),
        ),
        "account_id",
    )


# --------------------------------------------------------------------------- running


def validate_close(
    con: duckdb.DuckDBPyConnection, period: str, report_dir: Path | None
) -> ValidationResult:
    """Run every suite over the build tables of `period`, act on failures, keep the results.

    Holds attributable invoices in `build.invoices` (and `build.reconciliation`), writes
    `build.validation_results` and, when report_dir is given, `report_dir/validation.html`.
    """
    con.execute("set search_path = 'build,main'")
    present = _present_tables(con)
    checks = [*INPUT_CHECKS, *OUTPUT_CHECKS, _expected_invoices_check(present)]
    runner = _GxRunner()
    raw: list[tuple[CheckResult, Check | None, set[str]]] = []
    for check in checks:
        missing = [r for r in check.requires if not _has(con, present, r)]
        if missing:
            raw.extend(
                (_skipped(check, expect, missing), None, set()) for expect in check.expectations
            )
            continue
        raw.extend(runner.run(con, check))

    invoice_keys = _invoice_keys(con)
    holds: dict[str, set[str]] = {}
    results: list[CheckResult] = []
    for result, check, keys in raw:
        if result.status != "failed" or check is None:
            results.append(result)
            continue
        invoices, unattributed = _attribute(check.attribute_by, keys, invoice_keys)
        if check.attribute_by is None or not keys or unattributed or not invoices:
            detail = result.details
            if unattributed:
                detail = _join(detail, "no invoice to hold for: " + _some(sorted(unattributed)))
            results.append(
                _replace(
                    result,
                    details=detail,
                    action="run_failed",
                    attributed_invoices=tuple(sorted(invoices)),
                )
            )
        else:
            results.append(
                _replace(result, action="held", attributed_invoices=tuple(sorted(invoices)))
            )
        reason = f"validation: {result.check} ({result.description})"
        for number in invoices:
            holds.setdefault(number, set()).add(reason)

    _hold(con, holds)
    _store(con, period, results)
    failed = [r for r in results if r.status == "failed"]
    report_path = write_report(con, period, report_dir) if report_dir is not None else None
    return ValidationResult(
        period=period,
        checks=results,
        failed=failed,
        held_invoices=sorted(holds),
        run_failed=any(r.action == "run_failed" for r in failed),
        report_path=report_path,
    )


def record_external_check(
    con: duckdb.DuckDBPyConnection,
    period: str,
    name: str,
    passed: bool,
    details: str = "",
    schema: str = "build",
) -> CheckResult:
    """Record a check run outside GX (e.g. the workbooks' per-currency totals) with the rest.

    The workbooks are written after publish, so call it with schema='main' then (the
    published validation_results of the period get the row too); it never holds or fails
    anything by itself: the caller decides.
    """
    result = CheckResult(
        suite="external",
        check=name,
        expectation="external",
        table="",
        column=None,
        description=name.replace("_", " "),
        status="passed" if passed else "failed",
        details=details,
        action="none",
    )
    _ensure_results_table(con, schema)
    _insert(con, schema, period, [result])
    return result


def write_report(
    con: duckdb.DuckDBPyConnection, period: str, report_dir: Path, schema: str = "build"
) -> Path:
    """`report_dir/validation.html`: one row per expectation, in words finance reads."""
    report_dir.mkdir(parents=True, exist_ok=True)
    cursor = con.execute(
        f"select * from {schema}.{RESULTS_TABLE} where period = ? "
        "order by case status when 'failed' then 0 when 'skipped' then 2 else 1 end, "
        "suite, check_name, expectation, column_name",
        [period],
    )
    names = [d[0] for d in cursor.description]
    records = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    counts = {
        s: sum(1 for r in records if r["status"] == s) for s in ("passed", "failed", "skipped")
    }
    stopping = any(r["action"] == "run_failed" for r in records)
    verdict = (
        "FAILED: not published"
        if stopping
        else "invoices held by validation"
        if counts["failed"]
        else "all checks passed"
    )
    body = []
    for r in records:
        body.append(
            "<tr class='{status}'><td>{suite}</td><td>{check}</td><td>{what}</td>"
            "<td>{table}</td><td>{status}</td><td class='n'>{n}</td><td class='n'>{bad}</td>"
            "<td>{action}</td><td>{examples}</td><td>{held}</td></tr>".format(
                status=html.escape(r["status"]),
                suite=html.escape(r["suite"] or ""),
                check=html.escape(r["check_name"] or ""),
                what=html.escape(r["description"] or "")
                + (f"<br><small>{html.escape(r['details'])}</small>" if r["details"] else ""),
                table=html.escape(".".join(x for x in (r["table_name"], r["column_name"]) if x)),
                n=r["element_count"] or 0,
                bad=r["unexpected_count"] or 0,
                action=html.escape(r["action"] or ""),
                examples=html.escape(r["examples"] or ""),
                held=html.escape(
                    _some((r["attributed_invoices"] or "").split(", "), 10)
                    if r["attributed_invoices"]
                    else ""
                ),
            )
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation {html.escape(period)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }}
th {{ background: #f0f0f0; }} td.n {{ text-align: right; }}
tr.failed {{ background: #fde2e2; }} tr.skipped {{ color: #777; }}
</style></head><body>
<h1>Validation of the {html.escape(period)} close: {html.escape(verdict)}</h1>
<p>{counts["passed"]} passed, {counts["failed"]} failed, {counts["skipped"]} skipped
(skipped: the table is not in this build). A failure pinned on invoices holds them (computed, shown,
not issued); a failure that cannot be pinned on an invoice stops the close before publish.
See docs/validation.md.</p>
<table><thead><tr><th>suite</th><th>check</th><th>what it checks</th><th>table.column</th>
<th>result</th><th>rows checked</th><th>rows failing</th><th>action</th><th>examples</th>
<th>invoices held</th></tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""
    path = report_dir / "validation.html"
    path.write_text(page, encoding="utf-8")
    return path


class _GxRunner:
    """One ephemeral GX context (quiet: no progress bars, no analytics) for a whole close."""

    def __init__(self) -> None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        # GX pins some of its module loggers at INFO ("Created temporary directory ...
        # for ephemeral docs site"): quiet every one of them, not just the parent.
        for name in list(logging.root.manager.loggerDict):
            if name.startswith("great_expectations"):
                logging.getLogger(name).setLevel(logging.ERROR)
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = self.context.data_sources.add_pandas("build_frames")

    def run(
        self, con: duckdb.DuckDBPyConnection, check: Check
    ) -> list[tuple[CheckResult, Check, set[str]]]:
        gx = self.gx
        expectations = []
        for index, expect in enumerate(check.expectations):
            kwargs = dict(expect.kwargs)
            if expect.column is not None:
                kwargs["column"] = expect.column
            expectations.append(
                getattr(gx.expectations, expect.kind)(meta={"index": index}, **kwargs)
            )
        suite = self.context.suites.add(
            gx.ExpectationSuite(name=f"{check.suite}.{check.name}", expectations=expectations)
        )
        asset = self.source.add_dataframe_asset(name=check.name)
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(
                name=check.name,
                data=asset.add_batch_definition_whole_dataframe("whole_frame"),
                suite=suite,
            )
        )
        totals = [_Tally() for _ in check.expectations]
        started = time.perf_counter()
        try:
            for frame in _frames(con, check.sql):
                # COMPLETE (every failing row's key) only where the key holds invoices;
                # elsewhere a few examples, named by the frame's first (key) column.
                key = check.attribute_by or str(frame.columns[0])
                result_format: dict[str, Any] = {
                    "result_format": "COMPLETE" if check.attribute_by else "SUMMARY",
                    "partial_unexpected_count": EXAMPLES,
                }
                if key in frame.columns:
                    result_format["unexpected_index_column_names"] = [key]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    outcome = definition.run(
                        batch_parameters={"dataframe": frame}, result_format=result_format
                    )
                for item in outcome.results:
                    totals[int(item.expectation_config.meta["index"])].add(item, check.attribute_by)
        except duckdb.Error as error:
            message = str(error).strip().splitlines()[0]
            return [
                (_errored(check, expect, f"the check's query failed: {message}"), check, set())
                for expect in check.expectations
            ]
        elapsed = time.perf_counter() - started
        return [
            (tally.result(check, expect, elapsed), check, tally.keys)
            for tally, expect in zip(totals, check.expectations, strict=True)
        ]


@dataclass
class _Tally:
    """One expectation's results added up over the chunks of its frame."""

    element_count: int = 0
    unexpected_count: int = 0
    success: bool = True
    examples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)

    def add(self, item: Any, attribute_by: str | None) -> None:
        self.success = self.success and bool(item.success)
        info = item.exception_info or {}
        if info.get("raised_exception"):
            self.success = False
            self.errors.append(str(info.get("exception_message", "exception")).splitlines()[0])
        result = item.result or {}
        self.element_count += int(result.get("element_count") or 0)
        self.unexpected_count += int(result.get("unexpected_count") or 0)
        if "observed_value" in result and not item.success:
            self.examples.append(f"observed {result['observed_value']}")
        indexed = [
            row
            for row in result.get("partial_unexpected_index_list") or []
            if isinstance(row, dict)
        ]
        for row in indexed:
            if len(self.examples) < EXAMPLES:
                self.examples.append(", ".join(f"{k}={v}" for k, v in row.items()))
        if not indexed:
            for value in result.get("partial_unexpected_list") or []:
                if len(self.examples) < EXAMPLES:
                    self.examples.append(str(value))
        if attribute_by:
            for row in result.get("unexpected_index_list") or []:
                if isinstance(row, dict) and row.get(attribute_by) is not None:
                    self.keys.add(str(row[attribute_by]))

    def result(self, check: Check, expect: Expect, elapsed: float) -> CheckResult:
        details = f"{self.element_count} rows in {elapsed:.2f}s"
        if self.errors:
            details = _join(details, "error: " + "; ".join(sorted(set(self.errors))))
        return CheckResult(
            suite=check.suite,
            check=check.name,
            expectation=_snake(expect.kind),
            table=check.table,
            column=expect.column,
            description=expect.says,
            status="passed" if self.success else "failed",
            element_count=self.element_count,
            unexpected_count=self.unexpected_count,
            examples=tuple(self.examples[:EXAMPLES]),
            details=details,
        )


def _frames(con: duckdb.DuckDBPyConnection, sql: str) -> Iterator[pd.DataFrame]:
    """The query's rows as pandas frames of at most CHUNK_ROWS rows (at least one frame).

    A separate cursor streams Arrow record batches, so a ten-million-row table is never
    one frame; a window over an empty result still yields an empty frame with its columns
    so the expectations run (and report 0 rows) instead of silently not running.
    """
    cursor = con.cursor()
    try:
        cursor.execute("set search_path = 'build,main'")
        reader = cursor.sql(sql).to_arrow_reader(CHUNK_ROWS)
        empty = True
        for batch in reader:
            if batch.num_rows == 0:
                continue
            empty = False
            yield batch.to_pandas()
        if empty:
            yield reader.schema.empty_table().to_pandas()
    finally:
        cursor.close()


def _present_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() "
        "where schema_name = 'build' and database_name = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def _has(con: duckdb.DuckDBPyConnection, present: set[str], requirement: str) -> bool:
    table, _, column = requirement.partition(".")
    if table not in present:
        return False
    if not column:
        return True
    row = con.execute(
        "select count(*) from duckdb_columns() where schema_name = 'build' "
        "and database_name = current_database() and table_name = ? and column_name = ?",
        [table, column],
    ).fetchone()
    return bool(row and row[0])


def _invoice_keys(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, list[str]]]:
    """invoice_number -> [itself] and account_id -> its invoices, for attributing failures."""
    by_number: dict[str, list[str]] = {}
    by_account: dict[str, list[str]] = {}
    for number, account_id in con.execute(
        "select invoice_number, account_id from build.invoices"
    ).fetchall():
        by_number[str(number)] = [str(number)]
        by_account.setdefault(str(account_id), []).append(str(number))
    return {"invoice_number": by_number, "account_id": by_account}


def _attribute(
    attribute_by: str | None, keys: set[str], invoice_keys: dict[str, dict[str, list[str]]]
) -> tuple[set[str], set[str]]:
    """(invoices to hold, keys with no invoice to hold)."""
    if attribute_by is None:
        return set(), set()
    lookup = invoice_keys[attribute_by]
    invoices = {number for key in keys for number in lookup.get(key, [])}
    return invoices, {key for key in keys if key not in lookup}


def _hold(con: duckdb.DuckDBPyConnection, holds: dict[str, set[str]]) -> None:
    """Mark invoices held, appending each validation reason once (re-running adds nothing)."""
    if not holds:
        return
    con.execute(
        "create or replace temp table validation_holds (invoice_number varchar, reason varchar)"
    )
    con.executemany(
        "insert into validation_holds values (?, ?)",
        [[number, "; ".join(sorted(reasons))] for number, reasons in sorted(holds.items())],
    )
    con.execute(
        """
        update build.invoices as invoices
        set status = 'held',
            hold_reason = case
                when coalesce(contains(invoices.hold_reason, holds.reason), false)
                    then invoices.hold_reason
                else concat_ws('; ', nullif(invoices.hold_reason, ''), holds.reason)
            end
        from validation_holds as holds
        where holds.invoice_number = invoices.invoice_number
        """
    )
    present = _present_tables(con)
    if "reconciliation" in present and _has(con, present, "reconciliation.invoice_status"):
        con.execute(
            "update build.reconciliation set invoice_status = 'held' "
            "where invoice_status is not null "
            "and invoice_number in (select invoice_number from validation_holds)"
        )
    con.execute("drop table validation_holds")


def _ensure_results_table(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in RESULTS_COLUMNS)
    con.execute(f"create schema if not exists {schema}")
    con.execute(f"create table if not exists {schema}.{RESULTS_TABLE} ({columns})")


def _store(con: duckdb.DuckDBPyConnection, period: str, results: list[CheckResult]) -> None:
    """`build.validation_results`, rebuilt by every validation of the build."""
    con.execute(f"drop table if exists build.{RESULTS_TABLE}")
    _ensure_results_table(con, "build")
    _insert(con, "build", period, results)


def _insert(
    con: duckdb.DuckDBPyConnection, schema: str, period: str, results: list[CheckResult]
) -> None:
    placeholders = ", ".join("?" for _ in RESULTS_COLUMNS)
    con.executemany(
        f"insert into {schema}.{RESULTS_TABLE} values ({placeholders})",
        [
            [
                period,
                r.suite,
                r.check,
                r.expectation,
                r.table,
                r.column,
                r.description,
                r.status,
                r.success,
                r.element_count,
                r.unexpected_count,
                " | ".join(r.examples),
                r.details,
                ", ".join(r.attributed_invoices),
                r.action,
            ]
            for r in results
        ],
    )


def _skipped(check: Check, expect: Expect, missing: list[str]) -> CheckResult:
    return CheckResult(
        suite=check.suite,
        check=check.name,
        expectation=_snake(expect.kind),
        table=check.table,
        column=expect.column,
        description=expect.says,
        status="skipped",
        details="skipped: not in this build: " + ", ".join(missing),
        action="skipped",
    )


def _errored(check: Check, expect: Expect, message: str) -> CheckResult:
    return CheckResult(
        suite=check.suite,
        check=check.name,
        expectation=_snake(expect.kind),
        table=check.table,
        column=expect.column,
        description=expect.says,
        status="failed",
        details=message,
    )


def _replace(result: CheckResult, **changes: Any) -> CheckResult:
    from dataclasses import replace

    return replace(result, **changes)


def _snake(kind: str) -> str:
    out = []
    for char in kind:
        if char.isupper() and out:
            out.append("_")
        out.append(char.lower())
    return "".join(out)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _some(items: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")

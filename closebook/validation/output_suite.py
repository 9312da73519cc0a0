"""The output suite: the computed invoices and the marts behind them (contract §2).

Totals are the sum of rounded lines, HWM covers every snapshot, balances are conserved
month to month, and each account has exactly the invoices its billing model calls for.
"""

from __future__ import annotations

from .checks import Check, between, zero

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
            zero("total_minus_lines_hundredths", "the total equals the sum of its lines"),
            between("total_hundredths", "the total is not negative", 0),
            between("line_count", "the invoice has at least one line", 1),
            zero("negative_lines", "no line has a negative amount"),
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
            zero(
                "rounding_left_hundredths",
                "each line is rounded to its currency's minor unit (JPY: whole yen)",
            ),
            between("amount_hundredths", "no line amount is negative", 0),
            between("quantity", "no line quantity is negative", 0),
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
            zero("overage_minus_expected", "overage quantity = HWM - contracted where positive"),
            between("hwm", "the HWM is not negative", 0),
            between("overage_amount_hundredths", "the overage amount is not negative", 0),
        ),
        "account_id",
    ),
    Check(
        "output",
        "hwm_covers_snapshots",
        "hwm_usage",
        """
        with params as (select * from close_params),
        -- One aggregate over the account's metered snapshots: the period's peak and the
        -- latest quantity at or before the start (a CTE for each read the 10.8M rows
        -- twice: 0.64 s of CPU against 0.31 s at 100k accounts).
        seen as (
            select snapshots.account_id,
                max(snapshots.quantity) filter (
                    where snapshots.observed_at >= params.period_start
                        and snapshots.observed_at < params.period_end
                ) as peak,
                arg_max(snapshots.quantity, snapshots.observed_at) filter (
                    where snapshots.observed_at <= params.period_start
                ) as carried
            from int_usage_snapshots as snapshots
            inner join int_accounts as accounts
                on accounts.account_id = snapshots.account_id
                and accounts.metric = snapshots.metric
            cross join params
            group by snapshots.account_id
        )
        select
            usage.account_id,
            usage.hwm - coalesce(seen.peak, 0) as hwm_minus_period_peak,
            usage.hwm - coalesce(seen.carried, 0) as hwm_minus_carried_in,
            usage.hwm - greatest(coalesce(seen.peak, 0), coalesce(seen.carried, 0))
                as hwm_minus_highest_seen,
            coalesce(usage.carried_in_quantity, -1) - coalesce(seen.carried, -1)
                as carried_in_minus_latest_before_start
        from build.hwm_usage as usage
        left join seen on seen.account_id = usage.account_id
        -- hwm_usage's own order, whichever side of the join DuckDB builds: the examples
        -- are its first failing accounts, as they were with two joins.
        order by usage.rowid
        """,
        (
            between("hwm_minus_period_peak", "the HWM is >= every snapshot of the period", 0),
            between("hwm_minus_carried_in", "the HWM is >= the quantity carried in", 0),
            zero(
                "hwm_minus_highest_seen",
                "the HWM is the largest of the carried-in quantity and the period's snapshots",
            ),
            zero(
                "carried_in_minus_latest_before_start",
                "the carried-in quantity is the latest snapshot at or before the start",
            ),
        ),
        "account_id",
        grain="build.hwm_usage",
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
            between("days", "license days are not negative", 0),
            between("days_left_in_month", "license days per license <= days in the month", 0),
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
            zero(
                "opening_plus_credits_minus_drawdown_minus_closing",
                "opening + credits - drawdown = closing",
            ),
            zero("drawdown_minus_rule", "drawdown = min(max(opening + credits, 0), charge)"),
            zero("shortfall_minus_charge_left", "shortfall = charge - drawdown"),
            between(
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
            zero(
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


def expected_invoices_check(present: set[str]) -> Check:
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
            zero(
                "actual_minus_expected_count",
                "each billable account has exactly the invoices its model calls for",
            ),
            between("actual_count", "at most one invoice of each type per account", 0, 1),
            zero(
                "actual_minus_expected_total_hundredths",
                "the invoice total equals the amount its model computes",
            ),
        ),
        "account_id",
    )

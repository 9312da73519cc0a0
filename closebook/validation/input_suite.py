"""The input suite: the accepted input rows as the billing models read them (contract §1, §4).

Keys unique among accepted rows, values in their ranges, every product in use priced,
every input row with exactly one fate.
"""

from __future__ import annotations

from .checks import CURRENCIES, Check, Expect, between, in_set, not_null, true, unique_key

# Money columns are compared in hundredths (bigint): exact for every currency we bill in
# (amounts are decimal(18, 2)), and much cheaper in pandas than Decimal objects.
# known_account is `coalesce(account_id in (select ...), false)`: true, false where the
# account is unknown or null, exactly as `exists (... where ids are equal)` would say,
# but one hash join (a correlated `exists` materialized its 10.8M snapshot rows first:
# 0.64 s of CPU against 0.23 s for usage_snapshots_values at 100k accounts).
INPUT_CHECKS: tuple[Check, ...] = (
    unique_key("int_accounts", ["account_id"], "account_id"),
    unique_key("int_license_events", ["event_id"], "account_id"),
    unique_key("int_balance_transactions", ["txn_id"], "account_id"),
    unique_key("int_payments", ["payment_id"], None),
    unique_key("int_usage_snapshots", ["account_id", "metric", "observed_at"], "account_id"),
    unique_key("int_license_prices", ["product", "currency"], None),
    unique_key("int_billed_invoices", ["invoice_number"], "invoice_number"),
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
            in_set("billing_model", ("hwm", "license_day", "prepaid"), "billing model known"),
            in_set("payment_method", ("card", "invoice", "none"), "payment method known"),
            in_set("currency", CURRENCIES, "currency is one we bill in"),
            not_null("currency", "currency given (blank means USD)"),
            true("metric_ok", "metric users/devices for hwm, devices for prepaid"),
            true("unit_price_ok", "hwm and prepaid accounts have a unit price >= 0"),
            between("contracted_quantity", "contracted quantity >= 0", 0),
            true("autopay_limit_ok", "autopay limit set (blank means 4000) and >= 0"),
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
            coalesce(snapshots.account_id in (select account_id from int_accounts), false)
                as known_account
        from int_usage_snapshots as snapshots
        """,
        (
            in_set("metric", ("users", "devices"), "metric is users or devices"),
            not_null("quantity", "quantity given"),
            between("quantity", "quantity >= 0", 0),
            Expect(
                "ExpectColumnValuesToBeInTypeList",
                "quantity",
                "quantity is a whole number",
                {"type_list": ["int64", "Int64", "int32", "Int32"]},
            ),
            true("observed_at_parsed", "observed_at parsed to a UTC instant"),
            true("known_account", "the account is an accepted account"),
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
            coalesce(events.account_id in (select account_id from int_accounts), false)
                as known_account
        from int_license_events as events
        """,
        (
            in_set(
                "event",
                ("issued", "assigned", "unassigned", "transferred", "revoked"),
                "event is one of issued, assigned, unassigned, transferred, revoked",
            ),
            true("occurred_at_parsed", "occurred_at parsed to a UTC instant"),
            true("named", "license_id and product given"),
            true("known_account", "the account is an accepted account"),
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
            coalesce(txns.account_id in (select account_id from int_accounts), false)
                as known_account
        from int_balance_transactions as txns
        """,
        (
            in_set(
                "kind",
                ("purchase", "reload", "redeem_code", "license_pack", "refund", "adjustment"),
                "kind is a known transaction kind",
            ),
            true("occurred_at_parsed", "occurred_at parsed to a UTC instant"),
            true(
                "amount_ok",
                "license packs have device_months > 0; other kinds an amount, >= 0 "
                "except adjustments",
            ),
            true("known_account", "the account is an accepted account"),
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
            coalesce(billed.account_id in (select account_id from int_accounts), false)
                as known_account
        from int_billed_invoices as billed
        """,
        (
            in_set("currency", CURRENCIES, "currency is one we bill in"),
            true("amount_given", "amount given"),
            true("known_account", "the account is an accepted account"),
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
            true("paid_at_parsed", "paid_at parsed to a UTC instant"),
            true("amount_ok", "amount given and >= 0"),
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
            in_set("currency", CURRENCIES, "currency is one we bill in"),
            true("price_ok", "unit price given and >= 0"),
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
            true(
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
            in_set("row_status", ("accepted", "duplicate", "rejected"), "every row has a fate"),
            true("reason_iff_rejected", "a rejected row has a reason, and only a rejected one"),
        ),
        None,
    ),
)

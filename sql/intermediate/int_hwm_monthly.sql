-- int_hwm_monthly: one row per hwm or prepaid account and month of int_months.
-- Contract §2.1: the quantity at an instant is the latest snapshot at or before it
-- (the account's metric only); the HWM is the largest of the quantity carried in at
-- the month's start and every snapshot inside the month; no snapshot at or before
-- the month's end gives HWM 0. hwm_observed_at is the first instant of the month at
-- which the HWM stood: the month's start when it was carried in, else the first
-- snapshot that reached it.
with months as (
    select * from int_months
),

accounts as (
    select * from int_accounts
    where billing_model in ('hwm', 'prepaid')
),

snapshots as (
    select * from int_usage_snapshots
),

metered as (
    select
        snapshots.account_id,
        snapshots.observed_at,
        snapshots.quantity,
        date_trunc('month', snapshots.observed_at) as month_start
    from snapshots
    inner join accounts
        on accounts.account_id = snapshots.account_id
        and accounts.metric = snapshots.metric
),

account_months as (
    select accounts.account_id, accounts.metric, months.period, months.month_start
    from accounts
    cross join months
),

carried_in as (
    select
        account_months.account_id,
        account_months.period,
        metered.quantity as carried_in_quantity
    from account_months
    asof left join metered
        on metered.account_id = account_months.account_id
        and metered.observed_at <= account_months.month_start
),

in_month_peak as (
    select account_id, month_start, max(quantity) as peak_quantity
    from metered
    group by account_id, month_start
),

peak_first_reached as (
    select metered.account_id, metered.month_start, min(metered.observed_at) as peak_observed_at
    from metered
    inner join in_month_peak
        on in_month_peak.account_id = metered.account_id
        and in_month_peak.month_start = metered.month_start
        and in_month_peak.peak_quantity = metered.quantity
    group by metered.account_id, metered.month_start
),

final as (
    select
        account_months.period,
        account_months.account_id,
        account_months.metric,
        carried_in.carried_in_quantity,
        in_month_peak.peak_quantity,
        greatest(
            coalesce(carried_in.carried_in_quantity, 0), coalesce(in_month_peak.peak_quantity, 0)
        ) as hwm,
        case
            when carried_in.carried_in_quantity is not null
                and carried_in.carried_in_quantity >= coalesce(in_month_peak.peak_quantity, -1)
                then account_months.month_start
            else peak_first_reached.peak_observed_at
        end as hwm_observed_at
    from account_months
    left join carried_in
        on carried_in.account_id = account_months.account_id
        and carried_in.period = account_months.period
    left join in_month_peak
        on in_month_peak.account_id = account_months.account_id
        and in_month_peak.month_start = account_months.month_start
    left join peak_first_reached
        on peak_first_reached.account_id = account_months.account_id
        and peak_first_reached.month_start = account_months.month_start
)

select * from final

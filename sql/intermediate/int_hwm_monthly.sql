-- int_hwm_monthly: one row per hwm or prepaid account and month of int_months.
-- Contract §2.1: the quantity at an instant is the latest snapshot at or before it
-- (the account's metric only); the HWM is the largest of the quantity carried in at
-- the month's start and every snapshot inside the month; no snapshot at or before
-- the month's end gives HWM 0. hwm_observed_at is the first instant of the month at
-- which the HWM stood: the month's start when it was carried in, else the first
-- snapshot that reached it.
-- One pass over the snapshots (10M rows at 100k accounts) folds each account-month
-- to its peak, when the peak was first reached, its first and its last snapshot; the
-- quantity carried into a month is then found among those few rows: the month's own
-- snapshot at its first instant, else the last snapshot of the latest earlier month
-- with any (an account has one snapshot per instant and metric, so "first" and
-- "last" are exact). Every month with a snapshot is in int_months.
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

account_month_snapshots as (
    select
        account_id,
        month_start,
        max(quantity) as peak_quantity,
        -- the earliest instant among those with the largest quantity
        arg_min(observed_at, (-quantity, observed_at)) as peak_observed_at,
        min(observed_at) as first_observed_at,
        arg_min(quantity, observed_at) as first_quantity,
        arg_max(quantity, observed_at) as last_quantity
    from metered
    group by account_id, month_start
),

account_months as (
    select
        accounts.account_id,
        accounts.metric,
        months.period,
        months.month_start,
        account_month_snapshots.peak_quantity,
        account_month_snapshots.peak_observed_at,
        account_month_snapshots.first_observed_at,
        account_month_snapshots.first_quantity,
        account_month_snapshots.last_quantity
    from accounts
    cross join months
    left join account_month_snapshots
        on account_month_snapshots.account_id = accounts.account_id
        and account_month_snapshots.month_start = months.month_start
),

carried_in as (
    select
        *,
        case
            when first_observed_at = month_start then first_quantity
            else last_value(last_quantity ignore nulls) over (
                partition by account_id
                order by month_start
                rows between unbounded preceding and 1 preceding
            )
        end as carried_in_quantity
    from account_months
),

final as (
    select
        period,
        account_id,
        metric,
        carried_in_quantity,
        peak_quantity,
        greatest(coalesce(carried_in_quantity, 0), coalesce(peak_quantity, 0)) as hwm,
        case
            when carried_in_quantity is not null
                and carried_in_quantity >= coalesce(peak_quantity, -1)
                then month_start
            else peak_observed_at
        end as hwm_observed_at
    from carried_in
)

select * from final

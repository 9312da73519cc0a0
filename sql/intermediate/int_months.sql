-- int_months: one row per calendar month from the first month with any usage or
-- balance data up to the later of the closed period and the last month with data.
-- A period is [first day 00:00, first day of next month 00:00) UTC (contract preamble).
with params as (
    select * from close_params
),

data_instants as (
    select observed_at as instant from int_usage_snapshots
    union all
    -- deduped, not the final accepted rows: the balance replay that decides the
    -- final fate of a transaction itself runs over these months.
    select occurred_at as instant from int_balance_transactions_deduped
    where row_status = 'accepted'
    union all
    select period_start as instant from params
),

bounds as (
    select
        min(date_trunc('month', instant)) as first_month,
        max(date_trunc('month', instant)) as last_month
    from data_instants
),

months as (
    select cast(month_start as timestamp) as month_start
    from bounds, range(bounds.first_month, bounds.last_month + interval 1 month, interval 1 month)
        as series (month_start)
),

final as (
    select
        strftime(month_start, '%Y-%m') as period,
        month_start,
        month_start + interval 1 month as month_end,
        cast(date_diff('day', month_start, month_start + interval 1 month) as integer)
            as days_in_month
    from months
)

select * from final

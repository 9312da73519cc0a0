-- int_account_holds: one row per account whose invoices of the closed period are held
-- because of rejected input rows. Contract §4: a rejected row of the account dated in
-- the period, or undated (accounts and license_prices rows, unparseable timestamps),
-- or — for prepaid accounts, whose balance carries history — dated before it.
with params as (
    select * from close_params
),

rows as (
    select * from int_rejected_input_rows
    where account_id is not null
),

accounts as (
    select * from int_accounts
),

holding_rows as (
    select rows.*
    from rows
    inner join accounts on accounts.account_id = rows.account_id
    cross join params
    where rows.row_date is null
        or (rows.row_date >= params.period_start and rows.row_date < params.period_end)
        or (accounts.billing_model = 'prepaid' and rows.row_date < params.period_start)
),

final as (
    select
        account_id,
        count(*) as rejected_rows,
        -- name the first five rows, so the reason stays readable in a register
        'rejected input rows: '
            || array_to_string(
                list(
                    source_table || ' line ' || line_number || ' (' || reject_reason || ')'
                    order by source_table, line_number
                )[1:5],
                '; '
            )
            || case when count(*) > 5 then '; and ' || (count(*) - 5) || ' more' else '' end
            as hold_reason
    from holding_rows
    group by account_id
)

select * from final

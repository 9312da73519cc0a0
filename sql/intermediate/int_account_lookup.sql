-- int_account_lookup: one row per account_id named in the accounts export, saying
-- whether it stands (accepted) — so rows of other files can be rejected with the
-- right reason: an unknown account, or an account whose own row was rejected (§4).
with checked as (
    select * from int_accounts_checked
),

unreadable as (
    select * from raw_unreadable_rows
    where source_table = 'accounts'
),

named as (
    select account_id, row_status = 'accepted' as is_accepted from checked
    union all
    -- an accounts row the reader could not split, whose account_id could be read
    select account_id, false as is_accepted from unreadable
),

final as (
    select
        account_id,
        bool_or(is_accepted) as is_accepted
    from named
    where account_id is not null
    group by account_id
)

select * from final

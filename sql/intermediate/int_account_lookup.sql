-- int_account_lookup: one row per account_id named in the accounts export, saying
-- whether it stands (accepted) — so rows of other files can be rejected with the
-- right reason: an unknown account, or an account whose own row was rejected (§4).
with checked as (
    select * from int_accounts_checked
),

final as (
    select
        account_id,
        bool_or(row_status = 'accepted') as is_accepted
    from checked
    where account_id is not null
    group by account_id
)

select * from final

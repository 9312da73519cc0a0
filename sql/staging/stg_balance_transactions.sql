-- stg_balance_transactions: one row per row of the balance_transactions export, typed (UTC).
-- Contract §1 (amount blank only for license_pack; device_months for license_pack only)
-- and §2.3 (only adjustment may be negative).
-- materialized: view (read once, by its checked model: no copy of every row)
with raw as (
    select * from raw_balance_transactions
),

typed as (
    select
        line_number,
        txn_id,
        account_id,
        kind,
        code,
        occurred_at as occurred_at_text,
        amount as amount_text,
        device_months as device_months_text,
        parse_utc(occurred_at) as occurred_at,
        parse_money(amount) as amount,
        parse_int(device_months) as device_months
    from raw
),

final as (
    select
        *,
        case
            when txn_id is null then 'txn_id is blank'
            when account_id is null then 'account_id is blank'
            when occurred_at_text is null then 'occurred_at is blank'
            when occurred_at is null
                then 'occurred_at ''' || occurred_at_text || ''' is not an ISO 8601 timestamp'
            when kind is null then 'kind is blank'
            when kind not in ('purchase', 'reload', 'redeem_code', 'license_pack', 'refund', 'adjustment')
                then 'kind ''' || kind || ''' is not one of purchase, reload, redeem_code, '
                    || 'license_pack, refund, adjustment'
            when kind = 'license_pack' and amount_text is not null
                then 'a license_pack has no amount (it is valued at device_months x unit_price)'
            when kind = 'license_pack' and device_months_text is null
                then 'device_months is blank for a license_pack'
            when kind = 'license_pack' and (device_months is null or device_months <= 0)
                then 'device_months ''' || device_months_text || ''' is not a whole number > 0'
            when kind <> 'license_pack' and device_months_text is not null
                then 'device_months is only for a license_pack'
            when kind <> 'license_pack' and amount_text is null then 'amount is blank'
            when kind <> 'license_pack' and amount is null
                then 'amount ''' || amount_text || ''' is not a decimal number'
            when kind <> 'adjustment' and amount < 0
                then 'amount ''' || amount_text || ''' is negative (only an adjustment may be)'
        end as invalid_reason
    from typed
)

select * from final

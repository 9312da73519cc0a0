-- ref_currencies: one row per currency closebook bills in.
-- Contract §1: USD, EUR, GBP, CAD, AUD have 2 decimals, JPY none; any other code is a bad row.
with final as (
    select * from (
        values ('USD', 2), ('EUR', 2), ('GBP', 2), ('CAD', 2), ('AUD', 2), ('JPY', 0)
    ) as currencies (currency, minor_unit)
)

select * from final

-- macros: the few rules every model shares, as DuckDB macros.
-- Run before the models (flows/models.py does; an analyst can `.read` this file).

-- Contract "All times are UTC": an ISO 8601 timestamp with an offset (or Z) is
-- converted to UTC; a naive one is UTC; a bare date is its midnight. Anything
-- else (e.g. 10/05/2026, which is ambiguous) is null, and the row is rejected; so is
-- an offset outside the -14:00..+14:00 that real time zones use (+25:00 is a typo).
-- The session time zone never matters. This is the general parser: every shape the
-- contract accepts, each tested by regular expressions on the trimmed text.
create or replace macro parse_utc_general(s) as (
    case
        when regexp_full_match(trim(s), '\d{4}-\d{2}-\d{2}')
            then try_cast(trim(s) as timestamp)
        when regexp_full_match(trim(s), '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?')
            then try_cast(trim(s) as timestamp)
        when regexp_full_match(
            trim(s),
            '\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)? ?'
            || '(Z|z|[+-](0\d|1[0-3])(:?[0-5]\d)?|[+-]14(:?00)?)'
        )
            then timezone('UTC', try_cast(trim(s) as timestamptz))
    end
);

-- parse_utc: the general parser's answer, with one regular expression for the shapes
-- exports write almost every row in (2026-10-05T12:00:00 with Z, +hh:mm, -hh:mm or
-- nothing). Such a text has no spaces to trim and matches exactly one of the general
-- parser's branches (naive, or with a zone), so the fast branch computes that branch's
-- own expression: the same result by construction (tests/test_timestamps.py checks it
-- on a grid of valid and invalid fields). At 10M rows this is half the work: the
-- general parser trims and tries up to three expressions per row.
create or replace macro parse_utc(s) as (
    case
        when regexp_full_match(
            s, '\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))?'
        )
            then case
                when length(s) = 19 then try_cast(s as timestamp)
                else timezone('UTC', try_cast(s as timestamptz))
            end
        else parse_utc_general(s)
    end
);

-- A whole number written as digits (a trailing ".0" is allowed: Parquet doubles
-- arrive that way). Negative and fractional values are not whole numbers >= 0.
create or replace macro parse_count(s) as (
    case when regexp_full_match(trim(s), '\+?\d{1,15}(\.0+)?')
        then cast(cast(trim(s) as decimal(18, 2)) as bigint) end
);

-- An integer that may be negative (device_months of a pack is checked > 0 by the model).
create or replace macro parse_int(s) as (
    case when regexp_full_match(trim(s), '[+-]?\d{1,15}(\.0+)?')
        then cast(cast(trim(s) as decimal(18, 2)) as bigint) end
);

-- A price: a plain decimal with at most 6 places (no exponent, no thousands separator).
create or replace macro parse_price(s) as (
    case when regexp_full_match(trim(s), '[+-]?\d{1,12}(\.\d{1,6})?')
        then cast(trim(s) as decimal(18, 6)) end
);

-- An amount of money: a plain decimal with at most 4 places.
create or replace macro parse_money(s) as (
    case when regexp_full_match(trim(s), '[+-]?\d{1,14}(\.\d{1,4})?')
        then cast(trim(s) as decimal(18, 4)) end
);

-- Round once, half-up (away from zero), to the currency's minor unit.
-- Always typed decimal(18, 2) so amounts of every currency share one column type.
create or replace macro round_money(x, minor_unit) as (
    case when minor_unit = 0
        then cast(round(cast(x as decimal(38, 10)), 0) as decimal(18, 2))
        else cast(round(cast(x as decimal(38, 10)), 2) as decimal(18, 2))
    end
);

-- (numerator / denominator) rounded half-up to the minor unit, with no binary
-- floating point on the way: DuckDB's decimal division returns DOUBLE, so the
-- division is done on integers of 10^-10 units. numerator >= 0, denominator > 0.
create or replace macro div_round_money(numerator, denominator, minor_unit) as (
    cast(
        cast(
            (cast(round(cast(numerator as decimal(38, 10)) * 10000000000, 0) as hugeint)
                * (case when minor_unit = 0 then 1 else 100 end) * 2
             + cast(denominator as hugeint) * 10000000000)
            // (cast(denominator as hugeint) * 10000000000 * 2)
        as decimal(18, 0))
        * (case when minor_unit = 0 then 1.00 else 0.01 end)
    as decimal(18, 2))
);

-- Money as text for descriptions and reasons: in the currency's minor unit
-- (JPY 1200, USD 1200.00).
create or replace macro money_text(x, minor_unit) as (
    case
        when minor_unit = 0 then cast(cast(x as decimal(18, 0)) as varchar)
        else cast(cast(x as decimal(18, 2)) as varchar)
    end
);

-- A price as text: whole yen for JPY, two decimals when that is exact, else every
-- decimal it has (4.95, 0.125).
create or replace macro price_text(p, minor_unit) as (
    case
        when p is null then null
        when minor_unit = 0 and p = round(p, 0) then cast(cast(p as decimal(18, 0)) as varchar)
        when p = round(p, 2) then cast(cast(p as decimal(18, 2)) as varchar)
        else rtrim(cast(p as varchar), '0')
    end
);

-- Contract §4 duplicates, for a model's valid rows given as a table (a CTE name works)
-- with columns line_number, row_key and row_values (structs of parsed values): for
-- each row whose key appears more than once, 'accepted' for the first in file order,
-- 'duplicate' for an exact copy of it, 'rejected' for other values (a conflicting
-- duplicate), with the standing row's values. A row it does not return has a key of
-- its own: accepted. Only repeated keys are ranked: at 10M rows, grouping first is far
-- cheaper than a window over every row.
create or replace macro key_fates(rows_table) as table (
    with keyed as (
        select line_number, row_key, row_values from query_table(rows_table)
    ),
    -- Grouped on the key's hash, cheaper than on the struct; a hash collision only
    -- lets a key of its own into the ranking below, where it ranks first: accepted.
    repeated_keys as (
        select hash(row_key) as key_hash from keyed group by key_hash having count(*) > 1
    ),
    ranked as (
        select
            keyed.line_number,
            keyed.row_values,
            first_value(keyed.row_values) over by_key as standing_values,
            row_number() over by_key as key_rank
        from keyed
        semi join repeated_keys on repeated_keys.key_hash = hash(keyed.row_key)
        window by_key as (partition by keyed.row_key order by keyed.line_number)
    )
    select
        line_number,
        case
            when key_rank = 1 then 'accepted'
            when standing_values is not distinct from row_values then 'duplicate'
            else 'rejected'
        end as row_status,
        standing_values
    from ranked
);

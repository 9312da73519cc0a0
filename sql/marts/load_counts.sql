-- load_counts: one row per input file read by this close (contract §4, §5):
-- rows_read = accepted + duplicates + rejected.
with params as (
    select * from close_params
),

rows as (
    select * from int_input_rows
),

files as (
    select * from build.input_files
),

counted as (
    select
        source_table,
        count(*) as rows_read,
        count(*) filter (where row_status = 'accepted') as accepted,
        count(*) filter (where row_status = 'duplicate') as duplicates,
        count(*) filter (where row_status = 'rejected') as rejected
    from rows
    group by source_table
),

final as (
    select
        params.period,
        files.file,
        coalesce(counted.rows_read, 0) as rows_read,
        coalesce(counted.accepted, 0) as accepted,
        coalesce(counted.duplicates, 0) as duplicates,
        coalesce(counted.rejected, 0) as rejected
    from files
    cross join params
    left join counted on counted.source_table = files.source_table
)

select * from final

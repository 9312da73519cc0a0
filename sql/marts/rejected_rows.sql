-- rejected_rows: one row per rejected row of the input folder, recorded by this close
-- (contract §4, §5): file, line number (header = line 1), account, reason, raw text.
with params as (
    select * from close_params
),

rows as (
    select * from int_rejected_input_rows
),

files as (
    select * from build.input_files
),

final as (
    select
        params.period,
        files.file,
        rows.line_number,
        rows.account_id,
        rows.reject_reason as reason,
        rows.raw_text as raw
    from rows
    cross join params
    inner join files on files.source_table = rows.source_table
)

select * from final

-- input_files: one row per export file read by this close, with its size and sha256,
-- so a workbook can say exactly which inputs it was computed from.
with params as (
    select * from close_params
),

files as (
    select * from build.input_files
),

final as (
    select params.period, files.file, files.path, files.format, files.bytes, files.sha256,
        files.source_table
    from files
    cross join params
)

select * from final

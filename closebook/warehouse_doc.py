"""docs/warehouse.md, written from the declared schema so the doc cannot drift.

`scripts/write_warehouse_doc.py` writes it; `tests/test_warehouse_schema.py` checks the
file equals `render()`. The same declarations are the warehouse's `COMMENT ON` text,
so the doc and `duckdb_columns().comment` say the same thing.
"""

from __future__ import annotations

from closebook.warehouse_guard import view_sql
from closebook.warehouse_schema import SCHEMA_VERSION, TABLES, VIEWS, Column, Table, View

INTRO = f"""\
# The warehouse: every table and column

<!-- Written by scripts/write_warehouse_doc.py from closebook/warehouse_schema.py;
edit those, then run `.venv/bin/python scripts/write_warehouse_doc.py`. -->

`data/warehouse.duckdb` keeps every closed period. Each close replaces its own
period's rows of every table in one transaction (tables with a `period` column);
`closebook_schema` and `close_runs` only grow. The same text as below is in the
warehouse itself:

```sql
select table_name, comment from duckdb_tables() where schema_name = 'main';
select column_name, data_type, is_nullable, comment
from duckdb_columns() where table_name = 'invoice_lines';
```

Money is DECIMAL, never floating point: amounts `DECIMAL(18,2)` rounded once per
invoice line half-up to the currency's minor unit (JPY amounts carry `.00`), prices
`DECIMAL(18,6)`, exported amounts `DECIMAL(18,4)` as given. Timestamps are UTC.
Amounts in different currencies are never added.

## Schema version {SCHEMA_VERSION}, and tables that are not closebook's

The shape is declared in `closebook/warehouse_schema.py`, not inferred from the
marts: column types, NOT NULL where a value is always present, and a unique key
on each table whose grain is one set of columns (none on `reconciliation`,
`validation_results` and `close_runs`, whose grains are not; their comments say
why). Publish checks each key on the rows it writes, in its transaction, and
stops with one line naming the table and the repeated key, publishing nothing.
The keys are not DuckDB PRIMARY KEYs: those are ART indexes, and replacing a
period (delete and re-insert the same keys in one transaction) then costs about
30 s at commit per 200,000 rows on DuckDB 2.0, which would make re-running a
100k-account close take minutes. Each table's comment in the warehouse names its
key. The version is recorded in `closebook_schema`.

Before a close loads anything it checks every table it owns that exists in `main`:
same columns, same types (and, at the current version, the same NOT NULL). A table
of another shape under one of these names, a view under a table's name, or a table
under a view's name stops the close with one line naming it and what differs
(exit 1), and nothing in the warehouse changes. Tables closebook does not own are
never read or written.

A warehouse written before versions were recorded (version 1: the same tables made
from the marts, no keys, no comments) is migrated inside the publish transaction:
each table is rebuilt at the declared shape and its rows copied by name (columns it
lacked, such as `invoice_lines.product`, read null for the old periods); new tables
are created; the version is recorded. If old rows break a key or a NOT NULL, the
close stops and the warehouse is left as it was. A warehouse at a newer version than the running
closebook is refused.

Views are recreated by every publish from `sql/views/*.sql`.
"""


def _column_rows(columns: tuple[Column, ...], with_null: bool) -> list[str]:
    if with_null:
        lines = ["| column | type | null | meaning |", "|---|---|---|---|"]
    else:
        lines = ["| column | type | meaning |", "|---|---|---|"]
    for c in columns:
        meaning = c.comment + (f" (since version {c.since})" if c.since > 1 else "")
        if with_null:
            lines.append(f"| `{c.name}` | {c.type} | {'' if c.not_null else 'yes'} | {meaning} |")
        else:
            lines.append(f"| `{c.name}` | {c.type} | {meaning} |")
    return lines


def _table_section(table: Table) -> list[str]:
    key = ", ".join(table.key) + " (unique)" if table.key else "none"
    lines = [
        f"### `{table.name}`",
        "",
        f"Grain: {table.grain}. Key: {key}."
        + (f" Since version {table.since}." if table.since > 1 else ""),
        "",
        table.comment,
        "",
    ]
    return lines + _column_rows(table.columns, with_null=True) + [""]


def _view_definition(view: View) -> list[str]:
    header = []
    for line in view_sql(view.name).splitlines():
        if not line.startswith("--"):
            break
        header.append(line[2:].strip())
    header[0] = header[0].split(": ", 1)[-1]  # "dso: one row per ..." -> "one row per ..."
    return header


def _view_section(view: View) -> list[str]:
    lines = [
        f"### `{view.name}`",
        "",
        f"Grain: {view.grain}. Query: `sql/views/{view.name}.sql`.",
        "",
        view.comment,
        "",
        "Definition:",
        "",
        "```",
        *_view_definition(view),
        "```",
        "",
    ]
    return lines + _column_rows(view.columns, with_null=False) + [""]


def render() -> str:
    """The whole of docs/warehouse.md."""
    lines = [INTRO, "## Tables", ""]
    lines += [
        "| table | grain |",
        "|---|---|",
        *[f"| `{t.name}` | {t.grain} |" for t in TABLES],
        "",
    ]
    for table in TABLES:
        lines += _table_section(table)
    lines += ["## Analyst views", ""]
    for view in VIEWS:
        lines += _view_section(view)
    return "\n".join(lines).rstrip() + "\n"

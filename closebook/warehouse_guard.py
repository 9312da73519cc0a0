"""Make sure the warehouse is closebook's, at the shape this code writes, before writing.

A warehouse file may hold tables another program made under closebook's names (an
`invoices` table with other columns), or be an older closebook's. Inserting by name
into the first would mix closebook's rows into foreign ones; into the second, fail
or lose the new columns. So a close first checks every table it owns that exists
(`check_warehouse`, before it loads anything) and stops with one line naming the
table and what differs; and publish, inside its transaction, migrates an older
closebook warehouse and creates what is missing (`ensure_schema`), so a crash
leaves the warehouse as it was. Tables closebook does not own are never touched.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from closebook.models import SQL_DIR
from closebook.warehouse_schema import (
    SCHEMA_VERSION,
    TABLES,
    TABLES_BY_NAME,
    VERSION_TABLE,
    VIEWS,
    Table,
    comment_statements,
    create_table_sql,
)

VIEWS_DIR = SQL_DIR / "views"

# The shape of a table as DuckDB reports it: column -> (type, nullable).
Shape = dict[str, tuple[str, bool]]


class WarehouseSchemaError(RuntimeError):
    """The warehouse holds a table closebook cannot write to; the message is one line."""


def _main_tables(con: duckdb.DuckDBPyConnection) -> dict[str, Shape]:
    shapes: dict[str, Shape] = {}
    for table, column, type_, nullable in con.execute(
        "select table_name, column_name, data_type, is_nullable from duckdb_columns() "
        "where database_name = current_database() and schema_name = 'main' "
        "and table_name in (select table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name = 'main') "
        "order by table_name, column_index"
    ).fetchall():
        shapes.setdefault(table, {})[column] = (type_, bool(nullable))
    return shapes


def _main_views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        name
        for (name,) in con.execute(
            "select view_name from duckdb_views() where database_name = current_database() "
            "and schema_name = 'main' and not internal"
        ).fetchall()
    }


def _differences(table: Table, shape: Shape, version: int) -> list[str]:
    """What keeps `shape` from being `table` at `version` (nothing: it is)."""
    expected = {c.name: c for c in table.columns_at(version)}
    problems = []
    missing = [name for name in expected if name not in shape]
    extra = [name for name in shape if name not in expected]
    if version == 1:
        # Before the shape was declared, a table grew columns as the marts did: an old
        # warehouse may lack a few; what it has must be closebook's, and a column left
        # out must be one that may be null.
        missing = [name for name in missing if expected[name].not_null]
    if missing:
        problems.append("missing " + ", ".join(missing[:4]))
    if extra:
        problems.append("unexpected " + ", ".join(extra[:4]))
    for name, (type_, nullable) in shape.items():
        column = expected.get(name)
        if column is None:
            continue
        if type_ != column.type:
            problems.append(f"{name} is {type_}, expected {column.type}")
        elif version == SCHEMA_VERSION and nullable == column.not_null:
            problems.append(f"{name} is {'nullable' if nullable else 'NOT NULL'}")
    return problems


def warehouse_version(con: duckdb.DuckDBPyConnection) -> int:
    """The shape version recorded in the warehouse: 0 when closebook has written nothing,
    1 for a warehouse written before versions were recorded."""
    shapes = _main_tables(con)
    if VERSION_TABLE in shapes:
        found = con.execute(f"select max(version) from main.{VERSION_TABLE}").fetchone()
        return int(found[0]) if found and found[0] is not None else 0
    return 1 if any(t.name in shapes for t in TABLES) else 0


def check_warehouse(con: duckdb.DuckDBPyConnection) -> int:
    """Raise WarehouseSchemaError unless every closebook table present has the shape of
    the warehouse's recorded version; return that version (0 empty, 1 legacy)."""
    shapes = _main_tables(con)
    views = _main_views(con)
    for view in VIEWS:
        if view.name in shapes:
            raise WarehouseSchemaError(
                f"warehouse table main.{view.name} is not closebook's (closebook keeps a "
                "view by that name); rename or drop it, or use another --warehouse"
            )
    for table in TABLES:
        if table.name in views:
            raise WarehouseSchemaError(
                f"warehouse view main.{table.name} is not closebook's (closebook keeps a "
                "table by that name); rename or drop it, or use another --warehouse"
            )
    version_table = TABLES_BY_NAME[VERSION_TABLE]
    if VERSION_TABLE in shapes and _differences(version_table, shapes[VERSION_TABLE], 2):
        raise WarehouseSchemaError(
            f"warehouse table main.{VERSION_TABLE} is not closebook's "
            f"({'; '.join(_differences(version_table, shapes[VERSION_TABLE], 2))})"
        )
    version = warehouse_version(con)
    if version > SCHEMA_VERSION:
        raise WarehouseSchemaError(
            f"the warehouse is at schema version {version}, newer than this closebook's "
            f"{SCHEMA_VERSION}; close with the closebook that wrote it"
        )
    for table in TABLES:
        if table.name == VERSION_TABLE or table.name not in shapes:
            continue
        if table.since > max(version, 1):
            problems = [f"closebook {max(version, 1)} has no such table"]
        else:
            problems = _differences(table, shapes[table.name], max(version, 1))
        if problems:
            raise WarehouseSchemaError(
                f"warehouse table main.{table.name} is not closebook's "
                f"({'; '.join(problems)}); rename or move it, or use another --warehouse"
            )
    return version


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Check, migrate, create: afterwards every owned table and view exists at the
    current shape. Runs inside the caller's transaction (publish's): all or nothing."""
    version = check_warehouse(con)
    if version == 1:
        _migrate_from_unversioned(con)
    existing = _main_tables(con)
    for table in TABLES:
        if table.name not in existing:
            con.execute(create_table_sql(table))
    if version < SCHEMA_VERSION:
        con.execute(
            f"insert into main.{VERSION_TABLE} values (?, ?)",
            [SCHEMA_VERSION, datetime.now(UTC).replace(tzinfo=None, microsecond=0)],
        )
    _ensure_comments(con)
    create_views(con)
    check_keys(con, "build")


def duplicate_key(con: duckdb.DuckDBPyConnection, schema: str, table: Table) -> str | None:
    """The first key value of `schema.table` held by more than one row, as text."""
    columns = ", ".join(f'"{k}"' for k in table.key)
    found = con.execute(
        f"select {columns} from {schema}.{table.name} group by all having count(*) > 1 "
        "order by all limit 1"
    ).fetchone()
    if not found:
        return None
    return ", ".join(f"{k} = {v}" for k, v in zip(table.key, found, strict=True))


def check_keys(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Each declared key is unique among the rows `schema` holds (build: the rows about to
    be published; their period's old rows are deleted first, and every key starts with the
    period or, for invoice numbers, embeds it, so unique here is unique in the warehouse)."""
    present = {
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database() "
            "and schema_name = ?",
            [schema],
        ).fetchall()
    }
    for table in TABLES:
        if table.key and table.name in present:
            duplicate = duplicate_key(con, schema, table)
            if duplicate:
                raise WarehouseSchemaError(
                    f"{schema}.{table.name} has more than one row for {duplicate}; "
                    "nothing was published"
                )


def _migrate_from_unversioned(con: duckdb.DuckDBPyConnection) -> None:
    """Version 1 -> 2: rebuild each table at the declared shape (NOT NULL) and copy its
    rows by name; columns it lacked read null. Rows breaking a key stop the close."""
    existing = _main_tables(con)
    for table in TABLES:
        if table.name not in existing:
            continue
        old = f"{table.name}__closebook_v1"
        con.execute(f"alter table main.{table.name} rename to {old}")
        con.execute(create_table_sql(table))
        try:
            con.execute(f"insert into main.{table.name} by name select * from main.{old}")
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise WarehouseSchemaError(
                f"warehouse table main.{table.name} cannot be migrated to schema version "
                f"{SCHEMA_VERSION}: {first_line}"
            ) from None
        duplicate = duplicate_key(con, "main", table) if table.key else None
        if duplicate:
            raise WarehouseSchemaError(
                f"warehouse table main.{table.name} cannot be migrated to schema version "
                f"{SCHEMA_VERSION}: more than one row for {duplicate}"
            )
        con.execute(f"drop table main.{old}")


def _ensure_comments(con: duckdb.DuckDBPyConnection) -> None:
    """Set every table and column comment that differs from the declaration (cheap when
    nothing changed: one query, no writes)."""
    table_comments = dict(
        con.execute(
            "select table_name, comment from duckdb_tables() "
            "where database_name = current_database() and schema_name = 'main'"
        ).fetchall()
    )
    column_comments = {
        (t, c): comment
        for t, c, comment in con.execute(
            "select table_name, column_name, comment from duckdb_columns() "
            "where database_name = current_database() and schema_name = 'main'"
        ).fetchall()
    }
    for table in TABLES:
        statements = comment_statements(table)
        wanted = [table_comments.get(table.name) != table.catalog_comment] + [
            column_comments.get((table.name, c.name)) != c.comment for c in table.columns
        ]
        for statement, needed in zip(statements, wanted, strict=True):
            if needed:
                con.execute(statement)


def view_sql(name: str) -> str:
    """The query behind an analyst view (`sql/views/<name>.sql`)."""
    return (VIEWS_DIR / f"{name}.sql").read_text()


def create_views(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the analyst views over the warehouse's history, with their comments."""
    for view in VIEWS:
        con.execute(f"create or replace view main.{view.name} as (\n{view_sql(view.name)}\n)")
        for statement in comment_statements(view):
            con.execute(statement)

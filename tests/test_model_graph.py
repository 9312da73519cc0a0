"""The model runner's graph comes from the tables each SQL file reads, and
`closebook models` shows it and rebuilds one model for an analyst."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from closebook.cli import main
from closebook.loading import load_exports
from closebook.models import (
    LAYERS,
    ClosePeriod,
    ModelGraphError,
    build_models,
    discover_models,
    upstream,
)
from closebook.publish import publish_period

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


def sql_folder(tmp_path: Path, **models: str) -> Path:
    """A sql/ folder with the three layers; `int_*` models go to intermediate, the rest to marts."""
    for layer in LAYERS:
        (tmp_path / layer).mkdir(parents=True, exist_ok=True)
    for name, sql in models.items():
        layer = "intermediate" if name.startswith("int_") else "marts"
        (tmp_path / layer / f"{name}.sql").write_text(sql)
    return tmp_path


def graph(tmp_path: Path, **models: str) -> dict[str, tuple[str, ...]]:
    return {m.name: m.depends_on for m in discover_models(sql_folder(tmp_path, **models))}


@pytest.mark.parametrize(
    "mention",
    [
        "select 'int_base' as kind from raw_x",  # a string literal
        "select 1 as int_base from raw_x",  # a column alias
        "-- built after int_base\nselect 1 as n from raw_x",  # a comment
        "/* int_base */ select 1 as n from raw_x",  # a block comment
        "select raw_x.int_base from raw_x",  # a column of another table
        "with int_base as (select 1 as n) select * from int_base",  # its own CTE
        "select * from main.int_base",  # the published table, not this close's model
    ],
)
def test_a_model_named_but_not_read_adds_no_edge(tmp_path: Path, mention: str) -> None:
    found = graph(tmp_path, int_base="select 1 as n", int_other=mention)
    assert found["int_other"] == ()


@pytest.mark.parametrize(
    "read",
    [
        "select * from int_base",
        "select * from raw_x join build.int_base using (n)",
        "select * from raw_x where n in (select n from int_base)",
        "with rows as (select * from INT_BASE) select * from rows",
        "select * from key_fates(int_base)",  # a table macro handed the model
    ],
)
def test_a_model_read_in_a_from_or_join_is_an_edge(tmp_path: Path, read: str) -> None:
    found = graph(tmp_path, int_base="select 1 as n", int_other=read)
    assert found["int_other"] == ("int_base",)


def test_models_run_after_what_they_read_whatever_their_names(tmp_path: Path) -> None:
    models = discover_models(
        sql_folder(
            tmp_path,
            aaa_mart="select * from int_zzz",
            int_zzz="select * from int_aaa",
            int_aaa="select * from raw_x",
        )
    )
    assert [m.name for m in models] == ["int_aaa", "int_zzz", "aaa_mart"]
    assert models[0].sources == ("raw_x",)


def test_models_reading_each_other_in_a_circle_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelGraphError, match="circle"):
        graph(tmp_path, int_a="select * from int_b", int_b="select * from int_a")


def test_sql_that_does_not_parse_names_its_file(tmp_path: Path) -> None:
    with pytest.raises(ModelGraphError, match="intermediate/int_bad.sql"):
        graph(tmp_path, int_bad="select from from where")


def test_the_shipped_models_mentions_that_are_not_reads_add_no_edge() -> None:
    models = {m.name: m for m in discover_models()}
    # int_account_holds names a column `rejected_rows`, int_invoice_lines has the literal
    # 'license_days' (the regex runner made edges of both): neither reads those marts.
    assert "rejected_rows" not in models["int_account_holds"].depends_on
    assert "license_days" not in models["int_invoice_lines"].depends_on
    assert "license_days" not in models["int_invoice_lines_license_days"].depends_on
    assert "int_invoice_lines" in models["invoices"].depends_on
    assert models["stg_accounts"].depends_on == ("ref_currencies",)
    assert "raw_accounts" in models["stg_accounts"].sources


def test_the_shipped_models_run_after_everything_they_read() -> None:
    seen: set[str] = set()
    for model in discover_models():
        assert set(model.depends_on) <= seen, model.name
        seen.add(model.name)


def test_upstream_is_the_model_and_all_it_needs_in_run_order(tmp_path: Path) -> None:
    models = discover_models(
        sql_folder(
            tmp_path,
            int_a="select * from raw_x",
            int_b="select * from int_a",
            int_c="select * from raw_y",
            top="select * from int_b",
        )
    )
    assert [m.name for m in upstream(models, "top")] == ["int_a", "int_b", "top"]


def test_models_command_lists_every_model_in_run_order(capsys) -> None:
    assert main(["models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = [line.split()[1] for line in lines[1:-1]]
    assert listed == [f"{m.layer}/{m.name}" for m in discover_models()]
    assert any(
        line.split()[1] == "marts/invoice_lines" and "int_invoice_lines" in line for line in lines
    )


def test_building_needs_a_warehouse_with_a_close(tmp_path: Path, capsys) -> None:
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()
    assert main(["models", "--build", "invoices", "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run `closebook close` first" in err
    assert main(["models", "--build", "no_such_model", "--warehouse", str(warehouse)]) == 2


def test_building_one_model_recomputes_it_from_the_last_close(tmp_path: Path, capsys) -> None:
    warehouse = tmp_path / "w.duckdb"
    con = duckdb.connect(str(warehouse))
    load_exports(con, SAMPLE)
    build_models(con, ClosePeriod.parse("2026-10"), date(2026, 11, 20))
    publish_period(con, "2026-10")
    con.execute("drop table build.hwm_usage")
    con.execute("drop table build.int_hwm_monthly")
    con.close()

    assert main(["models", "--build", "hwm_usage", "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert "from the close of 2026-10" in out and "int_hwm_monthly" in out
    assert "invoices" not in out.split(":", 1)[1]  # nothing downstream is rebuilt

    con = duckdb.connect(str(warehouse), read_only=True)
    rebuilt = con.execute("select * from build.hwm_usage order by all").fetchall()
    published = con.execute(
        "select * from main.hwm_usage where period = '2026-10' order by all"
    ).fetchall()
    assert rebuilt and rebuilt == published

"""The synthetic exports: the bundled sample stays reproducible, and the generator stays honest.

The sample in data/sample/ is what the demo and the README run on; if the
generator changes, regenerate it with the command in scripts/sample_data.py's
docstring (this test tells you when).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from closebook.contract import INPUT_TABLES, TABLES_BY_NAME
from scripts.sample_data import (
    FORMULA_NAME,
    SPECIAL_NAMES,
    TS_STYLES,
    _iso_one,
    format_minor,
    format_price,
    generate_exports,
    iso_timestamps,
)
from tests.exports import build, rows

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "sample"
SAMPLE_ARGS = {"n_accounts": 40, "months": ["2026-08", "2026-09", "2026-10"], "seed": 7}
MONTHS = ["2026-08", "2026-09", "2026-10"]


def _header(path: Path) -> list[str]:
    if path.suffix == ".parquet":
        return pq.read_schema(path).names
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


def test_bundled_sample_regenerates_byte_for_byte(tmp_path: Path) -> None:
    counts = generate_exports(tmp_path, **SAMPLE_ARGS)
    bundled = sorted(p.name for p in SAMPLE_DIR.iterdir())
    assert bundled == sorted(p.name for p in tmp_path.iterdir())
    assert bundled == sorted(f"{t}.csv" for t in counts)
    for name in bundled:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DIR / name).read_bytes(), (
            f"data/sample/{name} is stale: regenerate it (see scripts/sample_data.py)"
        )


def test_bundled_sample_is_small() -> None:
    assert sum(p.stat().st_size for p in SAMPLE_DIR.iterdir()) < 1_000_000


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_file_has_the_contract_columns(tmp_path: Path, fmt: str) -> None:
    counts = generate_exports(tmp_path, 60, MONTHS, 3, fmt=fmt)
    for table in INPUT_TABLES:
        path = tmp_path / f"{table.name}.{fmt}"
        assert path.exists(), path
        header = _header(path)
        assert set(table.required_columns) <= set(header), (table.name, header)
        assert set(header) <= set(table.columns), (table.name, header)
        assert counts[table.name] > 0, table.name


def test_the_same_seed_gives_the_same_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first, again, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_exports(first, 300, MONTHS, 11)
    generate_exports(again, 300, MONTHS, 11)
    generate_exports(other, 300, MONTHS, 12)
    for table in TABLES_BY_NAME:
        name = f"{table}.csv"
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    assert (first / "usage_snapshots.csv").read_bytes() != (
        other / "usage_snapshots.csv"
    ).read_bytes()


def test_two_thousand_accounts_with_sane_counts(tmp_path: Path) -> None:
    # Speed is the benchmark's business (scripts/bench.py prints generation time).
    counts = generate_exports(tmp_path, 2_000, MONTHS, 5, snapshots_per_month=100)
    assert counts["accounts"] == 2_000
    # 80% of accounts are metered, 50..150 snapshots a month each, fewer for late starters.
    assert 0.8 * 2_000 * 3 * 100 * 0.8 < counts["usage_snapshots"] < 0.8 * 2_000 * 3 * 150
    assert 400 <= counts["license_events"] < 400 * 60 * 5
    assert counts["balance_transactions"] >= 400  # every prepaid account buys at least once
    assert counts["billed_invoices"] > 2_000
    assert 0.7 * counts["billed_invoices"] < counts["payments"] < counts["billed_invoices"]
    con = duckdb.connect()
    accounts = con.execute(
        "select billing_model, count(*) from read_csv(?, all_varchar = true) group by all",
        [str(tmp_path / "accounts.csv")],
    ).fetchall()
    assert dict(accounts) == {"hwm": 1_200, "license_day": 400, "prepaid": 400}


def test_names_that_break_careless_code_are_there(tmp_path: Path) -> None:
    generate_exports(tmp_path, 40, MONTHS, 1)
    with (tmp_path / "accounts.csv").open(newline="", encoding="utf-8") as handle:
        names = {row["account_name"] for row in csv.DictReader(handle)}
    assert set(SPECIAL_NAMES) | {FORMULA_NAME} <= names
    generate_exports(tmp_path / "clean", 40, MONTHS, 1, with_issues=False)
    with (tmp_path / "clean" / "accounts.csv").open(newline="", encoding="utf-8") as handle:
        assert FORMULA_NAME not in {row["account_name"] for row in csv.DictReader(handle)}


def test_the_sample_breaks_exactly_the_rules_it_means_to() -> None:
    con = build(SAMPLE_DIR, "2026-10")
    found = rows(con, "select file, reason from build.rejected_rows order by file, line_number")
    # n/a quantity, unknown account, conflicting duplicate: and nothing else
    assert len(found) == 3, found
    assert {r["file"] for r in found} == {"usage_snapshots.csv"}
    duplicates = rows(
        con, "select file, duplicates from build.load_counts where duplicates > 0 order by file"
    )
    assert duplicates == [{"file": "usage_snapshots.csv", "duplicates": 1}]


@pytest.fixture(scope="module")
def clean_close(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    folder = tmp_path_factory.mktemp("clean")
    generate_exports(folder, 120, MONTHS, 9, with_issues=False)
    return build(folder, "2026-10", as_of=date(2026, 12, 31))


def test_clean_exports_are_accepted_whole(clean_close: duckdb.DuckDBPyConnection) -> None:
    assert rows(clean_close, "select * from build.rejected_rows") == []
    assert rows(clean_close, "select * from build.load_counts where duplicates > 0") == []


@pytest.mark.parametrize(
    ("invoice_type", "line_model"),
    [
        ("BASE", "int_invoice_lines_hwm"),
        ("OVERAGE", "int_invoice_lines_hwm"),
        ("LICENSE", "int_invoice_lines_license_days"),
        ("PREPAID", "int_invoice_lines_prepaid"),
    ],
)
def test_clean_exports_are_billed_as_the_close_computes(
    clean_close: duckdb.DuckDBPyConnection, invoice_type: str, line_model: str
) -> None:
    # The generator bills by the contract on its own (integer minor units); the close must
    # agree to the cent on every invoice of the period, both ways.
    if not rows(clean_close, f"select 1 from build.{line_model} limit 1"):
        pytest.skip(f"{line_model} produces no lines yet")
    mismatches = rows(
        clean_close,
        """
        select coalesce(i.invoice_number, b.invoice_number) as invoice_number,
               i.total as computed, b.amount as billed
        from build.invoices as i
        full join (select * from build.int_billed_invoices where period = '2026-10') as b
            using (invoice_number)
        where i.total is distinct from b.amount
          and coalesce(i.invoice_number, b.invoice_number) like '%-' || ?
        """,
        [invoice_type],
    )
    assert mismatches == []


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=4_102_444_800),
    st.integers(min_value=0, max_value=len(TS_STYLES) - 1),
)
def test_fast_timestamps_match_the_slow_formatter(second: int, style: int) -> None:
    fast = iso_timestamps(np.array([second]), np.array([style])).to_pylist()
    assert fast == [_iso_one(second, style)]


@pytest.mark.parametrize(
    ("minor_units", "minor", "text"),
    [(123456, 2, "1234.56"), (-2768, 2, "-27.68"), (5, 2, "0.05"), (1234, 0, "1234")],
)
def test_money_is_formatted_from_integers(minor_units: int, minor: int, text: str) -> None:
    assert format_minor(minor_units, minor) == text


@pytest.mark.parametrize(
    ("price_p4", "minor", "text"),
    [(49_500, 2, "4.95"), (33_333, 2, "3.3333"), (20_000, 2, "2.00"), (9_000_000, 0, "900")],
)
def test_prices_keep_their_decimals(price_p4: int, minor: int, text: str) -> None:
    assert format_price(price_p4, minor) == text

"""Warehouse and workbooks are one outcome (guarantees: "exit 1 means nothing changed").

A close whose workbooks cannot be moved into place (a file held open by Excel,
a folder that refuses writes) puts the period's previous warehouse rows back and
fails with exit 1: both stay as they were. Only when that restore fails too does
the close end with exit 4 and say exactly what state it left. A killed close's
staging folder is removed by the next close of the period.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest

from closebook import publish
from closebook.pipeline import (
    EXIT_FAILED,
    EXIT_PUBLISHED_WITHOUT_WORKBOOKS,
    CloseFailed,
    PublishedWithoutWorkbooks,
    close_period,
    failure_exit_code,
)
from closebook.workbooks import staging

ROOT = Path(__file__).resolve().parent.parent
PERIOD = "2026-10"
WORKBOOKS = ("invoices.xlsx", "overage.xlsx", "prepaid.xlsx", "reconciliation.xlsx")


@pytest.fixture
def closed(tmp_path: Path) -> dict[str, Path]:
    """The sample closed once; then its prices raised, so a second close differs."""
    exports = tmp_path / "exports"
    shutil.copytree(ROOT / "data" / "sample", exports)
    paths = {"input": exports, "warehouse": tmp_path / "wh.duckdb", "reports": tmp_path / "r"}
    close_period(PERIOD, exports, paths["warehouse"], paths["reports"])
    accounts = exports / "accounts.csv"
    # Every unit price 2.00 becomes 2.50: the second close bills other totals.
    accounts.write_text(accounts.read_text().replace(",2.00,", ",2.50,"))
    return paths


def _invoices(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "select invoice_number, total, status from invoices where period = ? order by 1",
            [PERIOD],
        ).fetchall()


def _workbook_bytes(reports: Path) -> dict[str, bytes]:
    return {name: (reports / PERIOD / name).read_bytes() for name in WORKBOOKS}


def _fail_moving(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """os.replace refuses to put `name` in place, as Windows does for a file Excel holds."""
    real_replace = os.replace

    def replace(source, target):  # noqa: ANN001, ANN202
        moving_new_in = staging.STAGING_PREFIX in str(source) and Path(source).parent.name == PERIOD
        if Path(target).name == name and moving_new_in:
            raise PermissionError(13, "The process cannot access the file", str(target))
        return real_replace(source, target)

    monkeypatch.setattr(staging.os, "replace", replace)


def test_a_workbook_that_cannot_be_replaced_leaves_warehouse_and_workbooks_as_they_were(
    closed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before_rows, before_books = _invoices(closed["warehouse"]), _workbook_bytes(closed["reports"])
    _fail_moving(monkeypatch, "prepaid.xlsx")  # the third of four: two were already moved

    with pytest.raises(CloseFailed) as failure:
        close_period(PERIOD, closed["input"], closed["warehouse"], closed["reports"])

    assert failure_exit_code(failure.value) == EXIT_FAILED
    assert "keep their previous results" in str(failure.value)
    assert _invoices(closed["warehouse"]) == before_rows
    assert _workbook_bytes(closed["reports"]) == before_books
    assert not list(closed["reports"].glob(f"{staging.STAGING_PREFIX}*"))
    with duckdb.connect(str(closed["warehouse"]), read_only=True) as con:
        exit_code, summary = con.execute(
            "select exit_code, summary from close_runs order by finished_at desc, exit_code desc"
        ).fetchone()
    assert exit_code == EXIT_FAILED and "prepaid.xlsx" in summary


def test_the_next_close_after_a_failed_swap_publishes_both(
    closed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before_rows = _invoices(closed["warehouse"])
    _fail_moving(monkeypatch, "overage.xlsx")
    with pytest.raises(CloseFailed):
        close_period(PERIOD, closed["input"], closed["warehouse"], closed["reports"])
    monkeypatch.undo()

    close_period(PERIOD, closed["input"], closed["warehouse"], closed["reports"])

    after_rows = _invoices(closed["warehouse"])
    assert after_rows != before_rows  # the raised prices are billed now
    assert all((closed["reports"] / PERIOD / name).exists() for name in WORKBOOKS)


def test_when_the_warehouse_cannot_be_put_back_the_close_says_what_it_left(
    closed: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    before_books = _workbook_bytes(closed["reports"])
    _fail_moving(monkeypatch, "invoices.xlsx")

    def restore_fails(con, period):  # noqa: ANN001, ANN202
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish, "restore_previous", restore_fails)

    with pytest.raises(PublishedWithoutWorkbooks) as failure:
        close_period(PERIOD, closed["input"], closed["warehouse"], closed["reports"])

    assert failure_exit_code(failure.value) == EXIT_PUBLISHED_WITHOUT_WORKBOOKS == 4
    message = str(failure.value)
    assert "holds the new results of 2026-10" in message and "close 2026-10 again" in message
    assert "\n" not in message
    assert _workbook_bytes(closed["reports"]) == before_books  # the old set, whole


def test_a_killed_close_leaves_nothing_the_next_close_does_not_remove(tmp_path: Path) -> None:
    reports = tmp_path / "r"
    left = reports / f"{staging.STAGING_PREFIX}{PERIOD}-999999" / PERIOD
    left.mkdir(parents=True)
    (left / "invoices.xlsx").write_bytes(b"half")
    (reports / PERIOD).mkdir()
    (reports / PERIOD / ".invoices.x1y2.xlsx.tmp").write_bytes(b"half")
    other = reports / f"{staging.STAGING_PREFIX}2026-09-999999"
    other.mkdir()

    close_period(PERIOD, ROOT / "data" / "sample", tmp_path / "wh.duckdb", reports)

    assert not (reports / f"{staging.STAGING_PREFIX}{PERIOD}-999999").exists()
    assert not list((reports / PERIOD).glob(".*.tmp"))
    assert other.exists()  # another period's: that close's own to clean
    assert sorted(p.name for p in (reports / PERIOD).glob("*.xlsx")) == sorted(WORKBOOKS)

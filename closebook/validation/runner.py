"""Run the suites over a built close, hold what failures pin on invoices, keep the results.

A failure is never only logged:

- when it can be pinned on invoices (by invoice_number or account_id), those invoices are
  marked `held` in `build.invoices` with the reason `validation: <check> (...)`, so they are
  computed and shown but not issued;
- when it cannot (an unknown account, a duplicate payment, an invariant broken for an
  account that has no invoice to hold), `ValidationResult.run_failed` is True and the
  pipeline must not publish.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from .checks import Check
from .gx_runner import GxRunner, skipped
from .input_suite import INPUT_CHECKS
from .output_suite import OUTPUT_CHECKS, expected_invoices_check
from .report import write_report
from .results import CheckResult, ValidationResult, join, replace_result, some, store_results


def validate_close(
    con: duckdb.DuckDBPyConnection, period: str, report_dir: Path | None
) -> ValidationResult:
    """Run every suite over the build tables of `period`, act on failures, keep the results.

    Holds attributable invoices in `build.invoices` (and `build.reconciliation`), writes
    `build.validation_results` and, when report_dir is given, `report_dir/validation.html`.
    """
    con.execute("set search_path = 'build,main'")
    present = _present_tables(con)
    checks = [*INPUT_CHECKS, *OUTPUT_CHECKS, expected_invoices_check(present)]
    columns = _present_columns(con)
    missing = [[r for r in c.requires if not _has(present, columns, r)] for c in checks]
    runnable = [check for check, lacks in zip(checks, missing, strict=True) if not lacks]
    judged = iter(GxRunner().run_all(con, runnable))
    raw: list[tuple[CheckResult, Check | None, set[str]]] = []
    for check, lacks in zip(checks, missing, strict=True):
        if lacks:
            raw.extend((skipped(check, e, lacks), None, set()) for e in check.expectations)
        else:
            raw.extend(next(judged) for _ in check.expectations)

    # Read only when a failure is to be pinned on invoices (96k rows at 100k accounts).
    invoice_keys: dict[str, dict[str, list[str]]] = {}
    holds: dict[str, set[str]] = {}
    results: list[CheckResult] = []
    for result, check, keys in raw:
        if result.status != "failed" or check is None:
            results.append(result)
            continue
        if check.attribute_by is not None and not invoice_keys:
            invoice_keys = _invoice_keys(con)
        invoices, unattributed = _attribute(check.attribute_by, keys, invoice_keys)
        if check.attribute_by is None or not keys or unattributed or not invoices:
            detail = result.details
            if unattributed:
                detail = join(detail, "no invoice to hold for: " + some(sorted(unattributed)))
            results.append(
                replace_result(
                    result,
                    details=detail,
                    action="run_failed",
                    attributed_invoices=tuple(sorted(invoices)),
                )
            )
        else:
            results.append(
                replace_result(result, action="held", attributed_invoices=tuple(sorted(invoices)))
            )
        reason = f"validation: {result.check} ({result.description})"
        for number in invoices:
            holds.setdefault(number, set()).add(reason)

    _hold(con, holds)
    store_results(con, period, results)
    failed = [r for r in results if r.status == "failed"]
    report_path = write_report(con, period, report_dir) if report_dir is not None else None
    return ValidationResult(
        period=period,
        checks=results,
        failed=failed,
        held_invoices=sorted(holds),
        run_failed=any(r.action == "run_failed" for r in failed),
        report_path=report_path,
    )


def _present_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Build tables and views (a model may be materialised as either)."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'build' and table_catalog = current_database()"
    ).fetchall()
    return {name for (name,) in rows}


def _present_columns(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(table, column) of every build table and view, in one query."""
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'build' and table_catalog = current_database()"
    ).fetchall()
    return {(table, column) for table, column in rows}


def _has(present: set[str], columns: set[tuple[str, str]], requirement: str) -> bool:
    table, _, column = requirement.partition(".")
    if table not in present:
        return False
    return not column or (table, column) in columns


def _invoice_keys(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, list[str]]]:
    """invoice_number -> [itself] and account_id -> its invoices, for attributing failures."""
    by_number: dict[str, list[str]] = {}
    by_account: dict[str, list[str]] = {}
    for number, account_id in con.execute(
        "select invoice_number, account_id from build.invoices"
    ).fetchall():
        by_number[str(number)] = [str(number)]
        by_account.setdefault(str(account_id), []).append(str(number))
    return {"invoice_number": by_number, "account_id": by_account}


def _attribute(
    attribute_by: str | None, keys: set[str], invoice_keys: dict[str, dict[str, list[str]]]
) -> tuple[set[str], set[str]]:
    """(invoices to hold, keys with no invoice to hold)."""
    if attribute_by is None:
        return set(), set()
    lookup = invoice_keys[attribute_by]
    invoices = {number for key in keys for number in lookup.get(key, [])}
    return invoices, {key for key in keys if key not in lookup}


def _hold(con: duckdb.DuckDBPyConnection, holds: dict[str, set[str]]) -> None:
    """Mark invoices held, appending each validation reason once (re-running adds nothing)."""
    if not holds:
        return
    con.execute(
        "create or replace temp table validation_holds (invoice_number varchar, reason varchar)"
    )
    con.executemany(
        "insert into validation_holds values (?, ?)",
        [[number, "; ".join(sorted(reasons))] for number, reasons in sorted(holds.items())],
    )
    con.execute(
        """
        update build.invoices as invoices
        set status = 'held',
            hold_reason = case
                when coalesce(contains(invoices.hold_reason, holds.reason), false)
                    then invoices.hold_reason
                else concat_ws('; ', nullif(invoices.hold_reason, ''), holds.reason)
            end
        from validation_holds as holds
        where holds.invoice_number = invoices.invoice_number
        """
    )
    if _has(_present_tables(con), _present_columns(con), "reconciliation.invoice_status"):
        con.execute(
            "update build.reconciliation set invoice_status = 'held' "
            "where invoice_status is not null "
            "and invoice_number in (select invoice_number from validation_holds)"
        )

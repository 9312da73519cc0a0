"""`validation.html`: the close's expectations in words finance reads, failures first."""

from __future__ import annotations

import html
from pathlib import Path

import duckdb

from .results import RESULTS_TABLE, some


def write_report(
    con: duckdb.DuckDBPyConnection, period: str, report_dir: Path, schema: str = "build"
) -> Path:
    """`report_dir/validation.html`: one row per expectation, in words finance reads."""
    report_dir.mkdir(parents=True, exist_ok=True)
    cursor = con.execute(
        f"select * from {schema}.{RESULTS_TABLE} where period = ? "
        "order by case status when 'failed' then 0 when 'skipped' then 2 else 1 end, "
        "suite, check_name, expectation, column_name",
        [period],
    )
    names = [d[0] for d in cursor.description]
    records = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    counts = {
        s: sum(1 for r in records if r["status"] == s) for s in ("passed", "failed", "skipped")
    }
    stopping = any(r["action"] == "run_failed" for r in records)
    verdict = (
        "FAILED: not published"
        if stopping
        else "invoices held by validation"
        if counts["failed"]
        else "all checks passed"
    )
    body = []
    for r in records:
        body.append(
            "<tr class='{status}'><td>{suite}</td><td>{check}</td><td>{what}</td>"
            "<td>{table}</td><td>{status}</td><td class='n'>{n}</td><td class='n'>{bad}</td>"
            "<td>{action}</td><td>{examples}</td><td>{held}</td></tr>".format(
                status=html.escape(r["status"]),
                suite=html.escape(r["suite"] or ""),
                check=html.escape(r["check_name"] or ""),
                what=html.escape(r["description"] or "")
                + (f"<br><small>{html.escape(r['details'])}</small>" if r["details"] else ""),
                table=html.escape(".".join(x for x in (r["table_name"], r["column_name"]) if x)),
                n=r["element_count"] or 0,
                bad=r["unexpected_count"] or 0,
                action=html.escape(r["action"] or ""),
                examples=html.escape(r["examples"] or ""),
                held=html.escape(
                    some((r["attributed_invoices"] or "").split(", "), 10)
                    if r["attributed_invoices"]
                    else ""
                ),
            )
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Validation {html.escape(period)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; width: 100%; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }}
th {{ background: #f0f0f0; }} td.n {{ text-align: right; }}
tr.failed {{ background: #fde2e2; }} tr.skipped {{ color: #777; }}
</style></head><body>
<h1>Validation of the {html.escape(period)} close: {html.escape(verdict)}</h1>
<p>{counts["passed"]} passed, {counts["failed"]} failed, {counts["skipped"]} skipped
(skipped: the table is not in this build). A failure pinned on invoices holds them (computed, shown,
not issued); a failure that cannot be pinned on an invoice stops the close before publish.
See docs/validation.md.</p>
<table><thead><tr><th>suite</th><th>check</th><th>what it checks</th><th>table.column</th>
<th>result</th><th>rows checked</th><th>rows failing</th><th>action</th><th>examples</th>
<th>invoices held</th></tr></thead><tbody>
{chr(10).join(body)}
</tbody></table></body></html>
"""
    path = report_dir / "validation.html"
    path.write_text(page, encoding="utf-8")
    return path

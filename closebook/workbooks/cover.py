"""The Cover sheet every workbook opens on: what was closed, from what, how it went."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import PurePath

import xlsxwriter.workbook

from .formats import DATE_FORMAT, DATETIME_FORMAT, HIGHLIGHT, Formats
from .sheets import Date, Number, Text, set_print_setup, write_cell
from .warehouse import CoverFacts, RunInfo

COVER_SHEET = "Cover"
INPUT_HEADERS = (
    "Input file",
    "Format",
    "Rows read",
    "Accepted",
    "Duplicates",
    "Rejected",
    "Bytes",
    "SHA-256",
)


def document_properties(title: str, run_info: RunInfo) -> dict[str, object]:
    """Workbook properties; `created` is the run's start so output is reproducible."""
    created = run_info.run_started_at
    if created.tzinfo is not None:
        created = created.astimezone(dt.UTC).replace(tzinfo=None)
    return {
        "title": f"{title} {run_info.period}",
        "subject": f"closebook close of {run_info.period}",
        "author": "closebook",
        "company": "closebook",
        "category": "Billing close",
        "keywords": f"closebook, {run_info.period}",
        "comments": f"Validation: {run_info.validation_status}",
        "created": created,
    }


def write_cover(
    workbook: xlsxwriter.workbook.Workbook,
    fmts: Formats,
    title: str,
    run_info: RunInfo,
    facts: CoverFacts,
    notes: Sequence[str] = (),
) -> None:
    """Write the Cover: period, run time, as-of, validation, counts, notes, input files."""
    ws = workbook.add_worksheet(COVER_SHEET)
    ws.set_column(0, 0, 26)
    ws.set_column(1, 1, 22)
    ws.set_column(2, 6, 12)
    ws.set_column(7, 7, 68)
    set_print_setup(ws, fmts.paper, repeat_header=False, width=26 + 22 + 5 * 12 + 68)
    ws.hide_gridlines(2)

    row = 0
    write_cell(ws, row, 0, Text(f"{title}: {run_info.period}", fmts.title()))
    row += 2
    validation_fmt = fmts.text() if run_info.validation_status == "passed" else fmts.warning()
    left = {"align": "left", "valign": "top"}
    count_fmt = fmts.custom(num_format="#,##0", **left)
    held_fmt = fmts.custom(num_format="#,##0", bold=True, **left, **HIGHLIGHT)
    facts_rows: list[tuple[str, Text | Number | Date]] = [
        ("Period", Text(run_info.period, fmts.text())),
        (
            "Run started (UTC)",
            Date(run_info.run_started_at, fmts.custom(num_format=DATETIME_FORMAT, **left)),
        ),
        ("Payments as of", Date(run_info.as_of, fmts.custom(num_format=DATE_FORMAT, **left))),
        ("Validation", Text(run_info.validation_status, validation_fmt)),
        ("Invoices issued", Number(facts.invoices_issued, count_fmt)),
        (
            "Invoices held (not issued)",
            Number(facts.invoices_held, held_fmt if facts.invoices_held else count_fmt),
        ),
        (
            "Rejected input rows",
            Number(facts.rejected_rows, held_fmt if facts.rejected_rows else count_fmt),
        ),
    ]
    if run_info.report_link:
        facts_rows.append(("Close report", Text(run_info.report_link, fmts.text())))
    for label, cell in facts_rows:
        write_cell(ws, row, 0, Text(label, fmts.label()))
        write_cell(ws, row, 1, cell)
        row += 1

    row += 1
    standard_notes = [
        "All times are UTC. Amounts in different currencies are never added together.",
        "Totals are live formulas over the rows beside them; each stores its value too.",
    ]
    for note in [*notes, *standard_notes]:
        write_cell(ws, row, 0, Text(note, fmts.note()))
        row += 1

    row += 1
    for col, header in enumerate(INPUT_HEADERS):
        write_cell(ws, row, col, Text(header, fmts.header(2 <= col <= 6)))
    row += 1
    if not facts.input_files:
        write_cell(ws, row, 0, Text("No input files recorded for this period.", fmts.note()))
    for item in facts.input_files:
        name = PurePath(item["path"]).name if item.get("path") else item.get("file")
        cells = [
            Text(name, fmts.text()),
            Text(item.get("format"), fmts.text()),
            Number(item.get("rows_read"), fmts.integer()),
            Number(item.get("accepted"), fmts.integer()),
            Number(item.get("duplicates"), fmts.integer()),
            Number(item.get("rejected"), fmts.integer()),
            Number(item.get("bytes"), fmts.integer()),
            Text(item.get("sha256"), fmts.custom(font_name="Courier New", indent=1)),
        ]
        for col, cell in enumerate(cells):
            write_cell(ws, row, col, cell)
        row += 1

#!/usr/bin/env python
"""Render the first page(s) of each workbook of a period to PNG, to look at them.

    python scripts/render_workbooks.py --period 2026-10 [--reports reports] [--pages 2]
    python scripts/render_workbooks.py --demo          # the test fixture's workbooks

LibreOffice (recalculating, headless) prints each workbook to PDF, then
`pdftoppm -png -r 80` turns its first page(s) into reports/<period>/png/.
Needs scripts/install_libreoffice.sh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from closebook.workbooks import RunInfo, write_workbooks  # noqa: E402
from closebook.workbooks.libreoffice import convert  # noqa: E402

NAMES = ("invoices", "overage", "prepaid", "reconciliation")


def render(folder: Path, pages: int) -> list[Path]:
    """PDF and PNG pages of every workbook in `folder`, written to `folder/png`."""
    if shutil.which("pdftoppm") is None:
        raise SystemExit("pdftoppm not found: run scripts/install_libreoffice.sh")
    workbooks = [folder / f"{name}.xlsx" for name in NAMES if (folder / f"{name}.xlsx").exists()]
    if not workbooks:
        raise SystemExit(f"no workbooks in {folder}")
    out = folder / "png"
    pdfs = convert(workbooks, out, "pdf")
    images = []
    for pdf in pdfs:
        prefix = out / pdf.stem
        command = ["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", str(pages)]
        if pages == 1:
            command.append("-singlefile")
        subprocess.run([*command, str(pdf), str(prefix)], check=True)
        images += sorted(out.glob(f"{pdf.stem}*.png"))
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--period", help="YYYY-MM")
    parser.add_argument("--reports", type=Path, default=ROOT / "reports")
    parser.add_argument("--pages", type=int, default=1, help="pages per workbook (default 1)")
    parser.add_argument(
        "--demo", action="store_true", help="write the test fixture's workbooks first"
    )
    args = parser.parse_args()
    period = args.period
    if args.demo:
        from tests.workbook_fixtures import PERIOD, build_warehouse

        period = PERIOD
        run = RunInfo(PERIOD, dt.datetime(2026, 11, 22, 8, 30), dt.date(2027, 2, 15), "passed")
        write_workbooks(build_warehouse(), PERIOD, args.reports, run)
    if not period:
        parser.error("--period is required (or --demo)")
    for image in render(args.reports / period, args.pages):
        print(image)


if __name__ == "__main__":
    main()

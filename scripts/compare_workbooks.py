"""Write the four workbooks with two source trees and compare them part by part.

Why: a change that only makes the workbooks faster must leave every byte an
accountant sees as it was. This writes the workbooks of one warehouse period
with each tree's `closebook` (a child process per tree, so each imports its
own code) from the same fixed run information, then compares every part of
every workbook (sheets, styles, workbook.xml, charts, ...). The only part
masked is docProps/core.xml's dates; the Cover's run timestamp is the fixed
`--run-started` for both trees, so it must match too.

    # the reference, once, from a checkout of main:
    git worktree add .bench/main main   # a checkout of main, in the ignored .bench/
    python scripts/compare_workbooks.py write --tree .bench/main --warehouse W.duckdb \\
        --period 2026-10 --out .bench/wb-ref
    # this tree's workbooks, and the comparison:
    python scripts/compare_workbooks.py write --tree . --warehouse W.duckdb \\
        --period 2026-10 --out .bench/wb-new
    python scripts/compare_workbooks.py compare .bench/wb-ref .bench/wb-new

`compare` exits 1 and names each differing part (with the first differing
byte offset) when any part differs. The warehouse is opened read-only.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

# docProps/core.xml carries the workbook's created/modified dates: run metadata.
_CORE_DATES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")

_WRITER = """
import datetime as dt, json, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import duckdb
from closebook.workbooks import WORKBOOKS
from closebook.workbooks.warehouse import RunInfo
args = json.loads(sys.argv[2])
con = duckdb.connect(args["warehouse"], read_only=True)
con.execute("set TimeZone = 'UTC'")
con.execute("set threads = 1")
con.execute("set enable_progress_bar = false")
run_info = RunInfo(
    period=args["period"],
    run_started_at=dt.datetime.fromisoformat(args["run_started"]),
    as_of=dt.date.fromisoformat(args["as_of"]),
    validation_status="passed",
)
for name in args["names"]:
    started = time.perf_counter()
    WORKBOOKS[name](con, args["period"], Path(args["out"]) / f"{name}.xlsx", run_info)
    print(f"{name}: {time.perf_counter() - started:.2f} s", flush=True)
"""


def write(args: argparse.Namespace) -> int:
    """Write the workbooks with the closebook of `--tree`, in a child process."""
    tree = Path(args.tree).resolve()
    if not (tree / "closebook" / "workbooks").is_dir():
        print(f"not a closebook tree: {tree}", file=sys.stderr)
        return 1
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "warehouse": str(Path(args.warehouse).resolve()),
        "period": args.period,
        "out": str(out),
        "run_started": args.run_started,
        "as_of": args.as_of,
        "names": args.names or ["invoices", "overage", "prepaid", "reconciliation"],
    }
    command = [sys.executable, "-c", _WRITER, str(tree), json.dumps(settings)]
    return subprocess.run(command, check=False).returncode


def _normalised(name: str, data: bytes) -> bytes:
    if name == "docProps/core.xml":
        return _CORE_DATES.sub(rb"\1-\2", data)
    return data


def compare_books(reference: Path, candidate: Path) -> list[str]:
    """Differences between two workbooks, one line each (empty when equal)."""
    problems = []
    with zipfile.ZipFile(reference) as ref, zipfile.ZipFile(candidate) as new:
        ref_names, new_names = ref.namelist(), new.namelist()
        if ref_names != new_names:
            changed = sorted(set(ref_names) ^ set(new_names))
            problems.append(f"{candidate.name}: parts differ: {changed}")
        for name in ref_names:
            if name not in new_names:
                continue
            a, b = _normalised(name, ref.read(name)), _normalised(name, new.read(name))
            if a != b:
                offset = next(
                    (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                    min(len(a), len(b)),
                )
                around = slice(max(0, offset - 60), offset + 60)
                problems.append(
                    f"{candidate.name}: {name} differs at byte {offset}: "
                    f"{a[around]!r} vs {b[around]!r}"
                )
    return problems


def compare(args: argparse.Namespace) -> int:
    """Compare every workbook of the reference folder with the candidate's."""
    reference, candidate = Path(args.reference), Path(args.candidate)
    books = sorted(reference.glob("*.xlsx"))
    if not books:
        print(f"no workbooks in {reference}", file=sys.stderr)
        return 1
    problems = []
    for book in books:
        other = candidate / book.name
        if not other.exists():
            problems.append(f"{book.name}: missing from {candidate}")
            continue
        found = compare_books(book, other)
        parts = len(zipfile.ZipFile(book).namelist())
        print(f"{book.name}: {parts} parts, {'identical' if not found else 'DIFFERENT'}")
        problems += found
    for problem in problems:
        print(problem)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    writer = commands.add_parser("write", help="write the workbooks with a tree's closebook")
    writer.add_argument("--tree", required=True, help="a closebook checkout (its root folder)")
    writer.add_argument("--warehouse", required=True, help="a published warehouse (read-only)")
    writer.add_argument("--period", required=True)
    writer.add_argument("--out", required=True, help="folder for the four workbooks")
    writer.add_argument("--run-started", default="2026-11-20T06:00:00+00:00")
    writer.add_argument("--as-of", default="2026-11-20")
    writer.add_argument("names", nargs="*", help="workbooks to write (default: all four)")
    comparer = commands.add_parser("compare", help="compare two folders of workbooks")
    comparer.add_argument("reference")
    comparer.add_argument("candidate")
    args = parser.parse_args(argv)
    return write(args) if args.command == "write" else compare(args)


if __name__ == "__main__":
    sys.exit(main())

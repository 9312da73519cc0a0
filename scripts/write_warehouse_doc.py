"""Write docs/warehouse.md from the declared warehouse schema (closebook/warehouse_schema.py).

.venv/bin/python scripts/write_warehouse_doc.py          # write it
.venv/bin/python scripts/write_warehouse_doc.py --check  # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from closebook.warehouse_doc import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "warehouse.md"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if DOC.read_text() != text:
            print(f"{DOC} is stale: run scripts/write_warehouse_doc.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

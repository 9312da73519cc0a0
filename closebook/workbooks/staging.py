"""The four workbooks of a period change together, or not at all.

A close writes its workbooks into a staging folder beside the period's folder
(same file system, so a move is a rename), checks them there, and only then
moves them in: each old workbook is first moved aside, and if any move fails
the ones already moved are put back. A killed close leaves at most its staging
folder, which the next close of the period removes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

STAGING_PREFIX = ".closebook-staging-"


def staging_folder(reports_dir: Path, period: str) -> Path:
    """Where this process stages the period's workbooks (`<reports>/<staging>/<period>/`)."""
    return Path(reports_dir) / f"{STAGING_PREFIX}{period}-{os.getpid()}"


def remove_stale(reports_dir: Path, period: str) -> None:
    """Staging folders and half-written temporary workbooks that killed closes left behind.

    Only closebook's own names are touched. One close at a time holds a warehouse,
    so a staging folder of this period is never another running close's.
    """
    reports_dir = Path(reports_dir)
    if reports_dir.is_dir():
        for stale in reports_dir.glob(f"{STAGING_PREFIX}{period}-*"):
            shutil.rmtree(stale, ignore_errors=True)
    folder = reports_dir / period
    if folder.is_dir():
        for tmp in folder.glob(".*.xlsx.tmp"):
            tmp.unlink(missing_ok=True)


def swap_in(staged: list[Path], folder: Path, aside: Path) -> list[Path]:
    """Move every staged workbook into `folder`, all or none.

    The workbook each replaces is first moved into `aside`; when a move fails,
    every workbook already replaced is put back and the error is raised.
    """
    folder.mkdir(parents=True, exist_ok=True)
    aside.mkdir(parents=True, exist_ok=True)
    done: list[tuple[Path, Path | None]] = []
    try:
        for source in staged:
            target = folder / source.name
            kept = None
            if target.exists():
                kept = aside / source.name
                os.replace(target, kept)
            done.append((target, kept))
            os.replace(source, target)
    except OSError:
        for target, kept in reversed(done):
            if kept is not None:
                os.replace(kept, target)
            else:
                target.unlink(missing_ok=True)
        raise
    return [folder / source.name for source in staged]

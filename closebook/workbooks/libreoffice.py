"""Headless LibreOffice: recalculate workbooks and convert them (xlsx, pdf).

LibreOffice normally shows the values stored in an .xlsx without
recalculating. To check that our formulas, not just our stored values, give
the warehouse's numbers, we run it with a throw-away profile whose
`OOXMLRecalcMode` is 0 ("always recalculate on load") and save the result:
the saved values are LibreOffice's own. One soffice process converts all the
files, as it takes seconds to start.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

RECALC_ALWAYS = 0
PROFILE_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry"
           xmlns:xs="http://www.w3.org/2001/XMLSchema"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>{mode}</value></prop>
</item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">
  <prop oor:name="ODFRecalcMode" oor:op="fuse"><value>{mode}</value></prop>
</item>
</oor:items>
"""


class LibreOfficeError(RuntimeError):
    """soffice failed or did not write the expected file."""


def soffice_path() -> str | None:
    """The soffice binary on PATH, or None when LibreOffice is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def make_profile(directory: Path, recalc_mode: int = RECALC_ALWAYS) -> str:
    """Create a LibreOffice user profile that recalculates on load; return its URL."""
    user = directory / "user"
    user.mkdir(parents=True, exist_ok=True)
    (user / "registrymodifications.xcu").write_text(
        PROFILE_XCU.format(mode=recalc_mode), encoding="utf-8"
    )
    return directory.resolve().as_uri()


def convert(
    files: Sequence[Path], outdir: Path, to: str = "xlsx", timeout: float = 600
) -> list[Path]:
    """Open `files` in one headless soffice (recalculating) and save them as `to` in `outdir`.

    `to` is a LibreOffice --convert-to target such as "xlsx" or "pdf".
    Returns the written paths, in the order of `files`.
    """
    soffice = soffice_path()
    if soffice is None:
        raise LibreOfficeError("soffice not found: run scripts/install_libreoffice.sh")
    outdir.mkdir(parents=True, exist_ok=True)
    extension = to.split(":", 1)[0]
    with tempfile.TemporaryDirectory(prefix="closebook-lo-") as profile_dir:
        command = [
            soffice,
            f"-env:UserInstallation={make_profile(Path(profile_dir))}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--convert-to",
            to,
            "--outdir",
            str(outdir),
            *[str(path) for path in files],
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    outputs = [outdir / f"{Path(path).stem}.{extension}" for path in files]
    missing = [str(path) for path in outputs if not path.exists()]
    if result.returncode != 0 or missing:
        raise LibreOfficeError(
            f"soffice exited {result.returncode}; missing {missing}; "
            f"stderr: {result.stderr.strip()[-500:]}"
        )
    return outputs


def recalculate(files: Sequence[Path], outdir: Path, timeout: float = 600) -> list[Path]:
    """Recalculate workbooks in LibreOffice and save them as .xlsx in `outdir`."""
    return convert(files, outdir, "xlsx", timeout)

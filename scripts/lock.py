"""Regenerate requirements.lock and requirements-dev.lock from pyproject.toml.

Why a script: a lock is only as good as the way it is made. This one installs
the package into a throw-away venv exactly as a user would (`pip install .`),
freezes what that pulled in as the runtime lock, then adds the `dev` extra and
freezes the difference as the development lock. The locks' header comments and
the comment on any pinned line (why that exact version) are kept.

    .venv/bin/python scripts/lock.py            # today's versions kept, new needs added
    .venv/bin/python scripts/lock.py --upgrade  # newest versions the bounds allow

Needs `python3.11` on PATH (or --python). Takes a few minutes.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ROOT / "requirements.lock"
DEV = ROOT / "requirements-dev.lock"


def _name(line: str) -> str:
    return re.split(r"[=<>!~ ;\[]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _notes(lock: Path) -> tuple[list[str], dict[str, str]]:
    """The lock's header comment lines, and each package's trailing comment."""
    if not lock.exists():
        return [], {}
    lines = lock.read_text().splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    comments = {
        _name(line): line.split("#", 1)[1].strip()
        for line in lines
        if line and not line.startswith("#") and "#" in line
    }
    return header, comments


def _write(lock: Path, pins: list[str]) -> None:
    header, comments = _notes(lock)
    body = [
        f"{pin}  # {comments[_name(pin)]}" if _name(pin) in comments else pin
        for pin in sorted(pins, key=_name)
    ]
    lock.write_text("\n".join([*header, *body]) + "\n")


def _freeze(pip: list[str]) -> list[str]:
    out = subprocess.run(
        [*pip, "freeze", "--exclude", "closebook"], check=True, capture_output=True, text=True
    ).stdout
    return [line for line in out.splitlines() if line and not line.startswith("#")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="take the newest allowed versions")
    parser.add_argument("--python", default="python3.11", help="interpreter to build the venv")
    args = parser.parse_args()
    constraints = [] if args.upgrade else [f"-c{RUNTIME}", f"-c{DEV}"]
    constraints = [c for c in constraints if Path(c[2:]).exists()]
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([args.python, "-m", "venv", work], check=True)
        pip = [str(Path(work) / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
        subprocess.run([*pip, "install", "--quiet", *constraints, str(ROOT)], check=True)
        runtime = _freeze(pip)
        # the dev lock holds the `dask` extra too: the sharded-close tests need it
        subprocess.run([*pip, "install", "--quiet", *constraints, f"{ROOT}[dev,dask]"], check=True)
        everything = _freeze(pip)
    runtime_names = {_name(pin) for pin in runtime}
    _write(RUNTIME, runtime)
    _write(DEV, [pin for pin in everything if _name(pin) not in runtime_names])
    print(f"{RUNTIME.name}: {len(runtime)} pins; {DEV.name}: {len(everything) - len(runtime)} pins")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

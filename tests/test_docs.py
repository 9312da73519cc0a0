"""Docs that cannot drift: commands have help, tables and models are documented."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from closebook.cli import build_parser
from closebook.models import LAYERS, SQL_DIR, discover_models, mart_names

ROOT = Path(__file__).resolve().parent.parent


def _commands() -> list[str]:
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(subparsers.choices)


def test_the_cli_commands_are_the_documented_ones():
    assert _commands() == ["close", "models", "serve"]


@pytest.mark.parametrize("command", _commands())
def test_every_cli_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: closebook {command}")
    assert len(out.splitlines()) > 3


def test_every_warehouse_table_is_documented():
    architecture = (ROOT / "docs" / "architecture.md").read_text()
    warehouse = (ROOT / "docs" / "warehouse.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for table in mart_names():
        assert f"| `{table}` |" in architecture, f"{table} missing from docs/architecture.md"
        assert f"### `{table}`" in warehouse, f"{table} missing from docs/warehouse.md"
        assert f"`{table}`" in readme, f"{table} missing from README.md"


def test_every_model_states_its_name_and_grain():
    for model in discover_models():
        header = model.sql.lstrip().splitlines()[0]
        assert header.startswith(f"-- {model.name}:"), f"{model.path} header names another model"
        head = " ".join(line for line in model.sql.splitlines() if line.startswith("--"))
        assert re.search(r"one row per|one row$|one row\b", head), f"{model.path}: no grain"
        assert model.sql.rstrip().endswith("select * from final"), f"{model.path}: no final select"


def test_models_live_in_the_three_layers_only():
    # views/ holds the analyst views' queries (over main), which are not build models
    stray = [
        p
        for p in SQL_DIR.rglob("*.sql")
        if p.parent.name not in (*LAYERS, "views") and p.name != "macros.sql"
    ]
    assert stray == []


def test_readme_commands_are_make_targets():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in set(re.findall(r"make ([a-z-]+)", readme)):
        assert re.search(rf"^{target}:", makefile, re.M), f"README mentions make {target}"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_nothing_in_the_repository_points_outside_it():
    # The billing rules live in docs/billing-rules.md; no file may lean on a contract
    # kept beside the repository (a fresh clone would not have it).
    # (the needle is built so this file does not match itself)
    needle = "shared" + "/"
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_files()
        if path.is_file() and needle in path.read_text(encoding="utf-8", errors="ignore")
    ]
    assert offenders == []


def test_the_billing_rules_have_every_section_the_code_cites():
    rules = (ROOT / "docs" / "billing-rules.md").read_text()
    headings = set(re.findall(r"^#+ (§[\d.]+)", rules, re.M))
    assert {"§1", "§2", "§2.1", "§2.2", "§2.3", "§2.4", "§3", "§3.1", "§4", "§5"} <= headings
    cited = set()
    for path in _tracked_files():
        if path.suffix in {".py", ".sql", ".md"} and path.is_file():
            cited |= set(re.findall(r"§(\d(?:\.\d)?)", path.read_text(encoding="utf-8")))
    assert {f"§{number}" for number in cited} <= headings

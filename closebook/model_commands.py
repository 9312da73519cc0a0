"""`closebook models`: the model graph for an analyst working on the SQL.

Listing shows what the runner will do (run order, and what each model reads),
so a new model's place in the graph can be checked without a close. Building
one model reruns it and everything upstream of it on the inputs of the
warehouse's last close, so an edited `.sql` file can be tried in seconds. It
writes the `build` schema only (the last close's scratch tables); the published
tables in `main` are never touched.
"""

from __future__ import annotations

import sys
from pathlib import Path

from closebook.engine import open_warehouse
from closebook.locking import WarehouseBusy, warehouse_lock
from closebook.models import Model, discover_models, prepare_session, run_models, upstream
from closebook.publish import table_exists

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def list_models(models: list[Model] | None = None) -> list[str]:
    """One line per model in run order: position, layer/name, the models and inputs it reads."""
    models = discover_models() if models is None else models
    width = max(len(f"{m.layer}/{m.name}") for m in models)
    lines = [f"{'#':>3}  {'model':<{width}}  reads"]
    for number, model in enumerate(models, start=1):
        reads = [*model.depends_on, *(f"[{source}]" for source in model.sources)]
        lines.append(
            f"{number:>3}  {model.layer + '/' + model.name:<{width}}  {', '.join(reads) or '-'}"
        )
    lines.append("[name]: not a model (written by the loader, or the close's parameters)")
    return lines


def build_one(name: str, warehouse: Path) -> int:
    """Rebuild model `name` and its upstream in `warehouse`'s build schema; an exit code."""
    models = discover_models()
    if name not in {model.name for model in models}:
        return _error(f"no model named '{name}' (`closebook models` lists them)", EXIT_USAGE)
    if not warehouse.exists():
        return _error(f"warehouse {warehouse} does not exist: run `closebook close` first")
    plan = upstream(models, name)
    try:
        with warehouse_lock(warehouse):
            con = open_warehouse(warehouse)
            try:
                if not (
                    table_exists(con, "build", "close_params")
                    and table_exists(con, "build", "raw_accounts")
                ):
                    return _error(
                        f"warehouse {warehouse} holds no loaded exports (no close has run "
                        "on it): run `closebook close` first"
                    )
                period = con.execute("select period from build.close_params").fetchone()[0]
                prepare_session(con)
                run_models(con, plan)
                count = con.execute(f"select count(*) from build.{name}").fetchone()[0]
            finally:
                con.close()
    except (WarehouseBusy, RuntimeError) as error:
        return _error(str(error))
    print(f"built {len(plan)} models in {warehouse} (schema build) from the close of {period}:")
    print("  " + ", ".join(model.name for model in plan))
    print(f"build.{name}: {count:,} rows")
    return EXIT_OK


def _error(message: str, code: int = EXIT_FAILED) -> int:
    print(f"closebook: error: {message}", file=sys.stderr)
    return code

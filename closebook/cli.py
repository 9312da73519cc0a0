"""`closebook`: the command finance runs. Contract §5 sets its options and exit codes.

Exit 0: every invoice issued and no input row rejected. Exit 3: the close
finished with held invoices or rejected rows. Exit 1 (one line on stderr):
the close could not finish, and the warehouse keeps what it had. Exit 2: the
command line itself is wrong.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import traceback
from datetime import date
from pathlib import Path

from closebook.settings import apply_defaults

DEFAULT_WAREHOUSE = Path("data/warehouse.duckdb")
DEFAULT_REPORTS = Path("reports")


def _period(text: str) -> str:
    from closebook.models import ClosePeriod, PeriodError

    try:
        return ClosePeriod.parse(text).period
    except PeriodError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date written YYYY-MM-DD") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="closebook",
        description="Close a month of usage billing: exports in, invoices and workbooks out.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    close = commands.add_parser(
        "close",
        help="close one month (runs the Prefect flow)",
        description="Load the exports of DIR, compute every invoice of the period, validate, "
        "write the warehouse and the workbooks. Exit 0: all issued, nothing rejected; "
        "3: held invoices or rejected rows; 1: could not finish (one-line error).",
    )
    close.add_argument("--period", required=True, type=_period, help="month to close, YYYY-MM")
    close.add_argument("--input", required=True, type=Path, metavar="DIR", help="export folder")
    close.add_argument(
        "--warehouse", type=Path, default=DEFAULT_WAREHOUSE, help="DuckDB file (%(default)s)"
    )
    close.add_argument(
        "--reports", type=Path, default=DEFAULT_REPORTS, help="workbook folder (%(default)s)"
    )
    close.add_argument(
        "--as-of", type=_date, default=None, help="reconciliation date, YYYY-MM-DD (today)"
    )
    close.add_argument(
        "--paper", choices=("letter", "a4"), default="letter", help="workbook paper size (letter)"
    )
    close.add_argument(
        "--no-prefect",
        action="store_true",
        help="run the same steps without Prefect (no run history; for quick local checks)",
    )

    models = commands.add_parser(
        "models",
        help="list the SQL models in run order, or build one and what it needs",
        description="Without --build: every model of sql/ in the order a close runs them, "
        "with the models each one reads (parsed from its SQL) and its other inputs. "
        "With --build NAME: rebuild NAME and every model upstream of it as build.<name> in "
        "the warehouse, from the exports and period of the warehouse's last close "
        "(for working on one model's SQL without a whole close).",
    )
    models.add_argument("--build", metavar="NAME", help="model to rebuild with its upstream")
    models.add_argument(
        "--warehouse",
        type=Path,
        default=DEFAULT_WAREHOUSE,
        help="DuckDB file whose last close to build from (%(default)s)",
    )

    serve = commands.add_parser(
        "serve",
        help="serve the monthly close on a schedule (the 3rd of each month)",
        description="Serve the flow as a Prefect deployment that runs at 06:00 UTC on the 3rd "
        "of each month (cron '0 6 3 * *') and closes the previous month. Needs a Prefect API "
        "(e.g. `prefect server start`).",
    )
    serve.add_argument("--input", required=True, type=Path, metavar="DIR")
    serve.add_argument("--warehouse", type=Path, default=DEFAULT_WAREHOUSE)
    serve.add_argument("--reports", type=Path, default=DEFAULT_REPORTS)
    return parser


def _forget(error: BaseException) -> None:
    """Drop the frames an exception keeps alive (Prefect holds on to it): the DuckDB
    connection in them would otherwise outlive the interpreter, and DuckDB's binding
    prints a page of leak warnings under the one-line error."""
    while error is not None:
        traceback.clear_frames(error.__traceback__)
        error = error.__cause__ or error.__context__
    gc.collect()


def _close(args: argparse.Namespace) -> int:
    # Finance reads the summary or the one-line error; Prefect's own console log of a
    # failed task (a traceback, twice) stays in the run's log in the Prefect UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from closebook.loading import LoadError
    from closebook.locking import WarehouseBusy
    from closebook.pipeline import EXIT_FAILED, CloseFailed

    try:
        if args.no_prefect:
            from closebook.pipeline import close_period

            result = close_period(
                args.period, args.input, args.warehouse, args.reports, args.as_of, args.paper
            )
        else:
            from closebook.flows.close_flow import close_flow

            result = close_flow(
                period=args.period,
                input_dir=str(args.input),
                warehouse=str(args.warehouse),
                reports_dir=str(args.reports),
                as_of=args.as_of.isoformat() if args.as_of else None,
                paper=args.paper,
            )
    except (LoadError, CloseFailed, WarehouseBusy) as error:
        print(f"closebook: error: {error}", file=sys.stderr)
        _forget(error)
        return EXIT_FAILED
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, whatever broke
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        print(f"closebook: error: {type(error).__name__}: {first}", file=sys.stderr)
        _forget(error)
        return EXIT_FAILED
    print("\n".join(result.summary_lines()))
    return result.exit_code


def _models(args: argparse.Namespace) -> int:
    from closebook.model_commands import build_one, list_models

    if args.build is None:
        print("\n".join(list_models()))
        return 0
    return build_one(args.build, args.warehouse)


def _serve(args: argparse.Namespace) -> int:
    from prefect import serve

    from closebook.flows.close_flow import monthly_deployment

    serve(monthly_deployment(str(args.input), str(args.warehouse), str(args.reports)))
    return 0


def main(argv: list[str] | None = None) -> int:
    apply_defaults()
    args = build_parser().parse_args(argv)
    handlers = {"close": _close, "models": _models, "serve": _serve}
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

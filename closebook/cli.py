"""`closebook`: the command finance runs. Contract §5 sets its options and exit codes.

Exit 0: every invoice issued and no input row rejected. Exit 3: the close
finished with held invoices or rejected rows. Exit 1 (one line on stderr):
the close could not finish, and the warehouse keeps what it had. Exit 2: the
command line itself is wrong.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import os
import signal
import sys
import threading
import traceback
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from closebook.settings import apply_defaults

if TYPE_CHECKING:
    from closebook.progress import Reporter

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


def _memory_limit(text: str) -> str:
    from closebook.engine import MemoryLimitError, memory_limit_bytes

    try:
        memory_limit_bytes(text)
    except MemoryLimitError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of at least 1")
    return int(text)


def _check_sharding(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--shards and the cluster options go together (Dask runs through Prefect)."""
    if getattr(args, "command", None) != "close":
        return
    on_dask = args.dask_scheduler or args.dask_local
    if on_dask and not args.shards:
        parser.error("--dask-scheduler and --dask-local need --shards N")
    if on_dask and args.no_prefect:
        parser.error("--dask-scheduler and --dask-local run through Prefect: drop --no-prefect")
    if args.shards and not on_dask and not args.no_prefect:
        parser.error("--shards needs a cluster: --dask-scheduler ADDRESS or --dask-local N")
    if args.shards and args.through:
        parser.error("--shards closes one month: drop --through")


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
        "--through",
        type=_period,
        default=None,
        metavar="YYYY-MM",
        help="backfill: close every month from --period through this one, in order, in one "
        "run; a month that fails stops the run and the months before it stay closed",
    )
    close.add_argument(
        "--progress",
        action="store_true",
        help="one line per step on stderr as it finishes (the default when stderr is a terminal)",
    )
    close.add_argument(
        "--memory-limit",
        type=_memory_limit,
        default=None,
        metavar="SIZE",
        help="memory budget, e.g. 4GiB or 50%% of RAM (default 50%%); past it the close "
        "spills to a folder beside the warehouse instead of running out of memory",
    )
    close.add_argument(
        "--paper", choices=("letter", "a4"), default="letter", help="workbook paper size (letter)"
    )
    close.add_argument(
        "--no-prefect",
        action="store_true",
        help="run the same steps without Prefect (no run history; for quick local checks)",
    )
    # Scale-out (docs/scale-out.md): the billing split into shards by account, on Dask.
    close.add_argument(
        "--shards",
        type=_positive,
        metavar="N",
        help="bill the accounts in N shards on a Dask cluster (needs --dask-scheduler or "
        "--dask-local; with --no-prefect, one shard after another in this process)",
    )
    cluster = close.add_mutually_exclusive_group()
    cluster.add_argument(
        "--dask-scheduler", metavar="ADDRESS", help="an existing Dask cluster, tcp://host:8786"
    )
    cluster.add_argument(
        "--dask-local",
        type=_positive,
        metavar="N",
        help="a Dask LocalCluster of N worker processes on this machine",
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
        "(e.g. `prefect server start`). Paths are stored absolute; the bundled sample is "
        "refused; one run at a time (a second one waits).",
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


def _terminate_on_sigterm() -> None:
    """SIGTERM exits like Ctrl-C would, so the temporary Prefect server is stopped
    and the warehouse lock released on the way out (Python's default dies at once)."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _close(args: argparse.Namespace) -> int:
    # Finance reads the summary or the one-line error; Prefect's own console log of a
    # failed task (a traceback, twice) stays in the run's log in the Prefect UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from closebook import progress
    from closebook.pipeline import failure_exit_code, months_through, one_line_error

    reporter = progress.for_terminal(args.progress)
    try:
        periods = months_through(args.period, args.through or args.period)
        if args.shards:
            return _close_sharded(args)
        if args.no_prefect:
            return _close_without_prefect(args, periods, reporter)
        _terminate_on_sigterm()
        from closebook.flows.temporary_server import owned_server

        with owned_server(while_starting=_import_close), progress.reporting(reporter):
            return _close_with_prefect(args)
    except Exception as error:  # noqa: BLE001 - the CLI promises one line, whatever broke
        print(f"closebook: error: {one_line_error(error)}", file=sys.stderr)
        code = failure_exit_code(error)
        _forget(error)
        return code


def _import_close(sharded: bool = False) -> None:
    """What the flow needs, imported while the temporary Prefect server boots.

    The flow modules and great-expectations (validation's engine: seconds to import)
    would otherwise be imported after the wait, each in series with the close.
    """
    import importlib

    from closebook.validation.gx_runner import import_gx

    flow_module = "closebook.flows.sharded_close" if sharded else "closebook.flows.close_flow"
    importlib.import_module(flow_module)

    import_gx()


def _close_without_prefect(args: argparse.Namespace, periods: list[str], reporter: Reporter) -> int:
    """The same steps as plain functions; a backfill stops at the first month that fails."""
    from closebook.pipeline import CloseResult, close_period, failure_exit_code, one_line_error

    def close(period: str) -> CloseResult:
        return close_period(
            period,
            args.input,
            args.warehouse,
            args.reports,
            args.as_of,
            progress=reporter,
            memory_limit=args.memory_limit,
            paper=args.paper,
        )

    if len(periods) == 1:
        result = close(periods[0])
        print("\n".join(result.summary_lines()))
        return result.exit_code
    worst = 0
    for period in periods:
        try:
            result = close(period)
        except Exception as error:  # noqa: BLE001 - one line, naming the month
            print(f"closebook: error: {period}: {one_line_error(error)}", file=sys.stderr)
            code = failure_exit_code(error)
            _forget(error)
            return code
        print("\n".join(result.summary_lines()), flush=True)
        worst = max(worst, result.exit_code)
    return worst


def _close_with_prefect(args: argparse.Namespace) -> int:
    """One flow run: `monthly-close` for one month, `close-months` for a backfill."""
    from closebook.flows.close_flow import backfill_flow, close_flow
    from closebook.pipeline import EXIT_FAILED

    paths = {
        "input_dir": str(args.input),
        "warehouse": str(args.warehouse),
        "reports_dir": str(args.reports),
        "as_of": args.as_of.isoformat() if args.as_of else None,
        "memory_limit": args.memory_limit,
        "paper": args.paper,
    }
    if args.through is None:
        result = close_flow(period=args.period, **paths)
        print("\n".join(result.summary_lines()))
        return result.exit_code
    state = backfill_flow(period=args.period, through=args.through, **paths, return_state=True)
    backfill = state.result(raise_on_failure=False)
    if isinstance(backfill, BaseException):  # the backfill failed before its first month
        raise backfill
    for result in backfill.results:
        print("\n".join(result.summary_lines()))
    if backfill.error is not None:
        sys.stdout.flush()
        print(f"closebook: error: {backfill.failed_period}: {backfill.error}", file=sys.stderr)
        return EXIT_FAILED
    return backfill.exit_code


def _close_sharded(args: argparse.Namespace) -> int:
    """One month with the billing sharded by account (docs/scale-out.md)."""
    if args.no_prefect:
        from closebook.sharded_pipeline import close_period_sharded

        result = close_period_sharded(
            args.period, args.input, args.warehouse, args.reports, args.as_of, shards=args.shards
        )
    else:
        _terminate_on_sigterm()
        from closebook.flows.temporary_server import owned_server

        with owned_server(while_starting=lambda: _import_close(sharded=True)):
            from closebook.flows.sharded_close import run_sharded_close

            result = run_sharded_close(
                period=args.period,
                input_dir=str(args.input),
                warehouse=str(args.warehouse),
                reports_dir=str(args.reports),
                as_of=args.as_of.isoformat() if args.as_of else None,
                shards=args.shards,
                dask_address=args.dask_scheduler,
                dask_local_workers=args.dask_local,
            )
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
    from closebook.pipeline import EXIT_FAILED, CloseFailed

    try:
        deployment = monthly_deployment(args.input, args.warehouse, args.reports)
    except CloseFailed as error:
        print(f"closebook: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    serve(deployment)
    return 0


def main(argv: list[str] | None = None) -> int:
    apply_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "through", None) and args.through < args.period:
        parser.error(f"--through {args.through} is before --period {args.period}")
    _check_sharding(parser, args)
    handlers = {"close": _close, "models": _models, "serve": _serve}
    return handlers[args.command](args)


def run() -> NoReturn:
    """The `closebook` command: `main`, then an exit without the interpreter's teardown.

    By the time `main` returns, the close has closed its connections, written and
    renamed its files and printed its summary. What a normal exit does next is free
    every module (great-expectations, pandas, Prefect: thousands of them), ~1 s that a
    10k close's user waited for after the summary. So this exit does what matters of
    a normal one (waits for the threads that are not daemons, runs the exit handlers:
    logging's flush, Prefect's), flushes standard output and error, and ends the
    process with `main`'s exit code. An exception (a bad command line's exit 2
    included) leaves the ordinary way.
    """
    code = main()
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    run()

"""`pipeline`: a thin shell over Dagster for the commands in CONTRACT.md.

Every command prints plain lines and ends with exit code 0, or 1 with a one-paragraph
message that says what to fix; no traceback reaches the operator.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Sequence
from datetime import date
from pathlib import Path

DAGSTER_YAML = """\
# Local Dagster instance used by `pipeline run` and `make ui` (see README: Operating it).
telemetry:
  enabled: false
# One run at a time: runs launched from the UI, the schedule or the sensor queue behind
# the one in progress (the warehouse is one DuckDB file with a single writer).
concurrency:
  runs:
    max_concurrent_runs: 1
"""


class UserError(Exception):
    """An error the operator can fix; its message is printed as is."""


def last_complete_month(today: date | None = None) -> date:
    from pipeline.transforms.calendar import add_months, month_start

    return add_months(month_start(today or date.today()), -1)


def parse_month(text: str) -> date:
    try:
        d = date.fromisoformat(text.strip()[:7] + "-01")
    except ValueError:
        raise UserError(f"--month must look like 2024-03 (YYYY-MM); got {text!r}.") from None
    return d


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME, defaulting to .dagster/ in the working directory (what `make ui` serves)."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path.cwd() / ".dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML, encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


# Dagster mirrors a run's stdout and stderr through `tail -F` subprocesses (its compute
# logs). A CLI run prints its own progress from the event log, and those subprocesses
# inherit the terminal or pipe: when one outlives the run, `pipeline run | tee log` (or a
# test capturing the output) waits for it forever. CLI runs keep no compute logs; every
# message of the pipeline is in the run's event log, shown in the UI.
NO_COMPUTE_LOGS = {
    "compute_logs": {
        "module": "dagster._core.storage.noop_compute_log_manager",
        "class": "NoOpComputeLogManager",
        "config": {},
    }
}


def cli_instance(home: Path):
    """The Dagster instance of $DAGSTER_HOME (its dagster.yaml), without compute logs."""
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides=NO_COMPUTE_LOGS))


# ---------------------------------------------------------------- sample


def cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.sample.generator import write_sample
    from pipeline.settings import load_settings

    settings = load_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    end = parse_month(args.end_month) if args.end_month else None
    started = time.perf_counter()
    summary = write_sample(
        out,
        accounts=args.accounts,
        months=args.months,
        seed=args.seed,
        end_month=end,
        reporting_currency=settings.reporting_currency,
    )
    print(f"Wrote a sample landing folder to {out} in {time.perf_counter() - started:.1f}s:")
    for name, rows in sorted(summary.rows.items()):
        print(f"  {name:<18} {rows:>10,} rows")
    broken = sum(summary.broken_rows.values()) if summary.broken_rows else 0
    print(f"  (including {broken} deliberately broken rows in *_zz_broken.csv files)")
    return 0


# ---------------------------------------------------------------- run


def _failure_messages(result) -> list[str]:
    messages = []
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        data = event.step_failure_data
        text = None
        if data.user_failure_data is not None and data.user_failure_data.description:
            text = data.user_failure_data.description
        elif data.error is not None:
            err = data.error
            while err.cause is not None and "DagsterExecutionStepExecutionError" in (err.cls_name or ""):
                err = err.cause
            text = (err.message or "").strip()
        messages.append(f"{event.step_key}: {text or 'failed (see the run in the Dagster UI)'}")
    return messages


def run_month(month: date, select: str | None = None, quiet: bool = False, run_id: str | None = None) -> int:
    """Materialize the month's assets through Dagster, recorded in the local instance;
    fails at once if another run holds the warehouse (its run lock)."""
    from pipeline.resources.warehouse import run_lock
    from pipeline.settings import load_settings

    with run_lock(load_settings().warehouse_path):
        return _run_month(month, select, quiet, run_id)


def _run_month(month: date, select: str | None = None, quiet: bool = False, run_id: str | None = None) -> int:
    from dagster import AssetSelection
    from dagster._core.utils import make_new_run_id

    from pipeline.progress import QUIET_RUN_CONFIG, run_with_progress

    from pipeline.definitions import build_definitions
    from pipeline.jobs import MONTHLY_CLOSE
    from pipeline.settings import load_settings

    settings = load_settings()
    if month < settings.first_month:
        raise UserError(
            f"{month:%Y-%m} is before the first month of partitions ({settings.first_month:%Y-%m}); "
            "set PIPELINE_FIRST_MONTH earlier or pick a later month."
        )
    if month > last_complete_month():
        raise UserError(f"{month:%Y-%m} is not complete yet; the latest month you can run is {last_complete_month():%Y-%m}.")
    home = ensure_dagster_home()
    defs = build_definitions(settings)
    job = defs.resolve_job_def(MONTHLY_CLOSE)
    keys = None
    if select:
        try:
            # Dagster's own parser of "group:..." passes a beta parameter internally.
            warnings.filterwarnings("ignore", message=".*include_sources.*")
            selection = AssetSelection.from_string(select)
            keys = sorted(selection.resolve(defs.resolve_asset_graph()), key=lambda k: k.to_user_string())
        except Exception as exc:  # the selection grammar raises several error types
            raise UserError(
                f"--select {select!r} is not a valid asset selection ({str(exc).splitlines()[0]}). "
                "Examples: 'group:marts', '*marts/account_health', 'key:staging/accounts'."
            ) from None
        if not keys:
            raise UserError(f"--select {select!r} matches no asset.")
    partition_key = month.strftime("%Y-%m-%d")
    if not quiet:
        print(f"Running {MONTHLY_CLOSE} for {month:%Y-%m} (data: {settings.data_dir}, Dagster home: {home})")
    started = time.perf_counter()
    run_id = run_id or make_new_run_id()
    with cli_instance(home) as instance:
        result = run_with_progress(
            instance,
            run_id,
            lambda: job.execute_in_process(
                instance=instance,
                partition_key=partition_key,
                asset_selection=keys,
                raise_on_error=False,
                run_id=run_id,
                run_config=QUIET_RUN_CONFIG,
                tags={"pipeline/trigger": "cli"},
            ),
            echo=not quiet,
        )
    elapsed = time.perf_counter() - started
    if not result.success:
        msgs = _failure_messages(result)
        raise UserError(
            f"The run for {month:%Y-%m} failed after {elapsed:.0f}s (run id {result.run_id}). "
            + (" ".join(msgs) if msgs else "See the run in the Dagster UI.")
        )
    if not quiet:
        print(f"Done in {elapsed:.1f}s (run id {result.run_id}); it is in the Dagster UI (`make ui`).")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    month = parse_month(args.month) if args.month else last_complete_month()
    code = run_month(month, args.select)
    _print_where(month)
    return code


def cmd_backfill(args: argparse.Namespace) -> int:
    first, last = parse_month(args.from_month), parse_month(args.to_month)
    if last < first:
        raise UserError(f"--to {last:%Y-%m} is before --from {first:%Y-%m}.")
    from pipeline.transforms.calendar import month_range

    months = month_range(first, last)
    print(f"Backfilling {len(months)} month(s): {first:%Y-%m} .. {last:%Y-%m}")
    for m in months:
        run_month(m, args.select)
    _print_where(last)
    return 0


def _print_where(month: date) -> None:
    from pipeline.settings import load_settings

    settings = load_settings()
    print(f"Warehouse: {settings.warehouse_path}")
    reports = settings.reports_dir / f"{month:%Y-%m}"
    if reports.exists():
        print(f"Reports:   {reports}")
    try:
        import duckdb

        con = duckdb.connect(str(settings.warehouse_path), read_only=True)
        try:
            n = con.execute("SELECT count(*) FROM ops.quarantine").fetchall()[0][0]
        finally:
            con.close()
        print(f"Quarantine: {n} problem(s) in ops.quarantine")
    except Exception:
        pass


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.settings import load_settings

    settings = load_settings()
    landing = settings.landing_dir
    has_files = landing.exists() and any(landing.rglob("*.csv"))
    month = last_complete_month()
    if not has_files:
        print(f"No landing files in {landing}: writing the sample data first.")
        cmd_sample(
            argparse.Namespace(
                accounts=args.accounts, months=args.months, seed=args.seed, out=None, end_month=None
            )
        )
    else:
        print(f"Using the landing files already in {landing}.")
    run_month(month)
    _print_where(month)
    return 0


# ---------------------------------------------------------------- approve, resend


def cmd_approve(args: argparse.Namespace) -> int:
    from pipeline.store.records import ApprovalError, approve_period
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import load_settings

    settings = load_settings()
    month = parse_month(args.month)
    try:
        record = approve_period(Warehouse(settings.warehouse_path), month, args.by)
    except ApprovalError as exc:
        raise UserError(str(exc)) from None
    print(f"{record['approved_by']} approved {record['reports']} client report(s) for {record['period']} "
          f"(fingerprint {record['manifest_sha256']}).")
    if not settings.require_approval:
        print("Note: PIPELINE_REQUIRE_APPROVAL is off, so deliveries do not wait for approvals.")
    print(f"Send them with: pipeline run --month {record['period']} --select report_deliveries")
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    import getpass

    from pipeline.publish.deliveries import ResendError, resend_report
    from pipeline.resources.mailer import MailerError, MailerResource
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import load_settings

    settings = load_settings()
    month = parse_month(args.month)
    try:
        requested_by = args.by or getpass.getuser()
    except (KeyError, OSError):
        raise UserError("Could not tell who you are; name yourself with --by NAME.") from None
    try:
        mailer = MailerResource().get(settings)
        summary = resend_report(Warehouse(settings.warehouse_path), settings, args.account.strip(), month,
                                mailer, requested_by)
    except (ResendError, MailerError) as exc:
        raise UserError(str(exc)) from None
    if summary.failed:
        raise UserError(
            f"{summary.failed} of {summary.failed + summary.sent} resend(s) of the {summary.period} report of "
            f"{args.account} failed: " + "; ".join(summary.errors) + ". Ask again once the cause is fixed."
        )
    for error in summary.errors:
        print(f"warning: {error}", file=sys.stderr)
    where = f" (in {settings.outbox_dir})" if summary.channel == "outbox" else ""
    print(f"Resent the {summary.period} report of {args.account} to {summary.sent} recipient(s) via "
          f"{summary.channel}{where}: {', '.join(sorted(summary.recipients))}.")
    print(f"Recorded in ops.deliveries as kind client_resend, requested by {requested_by}.")
    return 0


# ---------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    from pipeline.bench import run_bench

    run_bench(accounts=args.accounts, months=args.months, reports=not args.no_reports, out=args.out,
              keep=args.keep, compare_executors=not args.no_executor_comparison)
    return 0


# ---------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pipeline",
        description="Account-management ETL and reporting: sample data, monthly runs, reports.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sample", help="write a realistic, deterministic sample landing folder")
    s.add_argument("--accounts", type=int, default=200, help="number of accounts (default 200)")
    s.add_argument("--months", type=int, default=36, help="months of history (default 36)")
    s.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    s.add_argument("--out", help="landing folder to write (default $PIPELINE_DATA_DIR/landing)")
    s.add_argument("--end-month", help="last month covered, YYYY-MM (default: last complete month)")
    s.set_defaults(func=cmd_sample)

    r = sub.add_parser("run", help="materialize every asset for one month through Dagster")
    r.add_argument("--month", help="YYYY-MM (default: the last complete month)")
    r.add_argument(
        "--select",
        help="a Dagster asset selection, e.g. 'group:marts' or '*marts/account_health' (default: everything)",
    )
    r.set_defaults(func=cmd_run)

    b = sub.add_parser("backfill", help="re-run a range of months, oldest first (idempotent)")
    b.add_argument("--from", dest="from_month", required=True, help="first month, YYYY-MM")
    b.add_argument("--to", dest="to_month", required=True, help="last month, YYYY-MM")
    b.add_argument("--select", help="a Dagster asset selection (default: everything)")
    b.set_defaults(func=cmd_backfill)

    a = sub.add_parser("approve", help="approve a month's rendered client reports for delivery")
    a.add_argument("--month", required=True, help="the reporting month, YYYY-MM")
    a.add_argument("--by", required=True, help="who approves (recorded with the approval)")
    a.set_defaults(func=cmd_approve)

    rs = sub.add_parser("resend", help="deliver one client's report for a month again")
    rs.add_argument("--account", required=True, help="the account_id, as in the CRM")
    rs.add_argument("--month", required=True, help="the reporting month, YYYY-MM")
    rs.add_argument("--by", help="who asks for the resend (default: your user name)")
    rs.set_defaults(func=cmd_resend)

    d = sub.add_parser("demo", help="sample data if the landing folder is empty, then run the last month")
    d.add_argument("--accounts", type=int, default=200)
    d.add_argument("--months", type=int, default=36)
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)

    bn = sub.add_parser("bench", help="time the monthly close stage by stage against its floors")
    bn.add_argument("--accounts", type=int, default=10000, help="number of accounts (default 10000)")
    bn.add_argument("--months", type=int, default=36, help="months of history (default 36)")
    bn.add_argument("--no-reports", action="store_true", help="skip the report and delivery stages")
    bn.add_argument("--out", default="bench/results.json", help="JSON results file (default bench/results.json)")
    bn.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    bn.add_argument("--no-executor-comparison", action="store_true",
                    help="skip timing ingest..health again with Dagster's multiprocess executor")
    bn.set_defaults(func=cmd_bench)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # settings, warehouse and file errors speak for themselves
        from pipeline.landing import LandingFileError
        from pipeline.resources.warehouse import WarehouseError
        from pipeline.settings import SettingsError

        if isinstance(exc, (SettingsError, WarehouseError, LandingFileError)):
            print(f"error: {exc}", file=sys.stderr)
            return 1
        if os.environ.get("PIPELINE_DEBUG"):
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc}. Re-run with PIPELINE_DEBUG=1 for the "
            "full traceback and report it.",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

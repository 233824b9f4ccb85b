"""`pipeline`: a thin shell over Dagster for the commands in the README ("Commands").

Every command prints plain lines and ends with exit code 0, or 1 with a one-paragraph
message that says what to fix; no traceback reaches the operator. Runs go through
``pipeline.runs`` (the local Dagster instance and ``run_month``), which ``pipeline
bench`` uses too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pipeline.runs import UserError, last_complete_month, parse_month, run_month

# ---------------------------------------------------------------- sample


def cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.sample.generator import write_sample
    from pipeline.settings import load_settings

    settings = load_settings()
    out = Path(args.out) if args.out else settings.landing_dir
    end = parse_month(args.end_month) if args.end_month else None
    started = time.perf_counter()
    try:
        summary = write_sample(
            out,
            accounts=args.accounts,
            months=args.months,
            seed=args.seed,
            end_month=end,
            reporting_currency=settings.reporting_currency,
            format=args.format,
            values_of=args.values_of,
        )
    except ValueError as exc:
        raise UserError(f"pipeline sample: {exc}.") from None
    print(f"Wrote a sample landing folder to {out} in {time.perf_counter() - started:.1f}s:")
    for name, rows in sorted(summary.rows.items()):
        print(f"  {name:<18} {rows:>10,} rows")
    broken = sum(summary.broken_rows.values()) if summary.broken_rows else 0
    print(f"  (including {broken} deliberately broken rows in *_zz_broken.csv files)")
    return 0


# ---------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace) -> int:
    month = parse_month(args.month) if args.month else last_complete_month()
    _profiles()  # a profile that is not valid stops the run before it starts
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
                accounts=args.accounts,
                months=args.months,
                seed=args.seed,
                out=None,
                end_month=None,
                format="contract",
                values_of=None,
            )
        )
    else:
        print(f"Using the landing files already in {landing}.")
    run_month(month)
    _print_where(month)
    return 0


# ---------------------------------------------------------------- approve, resend


def cmd_approve(args: argparse.Namespace) -> int:
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import load_settings
    from pipeline.store.records import ApprovalError, approve_period

    settings = load_settings()
    month = parse_month(args.month)
    try:
        record = approve_period(Warehouse.from_settings(settings), month, args.by)
    except ApprovalError as exc:
        raise UserError(str(exc)) from None
    print(
        f"{record['approved_by']} approved {record['reports']} client report(s) for {record['period']} "
        f"(fingerprint {record['manifest_sha256']})."
    )
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
        summary = resend_report(
            Warehouse.from_settings(settings),
            settings,
            args.account.strip(),
            month,
            mailer,
            requested_by,
        )
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
    print(
        f"Resent the {summary.period} report of {args.account} to {summary.sent} recipient(s) via "
        f"{summary.channel}{where}: {', '.join(sorted(summary.recipients))}."
    )
    print(f"Recorded in ops.deliveries as kind client_resend, requested by {requested_by}.")
    return 0


# ---------------------------------------------------------------- backups and recovery


def _warehouse():
    from pipeline.resources.warehouse import Warehouse
    from pipeline.settings import load_settings

    settings = load_settings()
    return settings, Warehouse.from_settings(settings)


def cmd_restore(args: argparse.Namespace) -> int:
    from pipeline.resources.backups import SnapshotError, find_snapshot
    from pipeline.resources.ledger import LedgerError
    from pipeline.resources.warehouse import run_lock
    from pipeline.store.recovery import restore

    settings, wh = _warehouse()
    started = time.perf_counter()
    try:
        with run_lock(wh.path):
            snap = find_snapshot(settings.backups_dir, args.from_snapshot)
            print(f"Restoring the warehouse {wh.path} from {snap.path}")
            print(f"  the snapshot of {snap.describe()}")
            print("  checking it: its sha256, then every block ...")
            restored = restore(wh, settings, snap.name)
    except (SnapshotError, LedgerError) as exc:
        raise UserError(str(exc)) from None
    if restored.set_aside:
        print(f"  moved the previous file aside (kept, not deleted): {restored.set_aside}")
    else:
        print("  there was no warehouse file to move aside")
    print(f"  copied the ledger's {restored.copies.get('deliveries', 0)} deliveries into ops.deliveries")
    print(
        f"Restored in {time.perf_counter() - started:.1f}s from the {snap.month} close. Nothing was sent. "
        f"Landing files that arrived since are loaded by the next run (pipeline run --month {snap.month}, "
        "or a later month), which sends only what the ledger has not seen."
    )
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from dagster._core.utils import make_new_run_id

    from pipeline.jobs import REBUILD
    from pipeline.resources.ledger import LedgerError
    from pipeline.resources.warehouse import RECOVERY_TAG, run_lock
    from pipeline.runs import _run_month, materialization_metadata
    from pipeline.store.recovery import begin_rebuild, finish_rebuild, last_closed_month

    settings, wh = _warehouse()
    started = time.perf_counter()
    try:
        if args.month:
            month, why = parse_month(args.month), "as asked"
        else:
            last = last_closed_month(wh, settings)
            if last is None:
                raise UserError(
                    "The ledger records no finished monthly close and there is no snapshot, so the last closed month "
                    "is unknown: name it with --month YYYY-MM."
                )
            month, why = parse_month(last), "the last close the ledger records"
        with run_lock(wh.path):
            run_id = make_new_run_id()
            print(
                f"Rebuilding the warehouse {wh.path} from the landing folder {settings.landing_dir}, "
                f"up to {month:%Y-%m} ({why})."
            )
            aside = begin_rebuild(wh, run_id)
            print(
                f"  moved the current file aside (kept, not deleted): {aside}"
                if aside
                else "  there was no warehouse file: building a new one"
            )
            result = _run_month(month, run_id=run_id, job_name=REBUILD, tags={RECOVERY_TAG: "rebuild"})
            copies = finish_rebuild(wh)
    except LedgerError as exc:
        raise UserError(str(exc)) from None
    delivered = materialization_metadata(result, "report_deliveries")
    with wh.connect(read_only=True) as con:
        files = con.execute("SELECT count(*) FROM ops.loads").fetchall()[0][0]
    print(
        f"  loaded {files} landing file(s) again, at the times the ledger remembers; marts recomputed up to "
        f"{month:%Y-%m}"
    )
    print(
        f"  e-mails sent: {delivered.get('sent', 0)} (already delivered, per the ledger: "
        f"{delivered.get('already_sent', 0)}); {copies.get('deliveries', 0)} deliveries copied into ops.deliveries"
    )
    print(
        f"Rebuilt in {time.perf_counter() - started:.1f}s."
        + (f" The previous file is kept at {aside}." if aside else "")
    )
    return 0


def cmd_ledger(args: argparse.Namespace) -> int:
    from pipeline.resources.ledger import LedgerError

    try:
        return args.ledger_func(args)
    except LedgerError as exc:
        raise UserError(str(exc)) from None


def cmd_ledger_status(args: argparse.Namespace) -> int:
    from pipeline.store.ledger import ledger_for

    _, wh = _warehouse()
    ledger = ledger_for(wh)
    meta = ledger.meta()
    print(f"Ledger: {ledger.display}")
    print(
        f"  created {meta.get('created_at', '?')[:19].replace('T', ' ')} UTC ({meta.get('created_by', '?')})"
        + (f"; took over {meta['taken_over']}" if meta.get("taken_over") else "")
    )
    counts = ledger.counts()
    print("  deliveries: " + (", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"))
    closes = ledger.closes()
    if closes:
        last = closes[-1]
        snap = f", snapshot {last['snapshot']}" if last["snapshot"] else ""
        print(
            f"  last close: {last['month']} (run {last['run_id'][:8]}, {last['finished_at']:%Y-%m-%d %H:%M} UTC{snap})"
        )
    for hold in ledger.holds():
        print(f"  HELD {hold['period']}: {hold['reason']}")
    for row in ledger.deliveries(status="sending"):
        print(
            f"  UNCERTAIN {row['period']} {row['kind']} {row['account_id'] or '-'} -> {row['recipient']} "
            f"(key {row['delivery_key'][:16]}): settle with `pipeline ledger settle --key {row['delivery_key'][:16]} "
            "--by NAME --sent` or `--failed`"
        )
    return 0


def cmd_ledger_confirm(args: argparse.Namespace) -> int:
    from pipeline.publish.deliveries import ConfirmError, confirm_period

    settings, wh = _warehouse()
    try:
        done = confirm_period(wh, settings, parse_month(args.month), args.by, args.already_sent)
    except ConfirmError as exc:
        raise UserError(str(exc)) from None
    if args.already_sent:
        print(
            f"{done.by} confirmed that {done.period} was already delivered: {done.recorded} deliveries recorded "
            "as sent (channel 'confirmed'); nothing was sent."
        )
    else:
        print(
            f"{done.by} confirmed that {done.period} was not delivered: the next run sends it "
            f"(pipeline run --month {done.period} --select report_deliveries)."
        )
    return 0


def cmd_ledger_settle(args: argparse.Namespace) -> int:
    from pipeline.publish.deliveries import ConfirmError, settle_delivery

    _, wh = _warehouse()
    try:
        row = settle_delivery(wh, args.key, args.sent, args.by)
    except ConfirmError as exc:
        raise UserError(str(exc)) from None
    then = "" if args.sent else " The next run of the month sends it."
    print(f"Settled the {row['period']} {row['kind']} delivery to {row['recipient']} as {row['status']}.{then}")
    return 0


def cmd_ledger_backup(args: argparse.Namespace) -> int:
    from pipeline.store.ledger import ledger_for

    _, wh = _warehouse()
    target = ledger_for(wh).backup_to(Path(args.to))
    print(f"Wrote a consistent copy of the ledger to {target}.")
    return 0


# ---------------------------------------------------------------- profiles


def _profiles():
    from pipeline.profiles import ProfileError
    from pipeline.settings import load_settings
    from pipeline.store.expressions import check_profiles

    settings = load_settings()
    try:
        check_profiles(settings.profiles)
    except ProfileError as exc:
        raise UserError(str(exc)) from None
    return settings


def cmd_profiles(args: argparse.Namespace) -> int:
    if args.profiles_command == "check":
        return cmd_profiles_check(args)
    settings = _profiles()
    print(f"Export profiles ({len(settings.profiles)}); files go in {settings.landing_dir}/<folder>/:")
    for p in settings.profiles:
        print(f"  {p.name} ({p.origin}), folder {p.folder}/: {p.description}")
        for f in p.files:
            print(f"    {f.glob:<22} -> {f.source}")
        if p.variables:
            print("    settings: " + ", ".join(f"{k} = {v}" for k, v in p.variables))
    return 0


def cmd_profiles_check(args: argparse.Namespace) -> int:
    from pipeline.profiles import ProfileError
    from pipeline.store.profile_check import check_folder

    settings = _profiles()
    root = Path(args.dir)
    if not root.is_dir():
        raise UserError(f"{root} is not a folder. Name the landing folder, or one system's folder in it.")
    try:
        checks = check_folder(root, settings.profiles, settings.zip_limits)
    except ProfileError as exc:
        raise UserError(str(exc)) from None
    problems = 0
    for pc in checks:
        if pc.folder is None:
            print(f"{pc.profile.name}: no folder {pc.profile.folder}/ in {root}")
            continue
        print(f"{pc.profile.name} ({pc.profile.origin}): {pc.folder}")
        for error in pc.errors:
            problems += 1
            print(f"  REFUSED {error}")
        for fc in pc.files:
            if fc.error is not None or fc.plan is None:
                problems += 1
                print(f"  {fc.name} -> {fc.spec.source}: CANNOT READ: {fc.error}")
                continue
            plan = fc.plan
            state = "ok" if plan.ok else "MISSING REQUIRED HEADERS"
            print(f"  {fc.name} -> {fc.spec.source}: {state}")
            reads = [f"{c} <- {', '.join(h) if h else '(profile value)'}" for c, h in plan.reads.items()]
            print("    reads:   " + ("; ".join(reads) or "nothing"))
            if plan.missing:
                problems += 1
                print("    missing: " + "; ".join(f"{h} (for {c})" for c, h in plan.missing))
            if plan.nulls:
                print("    empty (no header for them): " + ", ".join(plan.nulls))
            if plan.absent:
                print("    optional headers absent: " + ", ".join(plan.absent))
            print("    ignored: " + (", ".join(plan.ignored) or "none"))
        if pc.unrecognised:
            print("  not read by this profile: " + ", ".join(pc.unrecognised))
        if not pc.files and not pc.errors:
            print("  no file matches this profile's file names (" + ", ".join(f.glob for f in pc.profile.files) + ")")
    if problems:
        raise UserError(
            f"{problems} file(s) in {root} cannot be loaded as they are (see MISSING, REFUSED and CANNOT READ "
            "above): export them with the headers listed, or change the profile in pipeline.toml."
        )
    print("Every recognised file can be loaded.")
    return 0


# ---------------------------------------------------------------- bench


def cmd_bench(args: argparse.Namespace) -> int:
    from pipeline.bench import run_bench

    run_bench(
        accounts=args.accounts,
        months=args.months,
        reports=not args.no_reports,
        out=args.out,
        keep=args.keep,
        compare_executors=not args.no_executor_comparison,
        render_cluster=args.render_cluster,
        render_features=args.render_features,
    )
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
    s.add_argument(
        "--format",
        default="contract",
        help="contract (default), or systems joined by '+' whose exports to write: salesforce or hubspot, "
        "stripe, zendesk (e.g. salesforce+stripe+zendesk); what none exports stays contract-shaped",
    )
    s.add_argument(
        "--values-of",
        metavar="SYSTEMS",
        help="with --format contract: keep only what these systems' exports can carry (e.g. Zendesk's "
        "Good/Bad CSAT as 5/1), to compare with a --format SYSTEMS sample of the same seed",
    )
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

    rt = sub.add_parser("restore", help="put the newest (or a named) snapshot of the warehouse back; sends nothing")
    rt.add_argument(
        "--from",
        dest="from_snapshot",
        metavar="SNAPSHOT",
        help="a snapshot in data/backups (file name, or YYYY-MM for that close's newest); default: the newest",
    )
    rt.set_defaults(func=cmd_restore)

    rb = sub.add_parser("rebuild", help="rebuild the warehouse from the landing folder alone; sends nothing again")
    rb.add_argument("--month", help="the last closed month, YYYY-MM (default: the last close the ledger records)")
    rb.set_defaults(func=cmd_rebuild)

    lg = sub.add_parser("ledger", help="the ledger of deliveries: status, confirm a held month, settle, backup")
    lsub = lg.add_subparsers(dest="ledger_command", required=True, metavar="LEDGER_COMMAND")
    ls = lsub.add_parser("status", help="where the ledger is, what it holds, held months and uncertain deliveries")
    ls.set_defaults(func=cmd_ledger, ledger_func=cmd_ledger_status)
    lc = lsub.add_parser("confirm", help="answer the ledger's hold on a month: was it already delivered?")
    lc.add_argument("--month", required=True, help="the held month, YYYY-MM")
    lc.add_argument("--by", required=True, help="who confirms (recorded)")
    how = lc.add_mutually_exclusive_group(required=True)
    how.add_argument(
        "--already-sent",
        dest="already_sent",
        action="store_true",
        help="record the month's deliveries as sent; send nothing",
    )
    how.add_argument("--not-sent", dest="already_sent", action="store_false", help="let the next run send them")
    lc.set_defaults(func=cmd_ledger, ledger_func=cmd_ledger_confirm)
    lt = lsub.add_parser("settle", help="settle a delivery a stopped run left uncertain ('sending')")
    lt.add_argument("--key", required=True, help="its delivery key (at least the first 8 characters)")
    lt.add_argument("--by", required=True, help="who settles it (recorded)")
    outcome = lt.add_mutually_exclusive_group(required=True)
    outcome.add_argument("--sent", dest="sent", action="store_true", help="it left (the mail server's log says so)")
    outcome.add_argument("--failed", dest="sent", action="store_false", help="it did not leave: the next run sends it")
    lt.set_defaults(func=cmd_ledger, ledger_func=cmd_ledger_settle)
    lb = lsub.add_parser("backup", help="write a consistent copy of a SQLite ledger (for an off-machine backup)")
    lb.add_argument("--to", required=True, help="the file to write")
    lb.set_defaults(func=cmd_ledger, ledger_func=cmd_ledger_backup)

    d = sub.add_parser("demo", help="sample data if the landing folder is empty, then run the last month")
    d.add_argument("--accounts", type=int, default=200)
    d.add_argument("--months", type=int, default=36)
    d.add_argument("--seed", type=int, default=7)
    d.set_defaults(func=cmd_demo)

    pr = sub.add_parser("profiles", help="list the export profiles; `profiles check DIR`: what each would read there")
    psub = pr.add_subparsers(dest="profiles_command", metavar="check")
    pc = psub.add_parser("check", help="which files each profile recognises in DIR, what it reads, misses, ignores")
    pc.add_argument("dir", metavar="DIR", help="a landing folder (one folder per system) or one system's folder")
    pr.set_defaults(func=cmd_profiles, profiles_command=None)

    bn = sub.add_parser("bench", help="time the monthly close stage by stage against its floors")
    bn.add_argument("--accounts", type=int, default=10000, help="number of accounts (default 10000)")
    bn.add_argument("--months", type=int, default=36, help="months of history (default 36)")
    bn.add_argument("--no-reports", action="store_true", help="skip the report and delivery stages")
    bn.add_argument("--out", default="bench/results.json", help="JSON results file (default bench/results.json)")
    bn.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    bn.add_argument(
        "--no-executor-comparison",
        action="store_true",
        help="skip timing ingest..health again with Dagster's multiprocess executor",
    )
    bn.add_argument(
        "--render-cluster",
        metavar="ADDRESS",
        help="also render the client reports on the Dask scheduler at ADDRESS (tcp://HOST:PORT) "
        "and compare its reports/s and bytes with the local pool's",
    )
    bn.add_argument(
        "--render-features",
        action="store_true",
        help="also time the client report's PDF with one CSS feature of its design left out at a time",
    )
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

"""Promise 7: a lost or damaged warehouse comes back with one command, and nothing is sent
twice.

Each test starts from the session's closed sample month (a real `pipeline run`, which also
kept a snapshot and filled the ledger beside the warehouse), then breaks something as an
operator would meet it, and drives the CLI as an operator types it:

- the warehouse deleted, the same month run again: identical marts (every row of every
  month, ordered and hashed), every landing file loaded again at its first load time,
  landing files untouched, and not one new e-mail (outbox, and a real SMTP server);
- random bytes over a block in use: the next run fails before any step, with one line
  naming the file and the two ways out; ``pipeline restore`` then a run, or ``pipeline
  rebuild``, give the marts of before and no new e-mail, the damaged file kept aside;
- a kill in the middle of a snapshot: the previous snapshot stays complete and usable;
- the ledger deleted as well: the month is held (nothing sent) until an operator says
  whether it went out (``pipeline ledger confirm``).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import duckdb
import pytest

from tests.support.fault_helpers import (
    END,
    REPO,
    cli,
    copy_root,
    env_for,
    query,
    warehouse_state,
)

pytestmark = pytest.mark.slow
RUN = ["run", "--month", END]
SEED = int(os.environ.get("PIPELINE_FAULT_SEED", "20261124"))


@pytest.fixture(scope="module")
def base(closed_month_template_root) -> Path:
    """The session's closed sample month (tests.support.closed_month): copy it before changing it."""
    return closed_month_template_root.root


# ----------------------------------------------------------------------------- helpers


def ok(args: list[str], root: Path, **env: str) -> str:
    done = cli(args, env_for(root, **env))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    return done.stdout


def ledger_rows(data: Path) -> list[tuple]:
    con = sqlite3.connect(str(data / "ledger.sqlite"))
    try:
        return con.execute(
            "SELECT kind, account_id, period, recipient, content_hash, status "
            "FROM pipeline_ledger_deliveries ORDER BY 1, 2, 3, 4, 5"
        ).fetchall()
    finally:
        con.close()


def outbox_files(data: Path) -> dict[str, int]:
    """Every message in the outbox (path -> mtime): a new or rewritten one shows."""
    root = data / "outbox"
    return {p.relative_to(root).as_posix(): p.stat().st_mtime_ns for p in sorted(root.rglob("*.eml"))}


def client_and_pack_mail(data: Path) -> dict[str, int]:
    return {k: v for k, v in outbox_files(data).items() if not k.startswith("operator/")}


def landing_files(data: Path) -> dict[str, tuple]:
    """Every landing file: sha256, size, mtime and mode (a run changes none of them)."""
    out = {}
    for p in sorted((data / "landing").rglob("*")):
        if p.is_file():
            st = p.stat()
            out[p.relative_to(data).as_posix()] = (
                hashlib.sha256(p.read_bytes()).hexdigest(),
                st.st_size,
                st.st_mtime_ns,
                st.st_mode,
            )
    return out


def loads(db: Path) -> list[tuple]:
    return query(db, "SELECT source, file_hash, file_name, rows, loaded_at FROM ops.loads ORDER BY 1, 2")


def corrupt_a_block(db: Path, table: str = "marts.account_monthly") -> int:
    """Write random bytes over a block the table's data lives in (past the block's checksum,
    as a failing disk would); returns the file offset."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        blocks = sorted(
            {
                r[0]
                for r in con.execute(
                    f"SELECT block_id FROM pragma_storage_info('{table}') WHERE persistent AND block_id >= 0"
                ).fetchall()
            }
        )
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchall()[0][0]
    finally:
        con.close()
    assert blocks, f"{table} has no block on disk"
    rng = random.Random(SEED)
    offset = 3 * 4096 + rng.choice(blocks) * block_size + rng.randrange(64, block_size - 4096)
    with open(db, "r+b") as f:
        f.seek(offset)
        f.write(rng.randbytes(512))
    return offset


def runs_in(home: Path) -> int:
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        return len(instance.get_run_records())


# ----------------------------------------------------------------------------- lost warehouse


def test_a_deleted_warehouse_is_rebuilt_by_the_next_run_with_the_same_marts_and_no_new_mail(base: Path, tmp_path):
    root = copy_root(base, tmp_path / "lost")
    data, db = root / "data", root / "data" / "warehouse.duckdb"
    before = warehouse_state(db)
    before_loads, before_mail, before_ledger = loads(db), client_and_pack_mail(data), ledger_rows(data)
    landing = landing_files(data)
    assert before_mail and before_ledger and before["marts"]
    os.remove(db)

    out = ok(RUN, root)
    assert "There is no warehouse" in out and "pipeline restore" in out  # says a snapshot would be faster
    after = warehouse_state(db)
    assert after["marts"] == before["marts"]  # every mart row of every month, byte for byte
    assert after["quarantine"] == before["quarantine"] and after["raw_rows"] == before["raw_rows"]
    assert loads(db) == before_loads  # every file loaded again, at its first load time (the ledger's)
    assert client_and_pack_mail(data) == before_mail  # not one message written or rewritten
    assert ledger_rows(data) == before_ledger  # nothing claimed, nothing new
    assert landing_files(data) == landing  # the source of truth is never touched
    # The warehouse's copy of the ledger is back too.
    assert sorted(
        query(
            db,
            "SELECT kind, account_id, period, recipient, content_hash, status FROM ops.deliveries WHERE period = ?",
            [END],
        )
    ) == sorted(r for r in before_ledger if r[2] == END)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        from email.parser import BytesHeaderParser

        subject = " ".join(str(BytesHeaderParser().parsebytes(envelope.content)["Subject"]).split())
        with self.lock:
            self.messages += [(rcpt.lower(), subject) for rcpt in envelope.rcpt_tos]
        return "250 Message accepted"


def _clear_deliveries(data: Path) -> None:
    """Forget every delivery (ledger and the warehouse's copy) and the outbox: the month is
    rendered but not delivered yet."""
    con = sqlite3.connect(str(data / "ledger.sqlite"))
    con.execute("DELETE FROM pipeline_ledger_deliveries")
    con.commit()
    con.close()
    dcon = duckdb.connect(str(data / "warehouse.duckdb"))
    dcon.execute("DELETE FROM ops.deliveries")
    dcon.close()
    shutil.rmtree(data / "outbox")


def test_over_smtp_a_deleted_warehouse_sends_nothing_again(base: Path, tmp_path):
    from aiosmtpd.controller import Controller

    from tests.support.smtp import free_port

    root = copy_root(base, tmp_path / "smtp")
    data, db = root / "data", root / "data" / "warehouse.duckdb"
    _clear_deliveries(data)
    inbox, port = _Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        smtp = {"PIPELINE_SMTP_URL": f"smtp://127.0.0.1:{port}?starttls=false"}
        ok([*RUN, "--select", "key:report_deliveries or key:manager_book_deliveries or key:alert_emails"], root, **smtp)
        first = Counter(inbox.messages)
        assert first and set(first.values()) == {1}
        marts = warehouse_state(db)["marts"]
        os.remove(db)
        ok(RUN, root, **smtp)
        assert Counter(inbox.messages) == first, "a report was e-mailed again after the warehouse was rebuilt"
        assert warehouse_state(db)["marts"] == marts
        assert not (data / "outbox").exists()
    finally:
        controller.stop()


# ----------------------------------------------------------------------------- damaged warehouse


def test_a_damaged_block_stops_the_run_before_any_step_and_restore_brings_the_close_back(base: Path, tmp_path):
    root = copy_root(base, tmp_path / "damaged")
    data, db = root / "data", root / "data" / "warehouse.duckdb"
    before, mail, runs = warehouse_state(db), client_and_pack_mail(data), runs_in(root / "dh")
    corrupt_a_block(db)
    damaged_bytes = db.read_bytes()

    failed = cli(RUN, env_for(root))
    assert failed.returncode == 1 and "Traceback" not in failed.stdout + failed.stderr
    (line,) = failed.stderr.strip().splitlines()  # one line
    assert f"The warehouse {db} is damaged" in line and "Corrupt database file" in line
    assert "pipeline restore" in line and "pipeline rebuild" in line and "Nothing was run" in line
    assert runs_in(root / "dh") == runs  # no Dagster run started: no step ran against the file
    assert "Running monthly_close" not in failed.stdout

    out = ok(["restore"], root)
    assert f"the {END} close" in out and "moved the previous file aside" in out and "Nothing was sent" in out
    (aside,) = [p for p in data.iterdir() if p.name.startswith("warehouse.duckdb.damaged-")]
    assert aside.read_bytes() == damaged_bytes  # kept aside, not deleted
    assert warehouse_state(db)["marts"] == before["marts"]  # the snapshot is the close of before

    ok(RUN, root)
    assert warehouse_state(db)["marts"] == before["marts"]
    assert client_and_pack_mail(data) == mail  # no new e-mail


def test_a_damaged_warehouse_is_rebuilt_from_the_landing_folder_and_sends_nothing_again(base: Path, tmp_path):
    root = copy_root(base, tmp_path / "rebuild")
    data, db = root / "data", root / "data" / "warehouse.duckdb"
    before, mail, before_loads = warehouse_state(db), client_and_pack_mail(data), loads(db)
    ledger, landing = ledger_rows(data), landing_files(data)
    offset = corrupt_a_block(db)
    damaged_bytes = db.read_bytes()

    out = ok(["rebuild"], root)
    assert f"up to {END} (the last close the ledger records)" in out
    assert "e-mails sent: 0" in out
    (aside,) = [p for p in data.iterdir() if p.name.startswith("warehouse.duckdb.damaged-")]
    assert aside.read_bytes() == damaged_bytes and offset < len(damaged_bytes)  # kept aside, untouched
    after = warehouse_state(db)
    assert after["marts"] == before["marts"] and after["quarantine"] == before["quarantine"]
    assert loads(db) == before_loads
    assert client_and_pack_mail(data) == mail and ledger_rows(data) == ledger
    assert landing_files(data) == landing
    # The warehouse's copy of the ledger holds every delivery again, not only the month rebuilt.
    assert query(db, "SELECT count(*) FROM ops.deliveries")[0][0] == len(ledger)


# ----------------------------------------------------------------------------- snapshots


KILL_IN_SNAPSHOT = r"""
import os, signal, sys
import pipeline.resources.backups as backups
real = backups._copy
def copy_then_die(src, dst):
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fout.write(fin.read(1 << 20))   # a first megabyte of the new snapshot, then SIGKILL
        fout.flush()
    os.kill(os.getpid(), signal.SIGKILL)
backups._copy = copy_then_die
from pipeline.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_kill_during_a_snapshot_leaves_the_previous_snapshot_usable(base: Path, tmp_path):
    from pipeline.resources.backups import list_snapshots, verify_snapshot

    root = copy_root(base, tmp_path / "snap")
    data, backups = root / "data", root / "data" / "backups"
    (previous,) = list_snapshots(backups)
    marts = warehouse_state(data / "warehouse.duckdb")["marts"]
    killed = subprocess.run(
        [sys.executable, "-c", KILL_IN_SNAPSHOT, *RUN, "--select", "warehouse_snapshot"],
        env=env_for(root),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == -9, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert [p.name for p in backups.glob(".*.part")]  # the half-written copy, hidden
    assert [s.name for s in list_snapshots(backups)] == [previous.name]  # the previous one still counts
    verify_snapshot(previous)  # same sha256, every block reads

    os.remove(data / "warehouse.duckdb")
    out = ok(["restore"], root)
    assert previous.name in out
    assert warehouse_state(data / "warehouse.duckdb")["marts"] == marts

    ok([*RUN, "--select", "warehouse_snapshot"], root)  # the next snapshot clears what the kill left
    assert not list(backups.glob(".*.part")) and len(list_snapshots(backups)) == 2


def test_snapshots_keep_the_last_closes_only(base: Path, tmp_path):
    from pipeline.resources.backups import list_snapshots

    root = copy_root(base, tmp_path / "retention")
    backups = root / "data" / "backups"
    for _ in range(3):
        ok([*RUN, "--select", "warehouse_snapshot"], root, PIPELINE_SNAPSHOT_RETENTION="2")
    snaps = list_snapshots(backups)
    assert len(snaps) == 2 and all(s.month == END and len(s.sha256) == 64 for s in snaps)
    con = sqlite3.connect(str(root / "data" / "ledger.sqlite"))
    recorded = {r[0] for r in con.execute("SELECT snapshot_sha256 FROM pipeline_ledger_closes").fetchall()}
    con.close()
    assert {s.sha256 for s in snaps} <= recorded  # each snapshot's sha256 is in the ledger too


# ----------------------------------------------------------------------------- the ledger lost too


def test_with_the_ledger_lost_too_the_month_waits_for_an_operator_and_is_never_sent_twice(base: Path, tmp_path):
    root = copy_root(base, tmp_path / "ledger")
    data, db = root / "data", root / "data" / "warehouse.duckdb"
    mail = client_and_pack_mail(data)
    marts = warehouse_state(db)["marts"]
    os.remove(db)
    os.remove(data / "ledger.sqlite")

    ok(RUN, root)  # the run completes; its deliveries wait
    assert client_and_pack_mail(data) == mail  # nothing sent
    assert warehouse_state(db)["marts"] == marts
    status = ok(["ledger", "status"], root)
    assert f"HELD {END}" in status and "may already have been delivered" in status
    deliveries = [*RUN, "--select", "key:report_deliveries or key:manager_book_deliveries or key:alert_emails"]
    ok(deliveries, root)
    assert client_and_pack_mail(data) == mail  # still held

    out = ok(["ledger", "confirm", "--month", END, "--by", "Ada Operator", "--already-sent"], root)
    assert "nothing was sent" in out
    recorded = [r for r in ledger_rows(data) if r[2] == END]
    assert recorded and {r[-1] for r in recorded} == {"sent"}
    ok(deliveries, root)
    assert client_and_pack_mail(data) == mail  # confirmed as delivered: never sent again
    assert f"HELD {END}" not in ok(["ledger", "status"], root)

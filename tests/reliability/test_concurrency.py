"""Promise 4: concurrent runs are safe.

Two `pipeline run`s of one warehouse at once (same month, different months, started
together or one while the other is busy): either both succeed one after the other, or
one fails at once with a plain message (the warehouse's run lock) while the other
finishes; afterwards the warehouse opens, its marts equal an uninterrupted run's, the
reports are intact and no e-mail went twice.

Before the run lock, DuckDB's own file lock (held only while a connection is open)
let the two runs interleave until both failed halfway, each with a dozen "Cannot open
the warehouse" step failures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.publish.deliveries import deliver_reports
from pipeline.resources.mailer import SendOutcome
from pipeline.resources.warehouse import Warehouse, WarehouseError, run_lock
from pipeline.settings import Settings
from tests.support.fault_helpers import (
    END,
    PREVIOUS,
    cli,
    copy_root,
    env_for,
    outbox_counts,
    popen_cli,
    query,
    report_problems,
    warehouse_state,
)
from tests.support.ledger_helpers import clear_deliveries

pytestmark = pytest.mark.slow

LOCKED = "Another pipeline run is using the warehouse"


@pytest.fixture(scope="module")
def base(closed_month_template_root) -> Path:
    """The uninterrupted run: the session's closed sample month (tests.support.closed_month,
    made once and shared by every worker). Copy it before changing it."""
    return closed_month_template_root.root


def _wait(proc, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


# (months of the two runs, whether the second starts only once the first is running)
TRIALS = [
    ((END, END), False),
    ((END, PREVIOUS), False),
    ((END, END), True),
]


@pytest.mark.parametrize(
    ("months", "staggered"), TRIALS, ids=["same-month", "different-months", "same-month-staggered"]
)
def test_two_runs_at_once_serialize_or_one_fails_fast_and_nothing_breaks(
    base: Path, tmp_path: Path, months: tuple[str, str], staggered: bool
):
    root = copy_root(base, tmp_path / "both")
    env = env_for(root)
    first = popen_cli(["run", "--month", months[0]], env)
    head = ""
    if staggered:  # start the second once the first has printed that it is running
        head = first.stdout.readline()
        assert head.startswith("Running monthly_close"), head + first.stderr.read()
    second = popen_cli(["run", "--month", months[1]], env)
    (rc1, out1, err1), (rc2, out2, err2) = _wait(first), _wait(second)
    out1 = head + out1
    ended = [(rc1, out1, err1), (rc2, out2, err2)]
    for rc, out, err in ended:
        assert "Traceback" not in out + err
        assert rc == 0 or (rc == 1 and LOCKED in err), err[-2000:]
    failed = [e for e in ended if e[0] != 0]
    assert len(failed) <= 1, "both runs failed"
    for _rc, out, err in failed:
        # Failed fast: at the start, before any step ran, with one plain line.
        assert "Running monthly_close" not in out and "ok " not in out
        assert err.strip().count("\n") == 0 and err.startswith("error: " + LOCKED)
    if staggered:
        assert (rc1, rc2) == (0, 1), "the second run started while the first held the warehouse, yet it ran"

    # Afterwards: the warehouse opens and equals the uninterrupted run; reports intact;
    # every e-mail once.
    data = root / "data"
    state = warehouse_state(data / "warehouse.duckdb")
    assert state["marts"] == warehouse_state(base / "data" / "warehouse.duckdb")["marts"]
    assert state["raw_without_load"] == state["loads_without_raw"] == []
    assert report_problems(data) == []
    counts = outbox_counts(data)
    assert set(counts.values()) == {1}
    assert {k for k in counts if k[0] == END} == set(outbox_counts(base / "data"))
    assert query(data / "warehouse.duckdb", "SELECT DISTINCT status FROM ops.deliveries") == [("sent",)]
    print(f"\nconcurrency trial {months} staggered={staggered}: exit codes {rc1}, {rc2}")


def test_a_run_fails_at_once_with_a_message_while_another_holds_the_warehouse(base: Path, tmp_path: Path):
    root = copy_root(base, tmp_path / "held")
    db = root / "data" / "warehouse.duckdb"
    before = warehouse_state(db)
    with run_lock(db):
        done = cli(["run", "--month", END], env_for(root), timeout=120)
        with pytest.raises(WarehouseError, match=LOCKED), run_lock(db):
            pass
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {LOCKED} {db} (pid ")
    assert "Traceback" not in done.stdout + done.stderr and "Running" not in done.stdout
    assert warehouse_state(db) == before
    with run_lock(db):  # released with its holder
        pass


class _CountingMailer:
    """An SMTP-like mailer (it cannot tell whether an interrupted send left): counts sends
    per delivery key and can run a hook (another run) inside its first send."""

    channel = "smtp"
    description = "test"

    def __init__(self, sends: dict[str, int], hook=None):
        self.sends, self.hook = sends, hook

    def send(self, message, recipient, key, folder):
        self.sends[key] = self.sends.get(key, 0) + 1
        if self.hook:
            hook, self.hook = self.hook, None
            hook()
        return SendOutcome(True)

    def close(self) -> None:
        return None


def test_a_second_delivery_run_during_the_first_never_sends_a_report_twice(base: Path, tmp_path: Path):
    """Regression: a run claimed deliveries from a plan read before it started sending, so
    a second run delivering the same month meanwhile (a UI run next to a CLI run) sent the
    rest again. A claim now succeeds only for a new or failed delivery."""
    root = copy_root(base, tmp_path / "race")
    data = root / "data"
    clear_deliveries(data)  # the ledger's and the warehouse's copy
    wh, settings, month = Warehouse(data / "warehouse.duckdb"), Settings(data_dir=data), date.fromisoformat(END + "-01")
    sends: dict[str, int] = {}
    inner = []
    outer = deliver_reports(
        wh,
        settings,
        month,
        _CountingMailer(sends, hook=lambda: inner.append(deliver_reports(wh, settings, month, _CountingMailer(sends)))),
    )
    expected = [k for k in outbox_counts(base / "data") if k[1] not in ("leadership", "managers")]  # client reports
    assert inner and inner[0].sent >= 1 and inner[0].uncertain == 1  # the outer's message in flight
    assert max(sends.values()) == 1, f"sent twice: {sends}"
    assert outer.sent + inner[0].sent == len(sends) == len(expected)
    statuses = query(data / "warehouse.duckdb", "SELECT status, count(*) FROM ops.deliveries GROUP BY 1")
    assert statuses == [("sent", len(sends))]

"""What the Dagster instance recorded about asset checks: the latest evaluation of each
check for a month, read with Dagster's public API only.

Two readers use it:

- ``report_deliveries``: a failed ERROR-severity check on the marts or the client
  reports blocks the month's deliveries (``failed_checks_reason``);
- the leadership pack: its data-quality appendix shows the latest result, for the month,
  of every check on the data it is built from (``upstream_check_results``).

The walk (``latest_evaluations``) reads the instance's runs newest first
(``DagsterInstance.get_run_records``) and the ``ASSET_CHECK_EVALUATION`` events each run
recorded (``DagsterInstance.all_logs``); the newest run holding an evaluation of a check
for the month decides, and its last evaluation of that check is the result. A check on a
partitioned asset counts when a run that ran the partition (by its tags: its own
partition, or the range of a single-run backfill, ``run_covers_partition``) evaluated it
for that partition or for no named partition (Dagster 1.13 names none, also in a
backfill of a range). A check on an unpartitioned asset counts whatever run evaluated it
last. Only Dagster's public names are used: no ``dagster._core`` import.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    BoolMetadataValue,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    FloatMetadataValue,
    IntMetadataValue,
    TextMetadataValue,
)

from pipeline.partitions import PARTITION_TAG, run_covers_partition

HISTORY = 50  # runs that could hold a check's evaluation for the month, read per check
RUN_PAGE = 100  # run records fetched per query while walking back

# Metadata that depends on when a check ran rather than on the data (a file's age): left
# out of the pack, or every rerun would change the pack and send it again.
VOLATILE_METADATA = frozenset({"newest_file_age_days"})


@dataclass(frozen=True)
class CheckOutcome:
    """The evaluation that decides a check for a month, and the tags of its run."""

    evaluation: AssetCheckEvaluation
    run_tags: Mapping[str, str]


# ---------------------------------------------------------------- reading the instance


def _runs_newest_first(instance: DagsterInstance) -> Iterator[DagsterRun]:
    cursor = None
    while True:
        records = instance.get_run_records(limit=RUN_PAGE, cursor=cursor)
        for record in records:
            yield record.dagster_run
        if len(records) < RUN_PAGE:
            return
        cursor = records[-1].dagster_run.run_id


def run_evaluations(instance: DagsterInstance, run_id: str) -> list[AssetCheckEvaluation]:
    """The asset check evaluations a run recorded, in the order it recorded them."""
    entries = instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
    data = (entry.dagster_event.event_specific_data for entry in entries if entry.dagster_event)
    return [d for d in data if isinstance(d, AssetCheckEvaluation)]


def latest_evaluations(
    instance: DagsterInstance,
    check_keys: Iterable[AssetCheckKey],
    partition_key: str,
    unpartitioned: Collection[AssetCheckKey] = (),
    history: int = HISTORY,
) -> dict[AssetCheckKey, CheckOutcome]:
    """The latest evaluation, for ``partition_key``, of each check (see the module's
    docstring); a check with none in ``history`` runs that could hold one is left out.
    ``unpartitioned``: the checks whose asset has no partitions (any run counts)."""
    pending = {key: 0 for key in check_keys}  # runs read without finding the check
    found: dict[AssetCheckKey, CheckOutcome] = {}
    for run in _runs_newest_first(instance):
        if not pending:
            break
        tags = dict(run.tags)
        covers = run_covers_partition(tags, partition_key)
        wanted = {key for key in pending if covers or key in unpartitioned}
        if not wanted:
            continue
        latest: dict[AssetCheckKey, AssetCheckEvaluation] = {}
        for evaluation in run_evaluations(instance, run.run_id):
            key = evaluation.asset_check_key
            if key in wanted and (key in unpartitioned or evaluation.partition in (None, partition_key)):
                latest[key] = evaluation
        for key in wanted:
            if key in latest:
                found[key] = CheckOutcome(latest[key], tags)
                del pending[key]
            else:
                pending[key] += 1
                if pending[key] >= history:
                    del pending[key]
    return found


# ---------------------------------------------------------------- deliveries


def _failed(evaluation: AssetCheckEvaluation) -> bool:
    return not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR


def _label(evaluation: AssetCheckEvaluation) -> str:
    return f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}"


def failed_checks_reason(
    context: AssetExecutionContext, partition_key: str, asset_keys: Iterable[AssetKey]
) -> str | None:
    """Why the partition is blocked: the latest evaluation, for this partition, of an
    ERROR-severity check on ``asset_keys`` failed. None when every such check passed (or
    there are none). Fails closed: if the results cannot be read, that is the reason.

    In a code location (the normal case) every check of those assets is known from the
    repository and its latest evaluation for the partition decides. In a run built
    without one (``materialize()``), the evaluations recorded by the runs that
    materialized the partition's current assets decide.
    """
    keys = set(asset_keys)
    try:
        try:
            graph = context.repository_def.asset_graph
        except Exception:  # no code location: materialize() in a script or test
            graph = None
        failures = (
            _failures_from_check_history(context.instance, graph.get_check_keys_for_assets(keys), partition_key)
            if graph is not None
            else _failures_from_materializing_runs(context.instance, keys, partition_key)
        )
    except Exception as exc:  # fail closed, with the reason
        return f"the asset check results could not be read ({type(exc).__name__}: {exc}); nothing is sent"
    if failures:
        where = " and ".join(sorted({"the marts" if f.startswith("marts/") else "the reports" for f in failures}))
        return f"failed asset checks on {where}: " + ", ".join(sorted(failures))
    return None


def _failures_from_check_history(
    instance: DagsterInstance, check_keys: Iterable[AssetCheckKey], partition_key: str
) -> list[str]:
    outcomes = latest_evaluations(instance, check_keys, partition_key)
    return [_label(o.evaluation) for o in outcomes.values() if _failed(o.evaluation)]


def _failures_from_materializing_runs(instance: DagsterInstance, keys: set[AssetKey], partition_key: str) -> list[str]:
    failures: list[str] = []
    runs: set[str] = set()
    for key in keys:
        found = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[partition_key]), limit=1
        ).records
        if found:
            runs.add(found[0].run_id)
    for run_id in sorted(runs):
        latest: dict[AssetCheckKey, AssetCheckEvaluation] = {}
        for evaluation in run_evaluations(instance, run_id):
            if evaluation.asset_key in keys:
                latest[evaluation.asset_check_key] = evaluation
        failures.extend(_label(e) for e in latest.values() if _failed(e))
    return failures


# ---------------------------------------------------------------- the pack's appendix


def check_detail(metadata: Mapping[str, Any]) -> str:
    """The measured values of a check's metadata in one line (tables, markdown and
    values that only say when the check ran left out)."""
    parts = []
    for name, value in metadata.items():
        if name in VOLATILE_METADATA:
            continue
        if isinstance(value, FloatMetadataValue) and value.value is not None:
            parts.append(f"{name.replace('_', ' ')} {value.value:g}")
        elif isinstance(value, (IntMetadataValue, BoolMetadataValue)) or (
            isinstance(value, TextMetadataValue) and len(value.value) <= 40 and "\n" not in value.value
        ):
            parts.append(f"{name.replace('_', ' ')} {value.value}")
    return " · ".join(parts)


def _asset_graph(context: AssetExecutionContext):
    """Every asset (and check) of the code location, also when the run selected a subset.

    A run launched from the UI or a schedule knows its code location; a run executed in
    process (``pipeline run``, tests) does not, so the graph of the job the run's
    selection was cut from is used instead.
    """
    try:
        return context.repository_def.asset_graph
    except Exception:  # Dagster raises a CheckError when no code location is set
        job = context.job_def
        while (selection := getattr(job, "asset_selection_data", None)) is not None:
            job = selection.parent_job_def
        return job.asset_layer.asset_graph


def upstream_check_results(
    context: AssetExecutionContext, asset_key: AssetKey, partition_key: str
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The latest evaluation, for this month, of every asset check on the data
    ``asset_key`` is built from (its upstream assets), one row per check: asset, check,
    status (passed, failed or not run), severity, detail (``check_detail``) and the
    month of the run that evaluated it.

    Checks on assets downstream of or beside ``asset_key`` are left out: in a monthly
    close they may run after it, so a rerun would read the last run's results and change
    for no new data. Returns (rows, None), or (None, why) when the instance cannot be
    read.
    """
    try:
        graph = _asset_graph(context)
        upstream = graph.get_ancestor_asset_keys(asset_key)
        keys = sorted(
            (k for k in graph.asset_check_keys if k.asset_key in upstream),
            key=lambda k: (k.asset_key.to_user_string(), k.name),
        )
        unpartitioned = {k for k in keys if graph.get(k.asset_key).partitions_def is None}
        outcomes = latest_evaluations(context.instance, keys, partition_key, unpartitioned)
        rows = []
        for key in keys:
            row = {
                "asset": key.asset_key.to_user_string(),
                "check": key.name,
                "status": "not run",
                "severity": "",
                "detail": "",
                "run_month": None,
            }
            outcome = outcomes.get(key)
            if outcome is not None:
                evaluation = outcome.evaluation
                row.update(
                    status="passed" if evaluation.passed else "failed",
                    severity=evaluation.severity.value if evaluation.severity else "",
                    detail=check_detail(dict(evaluation.metadata or {})),
                    run_month=(outcome.run_tags.get(PARTITION_TAG) or "")[:7] or None,
                )
            rows.append(row)
        return rows, None
    except Exception as exc:  # the pack says the results were unavailable, and why
        return None, f"{type(exc).__name__}: {str(exc)[:200]}"

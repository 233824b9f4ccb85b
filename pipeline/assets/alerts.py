"""Alert and cross-sell marts for account managers: ``marts.account_alerts`` and
``marts.cross_sell_ideas`` (docs/metrics.md, "Alerts and cross-sell ideas").

Thin assets over ``pipeline.transforms.alerts`` and ``pipeline.transforms.cross_sell``,
built like every mart: a materialization of month M recomputes every month up to M and
replaces ``month <= M`` in one transaction, or keeps the stored rows when nothing they
are built from changed (``pipeline.store.marts.build_or_reuse``). Their checks run on
the rows either way. The alerts' checks recompute every alert's condition a second,
simpler way (row by row) from the same inputs, so an alert can only reach a manager
when its rule really fired.

The goal statuses come from ``marts.account_goals`` (``pipeline.assets.forecast``); a
warehouse without that table has no goals, so goal_behind raises nothing.
"""

from datetime import date

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    PartitionsDefinition,
    asset,
)

from pipeline import checks
from pipeline.assets.forecast import ACCOUNT_GOALS_KEY  # goal_behind reads it when the table exists
from pipeline.assets.marts import ACCOUNT_HEALTH_KEY, ACCOUNT_MONTHLY_KEY, mart_asset_options, month_meta, report_build
from pipeline.code_fingerprint import code_fingerprint
from pipeline.metadata import md
from pipeline.partitions import reporting_month
from pipeline.resources.config import SettingsResource
from pipeline.resources.warehouse import Warehouse, WarehouseResource
from pipeline.schemas import ACCOUNT_ALERTS, ACCOUNT_MONTHLY, CROSS_SELL_IDEAS
from pipeline.store.loading import read_staging
from pipeline.store.marts import Computed, build_or_reuse, mart_inputs, read_months, read_months_as_stored
from pipeline.transforms.alerts import (
    RULES,
    account_alerts,
    alert_counts,
    event_alert_mismatches,
    expected_event_alerts,
    state_alert_mismatches,
    state_conditions,
    worst_first,
)
from pipeline.transforms.cross_sell import build_cross_sell_ideas

ACCOUNT_ALERTS_KEY = AssetKey(["marts", "account_alerts"])
CROSS_SELL_IDEAS_KEY = AssetKey(["marts", "cross_sell_ideas"])

# Code beyond the transforms (in every mart's fingerprint) that shapes these rows: the
# alerts' sentences use the reports' formatting.
ALERTS_CODE = ("pipeline/assets/alerts.py", "pipeline/reporting/formatting.py", "pipeline/reporting/periods.py")
TOP_ALERTS = 10


class AlertInputs:
    """What the alerts of months up to M are built from (read once: the checks need
    them whether the rows were recomputed or kept)."""

    def __init__(self, wh: Warehouse, month: date) -> None:
        self.account_monthly = read_months(wh, "marts.account_monthly", month, ACCOUNT_MONTHLY)
        health = read_months_as_stored(wh, "marts.account_health", month)
        self.goals = read_months_as_stored(wh, "marts.account_goals", month)  # None: no goals yet
        self.accounts = read_staging(wh, "accounts")
        self.responses = read_staging(wh, "responses")
        self.account_health: pl.DataFrame = (
            health
            if health is not None
            else pl.DataFrame(
                schema={
                    "account_id": pl.String(),
                    "month": pl.Date(),
                    "band": pl.String(),
                    "score": pl.Float64(),
                    "score_change": pl.Float64(),
                    "drivers": pl.String(),
                }
            )
        )


def _alert_metadata(alerts: pl.DataFrame, monthly: pl.DataFrame, month: date) -> dict:
    this = alerts.filter(pl.col("month") == month)
    counts = alert_counts(alerts, month)
    top = worst_first(this, monthly.filter(pl.col("month") == month)).head(TOP_ALERTS)
    by_manager = (
        this.group_by(pl.col("account_manager_id").fill_null("(none)").alias("manager"))
        .agg(pl.len().alias("alerts"), (pl.col("severity") == "high").sum().alias("high"))
        .sort(["alerts", "manager"], descending=[True, False])
    )
    return {
        "alerts_this_month": this.height,
        **{f"alerts_{r}": int(counts.filter(pl.col("rule") == r)["alerts"].sum()) for r in RULES},
        "alerts_by_rule": md(counts, limit=len(RULES)),
        "alerts_by_manager": md(by_manager, limit=20),
        "top_alerts": md(top.select("severity", "rule", "account_name", "mrr", "message"), limit=TOP_ALERTS),
    }


def _mismatch_check(name: str, mismatches: pl.DataFrame, checked: int) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=name,
        passed=mismatches.is_empty(),
        metadata={
            "alerts_checked": checked,
            "missing_alerts": int((mismatches["problem"] == "missing alert").sum()) if mismatches.height else 0,
            "unexpected_alerts": int((mismatches["problem"] == "unexpected alert").sum()) if mismatches.height else 0,
            "threshold": 0,
            "examples": md(mismatches),
        },
    )


def _ideas_check(ideas: pl.DataFrame, min_peers: int, min_share: float, max_ideas: int) -> AssetCheckResult:
    per_account = ideas.group_by("account_id", "month").len()
    too_many = per_account.filter(pl.col("len") > max_ideas)
    small = ideas.filter(
        (pl.col("peers") < min_peers) | (pl.col("peer_holders") * 1.0 < pl.col("peers") * min_share - 1e-9)
    )
    return AssetCheckResult(
        check_name="ideas_follow_the_rules",
        passed=too_many.is_empty() and small.is_empty(),
        metadata={
            "ideas_checked": ideas.height,
            "accounts_over_max_ideas": too_many.height,
            "ideas_below_peer_thresholds": small.height,
            "threshold": f"at most {max_ideas} per account and month; peers >= {min_peers}; share >= {min_share}",
            "examples": md(pl.concat([too_many.select("account_id", "month"), small.select("account_id", "month")])),
        },
    )


def build_alert_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    common = mart_asset_options(partitions_def)

    @asset(
        key=ACCOUNT_ALERTS_KEY,
        check_specs=[
            AssetCheckSpec(
                "state_alerts_match_conditions",
                asset=ACCOUNT_ALERTS_KEY,
                blocking=True,
                description=(
                    "Recomputed row by row from the same inputs: every state alert (renewal_risk, gone_quiet, "
                    "overdue, goal_behind) has its condition true in its month and false the month before, and "
                    "every such onset has its alert."
                ),
            ),
            AssetCheckSpec(
                "event_alerts_match_events",
                asset=ACCOUNT_ALERTS_KEY,
                blocking=True,
                description=(
                    "Recomputed row by row from the same inputs: every band_drop, score_drop and detractor alert "
                    "has its event in its month, and every event has its alert."
                ),
            ),
            AssetCheckSpec(
                "one_alert_per_key",
                asset=ACCOUNT_ALERTS_KEY,
                blocking=True,
                description="One alert per account, month, rule (and response for detractors, goal for goals).",
            ),
        ],
        deps=[
            ACCOUNT_MONTHLY_KEY,
            ACCOUNT_HEALTH_KEY,
            ACCOUNT_GOALS_KEY,
            AssetKey(["staging", "accounts"]),
            AssetKey(["staging", "responses"]),
        ],
        description=(
            "One row per alert for account managers, for every month up to the reporting month: the seven "
            "rules of docs/metrics.md (band_drop, score_drop, detractor, renewal_risk, gone_quiet, overdue, "
            "goal_behind) with their thresholds and severities from [alerts] in pipeline.toml; a lasting "
            "condition alerts once. Each alert has a sentence with its numbers and the account's drivers."
        ),
        **common,
    )
    def account_alerts_asset(context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        rules = cfg.alert_rules
        inputs = mart_inputs(
            wh,
            "marts/account_alerts",
            month,
            {
                "alerts": repr(rules),
                "health": repr(cfg.health),
                "currency": cfg.reporting_currency,
                "code": code_fingerprint(*ALERTS_CODE),
            },
            [
                "marts/account_monthly",
                "marts/account_health",
                "marts/account_goals",
                "staging/accounts",
                "staging/responses",
            ],
        )
        data = AlertInputs(wh, month)

        def compute() -> Computed:
            return Computed(
                account_alerts(
                    account_monthly=data.account_monthly,
                    account_health=data.account_health,
                    accounts=data.accounts,
                    responses=data.responses,
                    goals=data.goals,
                    settings=rules,
                    health=cfg.health,
                    currency=cfg.reporting_currency,
                )
            )

        build = build_or_reuse(
            wh, "marts.account_alerts", month, inputs, ACCOUNT_ALERTS, compute, cfg.recompute_unchanged
        )
        report_build(context, "account_alerts", build, month)
        alerts = build.frame
        if data.goals is None:
            context.log.info("marts.account_goals does not exist yet: no goal_behind alerts")
        yield MaterializeResult(
            metadata={
                **month_meta(alerts, month),
                "recomputed": build.recomputed,
                "goals_read": data.goals is not None,
                **_alert_metadata(alerts, data.account_monthly, month),
            }
        )
        conditions = state_conditions(
            account_monthly=data.account_monthly,
            account_health=data.account_health,
            accounts=data.accounts,
            goals=data.goals,
            settings=rules,
            health=cfg.health,
        )
        yield _mismatch_check(
            "state_alerts_match_conditions",
            state_alert_mismatches(alerts, conditions),
            alerts.filter(pl.col("rule").is_in(conditions["rule"].unique().to_list())).height,
        )
        events = expected_event_alerts(
            account_monthly=data.account_monthly,
            account_health=data.account_health,
            responses=data.responses,
            settings=rules,
        )
        yield _mismatch_check("event_alerts_match_events", event_alert_mismatches(alerts, events, rules), events.height)
        yield checks.check_unique(
            alerts, ["account_id", "month", "rule", "response_id", "goal_id"], "one_alert_per_key"
        )

    @asset(
        key=CROSS_SELL_IDEAS_KEY,
        check_specs=[
            AssetCheckSpec(
                "one_row_per_idea",
                asset=CROSS_SELL_IDEAS_KEY,
                blocking=True,
                description="No two rows share account_id, month and product.",
            ),
            AssetCheckSpec(
                "ideas_follow_the_rules",
                asset=CROSS_SELL_IDEAS_KEY,
                blocking=True,
                description="At most max_ideas per account and month; every idea has enough peers and peer share.",
            ),
        ],
        deps=[
            AssetKey(["staging", "subscriptions"]),
            AssetKey(["staging", "accounts"]),
            AssetKey(["staging", "fx_rates"]),
            ACCOUNT_MONTHLY_KEY,
        ],
        description=(
            "Cross-sell ideas per customer and month: products that 40% or more of its peers (other customers "
            "with the same tier and segment, at least 10 of them) have and it has not, ranked by peer share, "
            "at most 3, with the peer share and the median MRR the holders pay ([cross_sell] in pipeline.toml)."
        ),
        **common,
    )
    def cross_sell_ideas_asset(
        context: AssetExecutionContext, warehouse: WarehouseResource, settings: SettingsResource
    ):
        wh, cfg, month = warehouse.get(), settings.get(), reporting_month(context)
        inputs = mart_inputs(
            wh,
            "marts/cross_sell_ideas",
            month,
            {
                "cross_sell": repr(cfg.cross_sell),
                "currency": cfg.reporting_currency,
                "code": code_fingerprint(*ALERTS_CODE),
            },
            ["staging/subscriptions", "staging/accounts", "staging/fx_rates"],
        )

        def compute() -> Computed:
            return Computed(
                build_cross_sell_ideas(
                    subscriptions=read_staging(wh, "subscriptions"),
                    fx_rates=read_staging(wh, "fx_rates"),
                    accounts=read_staging(wh, "accounts"),
                    reporting_month=month,
                    reporting_currency=cfg.reporting_currency,
                    settings=cfg.cross_sell,
                )
            )

        build = build_or_reuse(
            wh, "marts.cross_sell_ideas", month, inputs, CROSS_SELL_IDEAS, compute, cfg.recompute_unchanged
        )
        report_build(context, "cross_sell_ideas", build, month)
        ideas = build.frame
        this = ideas.filter(pl.col("month") == month)
        yield MaterializeResult(
            metadata={
                **month_meta(ideas, month),
                "recomputed": build.recomputed,
                "ideas_this_month": this.height,
                "accounts_with_ideas": this["account_id"].n_unique() if this.height else 0,
                "peer_groups_with_ideas": this.select("tier", "segment").n_unique() if this.height else 0,
                "top_products": md(
                    this.group_by("product")
                    .agg(pl.len().alias("ideas"), pl.col("peer_share").mean().alias("mean_share"))
                    .sort(["ideas", "product"], descending=[True, False]),
                ),
                "preview": md(
                    this.sort(["peer_share", "account_id"], descending=[True, False]).select(
                        "account_id", "product", "peer_share", "peer_median_mrr", "rank", "peers"
                    )
                ),
            }
        )
        yield checks.check_unique(ideas, ["account_id", "month", "product"], "one_row_per_idea")
        cs = cfg.cross_sell
        yield _ideas_check(ideas, cs.min_peers, cs.min_peer_share, cs.max_ideas)

    return [account_alerts_asset, cross_sell_ideas_asset]

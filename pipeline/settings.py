"""Every setting in one typed place.

Settings are read when a run starts (``load_settings()``), never at import time, from
environment variables and an optional ``pipeline.toml`` in the data folder or the
working directory. The health model lives here too, so changing a weight or a threshold
is a configuration change, not a code change.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any

from pipeline.profiles import Profile, ProfileError, resolve_profiles
from pipeline.zipsafe import ZipLimits


class SettingsError(ValueError):
    """A setting is invalid; the message names it and says what is expected."""


@dataclass(frozen=True)
class Measure:
    """One health measure: an input column mapped linearly from zero_at (0) to full_at (100)."""

    name: str
    input: str
    zero_at: float
    full_at: float
    weight: float
    label: str = ""


DEFAULT_MEASURES: tuple[Measure, ...] = (
    Measure("satisfaction", "nps_12m", -100.0, 50.0, 20.0, "Satisfaction (NPS)"),
    Measure("service", "csat_3m", 50.0, 95.0, 10.0, "Service (CSAT)"),
    Measure("engagement", "touch_gap_ratio", 3.0, 1.0, 20.0, "Engagement"),
    Measure("revenue_trend", "revenue_trend_3m", -0.20, 0.10, 25.0, "Revenue trend"),
    Measure("payments", "overdue_ratio", 2.0, 0.0, 10.0, "Payments"),
    Measure("support", "open_high_priority_tickets", 3.0, 0.0, 15.0, "Support"),
)

KNOWN_MEASURES = {m.name: m.input for m in DEFAULT_MEASURES}


@dataclass(frozen=True)
class HealthSettings:
    measures: tuple[Measure, ...] = DEFAULT_MEASURES
    tier_cadence_days: Mapping[str, float] = field(
        default_factory=lambda: {"strategic": 14.0, "key": 30.0, "transactional": 90.0}
    )
    green_at: float = 70.0
    amber_at: float = 40.0
    min_weight_share: float = 0.5

    @property
    def total_weight(self) -> float:
        return sum(m.weight for m in self.measures)

    def validate(self) -> None:
        if not self.measures:
            raise SettingsError("health.measures: at least one measure is needed")
        seen: set[str] = set()
        for m in self.measures:
            where = f"health.measures.{m.name}"
            if m.name not in KNOWN_MEASURES:
                raise SettingsError(f"{where}: unknown measure; known measures are {', '.join(KNOWN_MEASURES)}")
            if m.name in seen:
                raise SettingsError(f"{where}: listed twice")
            seen.add(m.name)
            if not m.weight > 0:
                raise SettingsError(f"{where}.weight must be positive, got {m.weight}")
            if m.zero_at == m.full_at:
                raise SettingsError(f"{where}: zero_at and full_at are both {m.zero_at}; they must differ")
        for tier, days in self.tier_cadence_days.items():
            if not days > 0:
                raise SettingsError(f"health.tier_cadence_days.{tier} must be positive, got {days}")
        if not (0 <= self.amber_at <= self.green_at <= 100):
            raise SettingsError("health.amber_at and health.green_at must satisfy 0 <= amber_at <= green_at <= 100")
        if not (0 < self.min_weight_share <= 1):
            raise SettingsError("health.min_weight_share must be in (0, 1]")


@dataclass(frozen=True)
class Branding:
    company_name: str = "Northwind Account Services"
    primary_color: str = "#1f3a5f"
    accent_color: str = "#2e86ab"
    logo_file: str = "assets/logo.svg"  # relative to report_templates/
    sender_email: str = "reports@northwind.example"
    footer_text: str = "Questions about this report? Reply to this e-mail or contact your account manager."


# Alert rules for account managers (docs/metrics.md, "Alerts"): event rules alert for
# every event in M, state rules when their condition starts to hold.
ALERT_EVENT_RULES = ("band_drop", "score_drop", "detractor")
ALERT_STATE_RULES = ("renewal_risk", "gone_quiet", "overdue", "goal_behind")
ALERT_RULES = (*ALERT_EVENT_RULES, *ALERT_STATE_RULES)
ALERT_SEVERITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class AlertRule:
    """One rule's switch, threshold (None for a rule without one) and severity."""

    enabled: bool = True
    threshold: float | None = None
    severity: str = "medium"


@dataclass(frozen=True)
class AlertSettings:
    """Per rule: enabled, threshold, severity. Defaults follow the alerts' definition.

    Thresholds: score_drop in points (score_change <= it fires); detractor the highest
    NPS score that counts (0-6); renewal_risk the window in months; gone_quiet the
    multiple of the tier cadence (from ``HealthSettings.tier_cadence_days``); overdue an
    amount in the reporting currency (default: the overdue attention threshold, 1000).
    band_drop and goal_behind have no threshold.
    """

    band_drop: AlertRule = AlertRule(True, None, "high")
    score_drop: AlertRule = AlertRule(True, -15.0, "medium")
    detractor: AlertRule = AlertRule(True, 6.0, "medium")
    renewal_risk: AlertRule = AlertRule(True, 3.0, "high")
    gone_quiet: AlertRule = AlertRule(True, 2.0, "medium")
    overdue: AlertRule = AlertRule(True, 1000.0, "medium")
    goal_behind: AlertRule = AlertRule(True, None, "medium")

    def rule(self, name: str) -> AlertRule:
        if name not in ALERT_RULES:
            raise KeyError(f"unknown alert rule {name!r}; rules are {', '.join(ALERT_RULES)}")
        return getattr(self, name)

    def enabled(self, name: str) -> bool:
        return self.rule(name).enabled

    @classmethod
    def from_settings(cls, settings: Settings, base: AlertSettings | None = None) -> AlertSettings:
        """``base`` (default: the defaults) with the overdue threshold taken from
        ``settings.overdue_attention_threshold``, so one setting drives both."""
        base = base or cls()
        return replace(base, overdue=replace(base.overdue, threshold=settings.overdue_attention_threshold))

    def validate(self) -> AlertSettings:
        for f in fields(self):
            r: AlertRule = getattr(self, f.name)
            where = f"alerts.{f.name}"
            if r.severity not in ALERT_SEVERITIES:
                raise SettingsError(
                    f"{where}.severity must be one of {', '.join(ALERT_SEVERITIES)}, got {r.severity!r}"
                )
            t = r.threshold
            if f.name in ("band_drop", "goal_behind"):
                if t is not None:
                    raise SettingsError(f"{where} has no threshold; leave alerts.{f.name}.threshold empty")
                continue
            if t is None:
                raise SettingsError(f"{where}.threshold is needed")
            if f.name == "score_drop" and not t < 0:
                raise SettingsError(f"{where}.threshold is a fall in points and must be below 0, got {t}")
            if f.name == "detractor" and not (0 <= t <= 10 and t == int(t)):
                raise SettingsError(f"{where}.threshold is the highest NPS score that counts, 0..10, got {t}")
            if f.name == "renewal_risk" and not (t >= 1 and t == int(t)):
                raise SettingsError(f"{where}.threshold is the window in whole months (at least 1), got {t}")
            if f.name in ("gone_quiet", "overdue") and not t > 0:
                raise SettingsError(f"{where}.threshold must be positive, got {t}")
        return self


@dataclass(frozen=True)
class CrossSellSettings:
    """Cross-sell ideas: a peer group needs ``min_peers`` other customers; an idea is a
    product at least ``min_peer_share`` of them hold; at most ``max_ideas`` per account."""

    min_peers: int = 10
    min_peer_share: float = 0.4
    max_ideas: int = 3

    def validate(self) -> CrossSellSettings:
        if self.min_peers < 1:
            raise SettingsError(f"cross_sell.min_peers must be at least 1, got {self.min_peers}")
        if not (0 < self.min_peer_share <= 1):
            raise SettingsError(f"cross_sell.min_peer_share must be in (0, 1], got {self.min_peer_share}")
        if self.max_ideas < 1:
            raise SettingsError(f"cross_sell.max_ideas must be at least 1, got {self.max_ideas}")
        return self


BOOK_DELIVERIES = ("attach", "link")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    reporting_currency: str = "usd"
    gross_margin: float = 1.0
    first_month: date = date(2020, 1, 1)
    timezone: str = "UTC"
    health: HealthSettings = field(default_factory=HealthSettings)
    branding: Branding = field(default_factory=Branding)
    show_health_in_client_reports: bool = False
    smtp_url: str | None = field(default=None, repr=False)  # may hold a password
    require_approval: bool = False
    leadership_recipients: tuple[str, ...] = ()
    overdue_attention_threshold: float = 1000.0
    quarantine_rate_threshold: float = 0.05
    freshness_days: int = 45
    render_workers: int = 0  # 0 = one per core
    render_cluster: str | None = None  # tcp://HOST:PORT of a Dask scheduler; None = the local pool
    close_day_of_month: int = 2
    close_hour: int = 6
    automation_running: bool = False  # schedules and sensors ship stopped unless this is true
    sensor_interval_seconds: int = 60
    recompute_unchanged: bool = False  # rebuild staging and marts even when their inputs did not change
    # What DuckDB may hold in memory before it spills to disk beside the warehouse file
    # (DuckDB's own default is 80% of the machine's memory); "" = DuckDB's default.
    warehouse_memory_limit: str = "2GB"
    # Alerts and cross-sell ideas ([alerts] and [cross_sell] in pipeline.toml). alerts=None:
    # the defaults, with the overdue threshold following overdue_attention_threshold.
    alerts: AlertSettings | None = None
    cross_sell: CrossSellSettings = field(default_factory=CrossSellSettings)
    alerts_immediate: bool = False  # also e-mail each new alert when the run that raised it finishes
    manager_book_delivery: str = "attach"  # attach: the book's PDF rides along; link: a link to it
    reports_url: str | None = None  # where the reports folder is served (the links of "link")
    # Backups and recovery (README "Backups and recovery"). ledger_url: where the delivery
    # ledger lives: None = ledger.sqlite beside the warehouse; "dagster" = the Dagster
    # instance's PostgreSQL (the DAGSTER_PG_* variables); or a SQLAlchemy URL.
    ledger_url: str | None = field(default=None, repr=False)  # may hold a password
    snapshot_retention: int = 3  # snapshots of the warehouse kept in data/backups (0 = none taken)
    operator_recipients: tuple[str, ...] = ()  # who hears about failed runs and held deliveries
    # Vendor exports (README "Pointing it at real exports"): the built-in profiles and the
    # [[profiles]] of pipeline.toml; the limits an archive in landing/<system>/ must keep.
    profiles: tuple[Profile, ...] = field(default_factory=resolve_profiles, repr=False)
    zip_max_entries: int = 5000
    zip_max_total_bytes: int = 4 << 30
    zip_max_ratio: float = 200.0

    @property
    def alert_rules(self) -> AlertSettings:
        """The alert settings in force (see ``alerts``)."""
        return self.alerts if self.alerts is not None else AlertSettings.from_settings(self)

    @property
    def zip_limits(self) -> ZipLimits:
        return ZipLimits(self.zip_max_entries, self.zip_max_total_bytes, self.zip_max_ratio)

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    def validate(self) -> Settings:
        cur = self.reporting_currency
        if len(cur) != 3 or not cur.isalpha():
            raise SettingsError(f"PIPELINE_REPORTING_CURRENCY must be a three-letter ISO 4217 code, got {cur!r}")
        if not (0 < self.gross_margin <= 1):
            raise SettingsError(f"PIPELINE_GROSS_MARGIN must be in (0, 1], got {self.gross_margin}")
        if not (1 <= self.close_day_of_month <= 28):
            raise SettingsError(f"PIPELINE_CLOSE_DAY_OF_MONTH must be 1..28, got {self.close_day_of_month}")
        if not (0 <= self.close_hour <= 23):
            raise SettingsError(f"PIPELINE_CLOSE_HOUR must be 0..23, got {self.close_hour}")
        if not (0 <= self.snapshot_retention <= 1000):
            raise SettingsError(
                f"PIPELINE_SNAPSHOT_RETENTION must be 0..1000 (the closes whose snapshot is kept), got {self.snapshot_retention}"
            )
        if self.warehouse_memory_limit and not re.fullmatch(
            r"\d+(\.\d+)?(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", self.warehouse_memory_limit, flags=re.IGNORECASE
        ):
            raise SettingsError(
                "PIPELINE_WAREHOUSE_MEMORY_LIMIT must be an amount like 2GB or 512MiB "
                f"(or empty for DuckDB's default), got {self.warehouse_memory_limit!r}"
            )
        if self.render_cluster is not None and not re.fullmatch(
            r"(tcp|tls)://[A-Za-z0-9_.\-\[\]:]+:\d{1,5}", self.render_cluster
        ):
            raise SettingsError(
                "PIPELINE_RENDER_CLUSTER must be a Dask scheduler address like tcp://10.0.0.5:8786 "
                f"(or empty for the local render pool), got {self.render_cluster!r}"
            )
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception:
            raise SettingsError(f"PIPELINE_TIMEZONE {self.timezone!r} is not a known IANA time zone") from None
        self.health.validate()
        self.alert_rules.validate()
        self.cross_sell.validate()
        if self.manager_book_delivery not in BOOK_DELIVERIES:
            raise SettingsError(
                f"PIPELINE_MANAGER_BOOK_DELIVERY must be attach or link, got {self.manager_book_delivery!r}"
            )
        if self.manager_book_delivery == "link" and not self.reports_url:
            raise SettingsError(
                "PIPELINE_MANAGER_BOOK_DELIVERY=link needs PIPELINE_REPORTS_URL, the address where the "
                "reports folder is served (https://reports.example.com/), to build the links"
            )
        if self.zip_max_entries < 1 or self.zip_max_total_bytes < 1 or not self.zip_max_ratio > 1:
            raise SettingsError(
                "PIPELINE_ZIP_MAX_ENTRIES and PIPELINE_ZIP_MAX_TOTAL_BYTES must be at least 1 and "
                f"PIPELINE_ZIP_MAX_RATIO above 1, got {self.zip_max_entries}, {self.zip_max_total_bytes}, {self.zip_max_ratio}"
            )
        if self.reports_url is not None and not re.fullmatch(r"https?://[^\s<>\"']+", self.reports_url):
            raise SettingsError(f"PIPELINE_REPORTS_URL must be an http(s) address, got {self.reports_url!r}")
        return self


def _parse_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _parse_float(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a number, got {value!r}") from None


def _health_from_toml(data: Mapping[str, Any], base: HealthSettings) -> HealthSettings:
    """[health] section: thresholds, tier_cadence_days table and [[health.measures]] rows."""
    kwargs: dict[str, Any] = {}
    for key in ("green_at", "amber_at", "min_weight_share"):
        if key in data:
            kwargs[key] = _parse_float(f"health.{key}", data[key])
    if "tier_cadence_days" in data:
        kwargs["tier_cadence_days"] = {
            str(k).lower(): _parse_float(f"health.tier_cadence_days.{k}", v)
            for k, v in data["tier_cadence_days"].items()
        }
    if "measures" in data:
        defaults = {m.name: m for m in DEFAULT_MEASURES}
        measures = []
        for i, row in enumerate(data["measures"]):
            name = str(row.get("name", "")).strip()
            if name not in KNOWN_MEASURES:
                raise SettingsError(
                    f"health.measures[{i}].name: unknown measure {name!r}; "
                    f"known measures are {', '.join(KNOWN_MEASURES)}"
                )
            d = defaults[name]
            measures.append(
                Measure(
                    name=name,
                    input=KNOWN_MEASURES[name],
                    zero_at=_parse_float(f"health.measures.{name}.zero_at", row.get("zero_at", d.zero_at)),
                    full_at=_parse_float(f"health.measures.{name}.full_at", row.get("full_at", d.full_at)),
                    weight=_parse_float(f"health.measures.{name}.weight", row.get("weight", d.weight)),
                    label=str(row.get("label", d.label)),
                )
            )
        kwargs["measures"] = tuple(measures)
    return replace(base, **kwargs)


def _alerts_from_toml(data: Mapping[str, Any], base: AlertSettings) -> AlertSettings:
    """[alerts] section: one table per rule with enabled, threshold and severity."""
    kwargs: dict[str, Any] = {}
    for name, row in data.items():
        if name not in ALERT_RULES:
            raise SettingsError(f"alerts.{name}: unknown alert rule; rules are {', '.join(ALERT_RULES)}")
        if not isinstance(row, Mapping):
            raise SettingsError(f"alerts.{name} must be a table (enabled, threshold, severity)")
        unknown = set(row) - {"enabled", "threshold", "severity"}
        if unknown:
            raise SettingsError(
                f"alerts.{name}: unknown key(s) {', '.join(sorted(unknown))}; use enabled, threshold and severity"
            )
        rule = base.rule(name)
        enabled = row.get("enabled", rule.enabled)
        if not isinstance(enabled, bool):
            enabled = _parse_bool(f"alerts.{name}.enabled", str(enabled))
        threshold = row.get("threshold", rule.threshold)
        if threshold is not None:
            threshold = _parse_float(f"alerts.{name}.threshold", threshold)
        severity = str(row.get("severity", rule.severity)).strip().lower()
        kwargs[name] = AlertRule(enabled, threshold, severity)
    return replace(base, **kwargs)


def _cross_sell_from_toml(data: Mapping[str, Any], base: CrossSellSettings) -> CrossSellSettings:
    kwargs: dict[str, Any] = {}
    for key, raw in data.items():
        if key in ("min_peers", "max_ideas"):
            kwargs[key] = int(_parse_float(f"cross_sell.{key}", raw))
        elif key == "min_peer_share":
            kwargs[key] = _parse_float(f"cross_sell.{key}", raw)
        else:
            raise SettingsError(f"cross_sell.{key}: unknown setting; use min_peers, min_peer_share, max_ideas")
    return replace(base, **kwargs)


def _find_toml(env: Mapping[str, str], data_dir: Path) -> Path | None:
    explicit = env.get("PIPELINE_SETTINGS_FILE")
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise SettingsError(f"PIPELINE_SETTINGS_FILE points at {p}, which does not exist")
        return p
    for candidate in (data_dir / "pipeline.toml", Path("pipeline.toml")):
        if candidate.is_file():
            return candidate
    return None


# Settings given as TOML tables, never as one value (nor from the environment).
SECTIONS = frozenset({"health", "branding", "alerts", "cross_sell", "profiles"})


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (and pipeline.toml); validate them."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("PIPELINE_DATA_DIR", "data"))
    s = Settings(data_dir=data_dir)

    toml_path = _find_toml(env, data_dir)
    alerts_doc = None
    if toml_path is not None:
        try:
            doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{toml_path} is not valid TOML: {exc}") from None
        top = {k: v for k, v in doc.items() if k not in SECTIONS}
        simple = {f.name for f in fields(Settings)} - SECTIONS - {"data_dir"}
        for key in top:
            if key not in simple:
                raise SettingsError(f"{toml_path}: unknown setting {key!r}")
        s = _apply_simple(s, top, source=str(toml_path))
        if "health" in doc:
            s = replace(s, health=_health_from_toml(doc["health"], s.health))
        if "branding" in doc:
            known = {f.name for f in fields(Branding)}
            for key in doc["branding"]:
                if key not in known:
                    raise SettingsError(f"{toml_path}: unknown branding setting {key!r}")
            s = replace(s, branding=replace(s.branding, **doc["branding"]))
        if "cross_sell" in doc:
            s = replace(s, cross_sell=_cross_sell_from_toml(doc["cross_sell"], s.cross_sell))
        alerts_doc = doc.get("alerts")
        if "profiles" in doc:
            if not isinstance(doc["profiles"], list):
                raise SettingsError(f"{toml_path}: profiles must be [[profiles]] tables")
            try:
                s = replace(s, profiles=resolve_profiles(doc["profiles"], origin=str(toml_path)))
            except ProfileError as exc:
                raise SettingsError(str(exc)) from None
    env_map = {
        f.name: env[f"PIPELINE_{f.name.upper()}"]
        for f in fields(Settings)
        if f.name not in SECTIONS and f.name != "data_dir" and f"PIPELINE_{f.name.upper()}" in env
    }
    s = _apply_simple(s, env_map, source="environment")
    # After the environment: the overdue alert follows overdue_attention_threshold unless
    # [alerts.overdue] names its own threshold.
    alerts = AlertSettings.from_settings(s)
    if alerts_doc is not None:
        if not isinstance(alerts_doc, Mapping):
            raise SettingsError(f"{toml_path}: alerts must be a table of rules")
        alerts = _alerts_from_toml(alerts_doc, alerts)
    s = replace(s, alerts=alerts)
    return s.validate()


def _apply_simple(s: Settings, values: Mapping[str, Any], source: str) -> Settings:
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        name = f"PIPELINE_{key.upper()}" if source == "environment" else key
        if key == "reporting_currency":
            kwargs[key] = str(raw).strip().lower()
        elif key in ("gross_margin", "overdue_attention_threshold", "quarantine_rate_threshold", "zip_max_ratio"):
            kwargs[key] = _parse_float(name, raw)
        elif key in (
            "freshness_days",
            "render_workers",
            "close_day_of_month",
            "close_hour",
            "sensor_interval_seconds",
            "snapshot_retention",
            "zip_max_entries",
            "zip_max_total_bytes",
        ):
            kwargs[key] = int(_parse_float(name, raw))
        elif key in (
            "show_health_in_client_reports",
            "require_approval",
            "automation_running",
            "recompute_unchanged",
            "alerts_immediate",
        ):
            kwargs[key] = raw if isinstance(raw, bool) else _parse_bool(name, str(raw))
        elif key == "first_month":
            try:
                d = date.fromisoformat(str(raw)[:7] + "-01")
            except ValueError:
                raise SettingsError(f"{name} must be YYYY-MM, got {raw!r}") from None
            kwargs[key] = d
        elif key in ("leadership_recipients", "operator_recipients"):
            items = raw if isinstance(raw, list) else str(raw).split(";")
            kwargs[key] = tuple(x.strip() for x in items if str(x).strip())
        elif key == "ledger_url":
            kwargs[key] = str(raw).strip() or None
        elif key == "smtp_url":
            kwargs[key] = str(raw) or None
        elif key == "render_cluster":
            kwargs[key] = str(raw).strip() or None
        elif key == "warehouse_memory_limit":
            kwargs[key] = str(raw).strip().replace(" ", "")
        elif key == "manager_book_delivery":
            kwargs[key] = str(raw).strip().lower()
        elif key == "reports_url":
            kwargs[key] = str(raw).strip() or None
        elif key == "timezone":
            kwargs[key] = str(raw)
    return replace(s, **kwargs)

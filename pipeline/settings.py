"""Every setting in one typed place.

Settings are read when a run starts (``load_settings()``), never at import time, from
environment variables and an optional ``pipeline.toml`` in the data folder or the
working directory. The health model lives here too, so changing a weight or a threshold
is a configuration change, not a code change.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import date
from pathlib import Path
from typing import Any, Mapping


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
                raise SettingsError(
                    f"{where}: unknown measure; known measures are {', '.join(KNOWN_MEASURES)}"
                )
            if m.name in seen:
                raise SettingsError(f"{where}: listed twice")
            seen.add(m.name)
            if not m.weight > 0:
                raise SettingsError(f"{where}.weight must be positive, got {m.weight}")
            if m.zero_at == m.full_at:
                raise SettingsError(
                    f"{where}: zero_at and full_at are both {m.zero_at}; they must differ"
                )
        for tier, days in self.tier_cadence_days.items():
            if not days > 0:
                raise SettingsError(f"health.tier_cadence_days.{tier} must be positive, got {days}")
        if not (0 <= self.amber_at <= self.green_at <= 100):
            raise SettingsError(
                "health.amber_at and health.green_at must satisfy 0 <= amber_at <= green_at <= 100"
            )
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
    close_day_of_month: int = 2
    close_hour: int = 6
    automation_running: bool = False  # schedules and sensors ship stopped unless this is true
    sensor_interval_seconds: int = 60
    recompute_unchanged: bool = False  # rebuild staging and marts even when their inputs did not change

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

    def validate(self) -> "Settings":
        cur = self.reporting_currency
        if len(cur) != 3 or not cur.isalpha():
            raise SettingsError(
                f"PIPELINE_REPORTING_CURRENCY must be a three-letter ISO 4217 code, got {cur!r}"
            )
        if not (0 < self.gross_margin <= 1):
            raise SettingsError(f"PIPELINE_GROSS_MARGIN must be in (0, 1], got {self.gross_margin}")
        if not (1 <= self.close_day_of_month <= 28):
            raise SettingsError(f"PIPELINE_CLOSE_DAY_OF_MONTH must be 1..28, got {self.close_day_of_month}")
        if not (0 <= self.close_hour <= 23):
            raise SettingsError(f"PIPELINE_CLOSE_HOUR must be 0..23, got {self.close_hour}")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception:
            raise SettingsError(f"PIPELINE_TIMEZONE {self.timezone!r} is not a known IANA time zone") from None
        self.health.validate()
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


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from the environment (and pipeline.toml); validate them."""
    env = os.environ if env is None else env
    data_dir = Path(env.get("PIPELINE_DATA_DIR", "data"))
    s = Settings(data_dir=data_dir)

    toml_path = _find_toml(env, data_dir)
    if toml_path is not None:
        try:
            doc = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{toml_path} is not valid TOML: {exc}") from None
        top = {k: v for k, v in doc.items() if k not in ("health", "branding")}
        simple = {f.name for f in fields(Settings)} - {"health", "branding", "data_dir"}
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

    env_map = {
        f.name: env[f"PIPELINE_{f.name.upper()}"]
        for f in fields(Settings)
        if f.name not in ("health", "branding", "data_dir") and f"PIPELINE_{f.name.upper()}" in env
    }
    s = _apply_simple(s, env_map, source="environment")
    return s.validate()


def _apply_simple(s: Settings, values: Mapping[str, Any], source: str) -> Settings:
    kwargs: dict[str, Any] = {}
    for key, raw in values.items():
        name = f"PIPELINE_{key.upper()}" if source == "environment" else key
        if key == "reporting_currency":
            kwargs[key] = str(raw).strip().lower()
        elif key in ("gross_margin", "overdue_attention_threshold", "quarantine_rate_threshold"):
            kwargs[key] = _parse_float(name, raw)
        elif key in ("freshness_days", "render_workers", "close_day_of_month", "close_hour", "sensor_interval_seconds"):
            kwargs[key] = int(_parse_float(name, raw))
        elif key in ("show_health_in_client_reports", "require_approval", "automation_running", "recompute_unchanged"):
            kwargs[key] = raw if isinstance(raw, bool) else _parse_bool(name, str(raw))
        elif key == "first_month":
            try:
                d = date.fromisoformat(str(raw)[:7] + "-01")
            except ValueError:
                raise SettingsError(f"{name} must be YYYY-MM, got {raw!r}") from None
            kwargs[key] = d
        elif key == "leadership_recipients":
            items = raw if isinstance(raw, list) else str(raw).split(";")
            kwargs[key] = tuple(x.strip() for x in items if str(x).strip())
        elif key == "smtp_url":
            kwargs[key] = str(raw) or None
        elif key == "timezone":
            kwargs[key] = str(raw)
    return replace(s, **kwargs)

"""Settings of the alerts, the cross-sell ideas and the managers' e-mails: [alerts] and
[cross_sell] in pipeline.toml, PIPELINE_ALERTS_IMMEDIATE, PIPELINE_MANAGER_BOOK_DELIVERY."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.settings import AlertRule, AlertSettings, CrossSellSettings, Settings, SettingsError, load_settings


def env(tmp_path: Path, text: str = "", **extra: str) -> dict[str, str]:
    p = tmp_path / "pipeline.toml"
    p.write_text(text)
    return {"PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_SETTINGS_FILE": str(p), **extra}


def test_defaults_follow_the_metrics_and_the_overdue_attention_threshold(tmp_path: Path) -> None:
    s = load_settings(env(tmp_path))
    assert s.alert_rules == AlertSettings()
    assert s.cross_sell == CrossSellSettings(10, 0.4, 3)
    assert (s.alerts_immediate, s.manager_book_delivery, s.reports_url) == (False, "attach", None)
    # one setting drives the overdue attention list and the overdue alert
    s = load_settings(env(tmp_path, PIPELINE_OVERDUE_ATTENTION_THRESHOLD="2500"))
    assert s.alert_rules.overdue == AlertRule(True, 2500.0, "medium")
    assert Settings(overdue_attention_threshold=700.0).alert_rules.overdue.threshold == 700.0


def test_each_rule_on_off_threshold_and_severity_from_toml(tmp_path: Path) -> None:
    s = load_settings(
        env(
            tmp_path,
            """
[alerts.score_drop]
threshold = -20
severity = "high"

[alerts.gone_quiet]
enabled = false

[alerts.overdue]
severity = "low"

[cross_sell]
min_peers = 5
min_peer_share = 0.5
max_ideas = 2
""",
            PIPELINE_OVERDUE_ATTENTION_THRESHOLD="1500",
            PIPELINE_ALERTS_IMMEDIATE="true",
        )
    )
    rules = s.alert_rules
    assert rules.score_drop == AlertRule(True, -20.0, "high")
    assert rules.gone_quiet == AlertRule(False, 2.0, "medium")
    assert rules.overdue == AlertRule(True, 1500.0, "low")  # no threshold of its own: the attention one
    assert rules.band_drop == AlertSettings().band_drop
    assert s.cross_sell == CrossSellSettings(5, 0.5, 2)
    assert s.alerts_immediate is True
    s = load_settings(
        env(tmp_path, "[alerts.overdue]\nthreshold = 5000\n", PIPELINE_OVERDUE_ATTENTION_THRESHOLD="1500")
    )
    assert s.alert_rules.overdue.threshold == 5000.0 and s.overdue_attention_threshold == 1500.0


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("[alerts.band_fall]\nenabled = true\n", {}, "alerts.band_fall: unknown alert rule"),
        ("[alerts.score_drop]\nthreshold = 10\n", {}, "must be below 0"),
        ("[alerts.detractor]\nseverity = 'urgent'\n", {}, "severity must be one of high, medium, low"),
        ("[alerts.renewal_risk]\nwindow = 3\n", {}, "unknown key"),
        ("[alerts.band_drop]\nthreshold = 1\n", {}, "has no threshold"),
        ("[cross_sell]\nmin_peer_share = 1.5\n", {}, "cross_sell.min_peer_share"),
        ("[cross_sell]\npeers = 3\n", {}, "cross_sell.peers: unknown setting"),
        ("", {"PIPELINE_MANAGER_BOOK_DELIVERY": "fax"}, "must be attach or link"),
        ("", {"PIPELINE_MANAGER_BOOK_DELIVERY": "link"}, "needs PIPELINE_REPORTS_URL"),
        ("", {"PIPELINE_REPORTS_URL": "javascript:alert(1)"}, "must be an http"),
        ("", {"PIPELINE_ALERTS_IMMEDIATE": "sometimes"}, "PIPELINE_ALERTS_IMMEDIATE must be true or false"),
    ],
)
def test_invalid_settings_name_the_setting(tmp_path: Path, text: str, extra: dict, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env(tmp_path, text, **extra))


def test_link_delivery_with_an_address(tmp_path: Path) -> None:
    s = load_settings(
        env(
            tmp_path,
            PIPELINE_MANAGER_BOOK_DELIVERY="Link",
            PIPELINE_REPORTS_URL="https://reports.northwind.example/books/",
        )
    )
    assert (s.manager_book_delivery, s.reports_url) == ("link", "https://reports.northwind.example/books/")

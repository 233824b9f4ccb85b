"""Settings as a Dagster resource, read when a run starts (never at import time)."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import PrivateAttr

from pipeline.settings import Settings, load_settings


class SettingsResource(ConfigurableResource):
    """Pipeline settings from the environment and pipeline.toml (see the README's Settings)."""

    _settings: Settings | None = PrivateAttr(default=None)

    def get(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

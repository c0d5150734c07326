"""What a command needs before it does anything: valid settings, logging, the runtime.

Commands call these inside their body, not at import, so `--help` works with any settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config.logging import configure_logging
from config.settings import Settings, get_settings

if TYPE_CHECKING:
    from workers.runtime import Runtime


def settings() -> Settings:
    """The settings (a SettingsError reaches the error boundary), with logging configured."""
    loaded = get_settings()
    configure_logging(loaded.log_format, loaded.log_level)
    return loaded


def runtime() -> Runtime:
    """The process's Runtime (Redis, broker, stores, Salesforce gateway) on valid settings."""
    settings()
    # Imported here: workers.broker reads the settings when it is imported.
    from workers.runtime import get_runtime

    return get_runtime()

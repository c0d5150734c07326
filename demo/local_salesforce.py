"""The local Salesforce emulator for commands that run without an org: cardsync's one door to it.

`cardsync demo` and `cardsync preview` start it when Salesforce is not configured, and the
`cardsync emulator` commands are the emulator's own CLI. Production code imports emulators/ only
through this module (tests/test_imports.py and the import-linter contracts check it).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from config.settings import AuthFlow, SalesforceSettings
from emulators.cli import emulator_app
from emulators.salesforce.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from emulators.salesforce.server import RunningEmulator, start_emulator

__all__ = [
    "emulator_app",
    "emulator_env",
    "emulator_settings",
    "start_local_salesforce",
]


def start_local_salesforce(*, seed: Path | None, data_dir: Path) -> RunningEmulator:
    """A serving emulator with the demo org (or `seed`), its certificates and state in data_dir."""
    return start_emulator(seed=seed, data_dir=data_dir)


def emulator_settings(emulator: RunningEmulator, base: SalesforceSettings) -> SalesforceSettings:
    """`base` pointed at the emulator, as the demo's connected app."""
    return base.model_copy(
        update={
            "login_url": emulator.url,
            "auth_flow": AuthFlow.CLIENT_CREDENTIALS,
            "client_id": DEMO_CLIENT_ID,
            "client_secret": SecretStr(DEMO_CLIENT_SECRET),
            "ca_bundle": emulator.ca_file,
        }
    )


def emulator_env(emulator: RunningEmulator) -> dict[str, str]:
    """The same as environment variables, for worker processes."""
    return {
        "CARDSYNC_SALESFORCE__LOGIN_URL": emulator.url,
        "CARDSYNC_SALESFORCE__AUTH_FLOW": AuthFlow.CLIENT_CREDENTIALS.value,
        "CARDSYNC_SALESFORCE__CLIENT_ID": DEMO_CLIENT_ID,
        "CARDSYNC_SALESFORCE__CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "CARDSYNC_SALESFORCE__CA_BUNDLE": str(emulator.ca_file),
    }

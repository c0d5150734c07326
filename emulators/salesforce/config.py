"""The emulator's tunables; the API reads them on every request, so tests may change them live."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulators.salesforce.credentials import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    INTEGRATION_USERNAME,
)

DEFAULT_API_VERSION = "62.0"


@dataclass
class EmulatorConfig:
    # Records per query page; Salesforce uses 2000 (tests use a small one to exercise paging).
    page_size: int = 2000
    # Data API calls allowed per day; past it every call answers 403 REQUEST_LIMIT_EXCEEDED.
    daily_api_limit: int = 1_000_000
    # Added to every data API response, to make a local run feel like the real network.
    latency_ms: int = 0
    # A token unused this long is expired (Salesforce's default session timeout is 2 hours).
    session_timeout_s: float = 7200.0
    # Records per sObject Collections call.
    max_collection_size: int = 200
    # One line per request on stderr.
    log_requests: bool = False
    # Connected apps: consumer key -> consumer secret.
    clients: dict[str, str] = field(default_factory=lambda: {DEMO_CLIENT_ID: DEMO_CLIENT_SECRET})
    # The user the client credentials flow runs as (the connected app's "Run As" user).
    run_as_username: str = INTEGRATION_USERNAME
    # Org duplicate rules on upserts that would create a record: {"sobject": "Contact",
    # "field": "Email", "action": "block" | "alert"}. A match answers DUPLICATES_DETECTED (with
    # the matching records when the Sforce-Duplicate-Rule-Header asks includeRecordDetails);
    # an alert rule saves anyway when the header says allowSave=true.
    duplicate_rules: list[dict[str, str]] = field(default_factory=list)

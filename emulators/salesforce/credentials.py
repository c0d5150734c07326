"""The demo org's credentials: the connected app and the integration user every token runs as.

Public on purpose: they only open the local emulator (see docs/emulator.md).
"""

from __future__ import annotations

DEMO_CLIENT_ID = "cardsync-demo"
DEMO_CLIENT_SECRET = "cardsync-demo-secret"
INTEGRATION_USERNAME = "integration@cardsync.example"
INTEGRATION_PASSWORD = "cardsync-demo"
INTEGRATION_SECURITY_TOKEN = "cardsyncDemoToken"

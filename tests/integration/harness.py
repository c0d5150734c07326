"""Run the real pipeline for a test: worker processes, a real Redis, the emulator over HTTPS."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce import Salesforce

from config.settings import SalesforceSettings, load_settings
from demo.run import start_workers, stop_workers, wait_for_drain
from emulators.salesforce.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from workers.ops.status import Status
from workers.runtime import Runtime
from workers.salesforce.gateway import build_session


def pipeline_env(redis_url: str, emulator: Any, **extra: str) -> dict[str, str]:
    return {
        "CARDSYNC_REDIS_URL": redis_url,
        "CARDSYNC_SALESFORCE__LOGIN_URL": emulator.url,
        "CARDSYNC_SALESFORCE__AUTH_FLOW": "client_credentials",
        "CARDSYNC_SALESFORCE__CLIENT_ID": DEMO_CLIENT_ID,
        "CARDSYNC_SALESFORCE__CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "CARDSYNC_SALESFORCE__CA_BUNDLE": str(emulator.ca_file),
        "CARDSYNC_PIPELINE__LINGER_MS": "300",
        "CARDSYNC_LOG_FORMAT": "json",
        **extra,
    }


def runtime_for(env: dict[str, str]) -> Runtime:
    os.environ.update(env)
    return Runtime(load_settings())


@contextlib.contextmanager
def pipeline_runtime(env: dict[str, str]) -> Iterator[Runtime]:
    """A runtime on `env`, with `env` set in this process until the block ends."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield runtime_for(env)


@contextlib.contextmanager
def running_workers(
    env: dict[str, str], log_path: Path, processes: int = 2, threads: int = 4
) -> Iterator[Any]:
    with log_path.open("ab") as log_file:
        process = start_workers({**os.environ, **env}, processes, threads, log_file)
        try:
            yield process
        finally:
            stop_workers(process)


def wait_drained(rt: Runtime, import_id: str, workers: Any, timeout_s: float = 300) -> Status:
    drained, status = wait_for_drain(rt, import_id, workers, timeout_s)
    assert drained, f"pipeline did not drain in {timeout_s}s: {status.to_dict()}"
    return status


def salesforce_client(emulator: Any) -> Salesforce:
    session = build_session(SalesforceSettings(timeout_s=30, ca_bundle=emulator.ca_file))
    token = session.post(
        f"{emulator.url}/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
        },
        timeout=10,
    ).json()
    return Salesforce(
        instance_url=token["instance_url"], session_id=token["access_token"], session=session
    )

"""Fixtures for the emulator tests: a shared emulator and clients that log in like cardsync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceError

from emulators.salesforce.credentials import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from emulators.salesforce.server import RunningEmulator, start_emulator

API_VERSION = "62.0"


@pytest.fixture(scope="session")
def ca_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("emulator-ca")


@pytest.fixture(scope="session")
def emulator(ca_dir: Path) -> Iterator[RunningEmulator]:
    """One emulator with the default org for the whole session; tests use their own ids."""
    running = start_emulator(data_dir=ca_dir)
    yield running
    running.stop()


@pytest.fixture()
def start(ca_dir: Path) -> Iterator[Callable[..., RunningEmulator]]:
    """Start emulators with custom options; each is stopped after the test."""
    started: list[RunningEmulator] = []

    def _start(**options: Any) -> RunningEmulator:
        running = start_emulator(data_dir=ca_dir, **options)
        started.append(running)
        return running

    yield _start
    for running in started:
        running.stop()


@dataclass
class Client:
    session: requests.Session
    token: dict[str, Any]
    # Any: simple-salesforce types `sf.Contact` as a union with its bulk handlers.
    sf: Any

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        """A raw call on the data API, to look at status codes and headers."""
        return self.session.get(self.url(path), headers=self.headers(), **kwargs)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.url(path), headers=self.headers(), **kwargs)

    def url(self, path: str) -> str:
        return f"{self.token['instance_url']}/services/data/v{API_VERSION}/{path}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token['access_token']}"}


def content(error: SalesforceError) -> Any:
    """The decoded JSON body simple-salesforce attaches to an error (typed there as bytes)."""
    return error.content


def https_session(emulator: RunningEmulator) -> requests.Session:
    """A session that trusts the emulator's CA, as cardsync's CA_BUNDLE setting does."""
    session = requests.Session()
    session.verify = str(emulator.ca_file)
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override `session.verify`; machines
    # that set them (many CI images do) would otherwise distrust the emulator's CA.
    session.trust_env = False
    return session


def request_token(emulator: RunningEmulator, **form: str) -> requests.Response:
    return https_session(emulator).post(f"{emulator.url}/services/oauth2/token", data=form)


def connect(emulator: RunningEmulator, **form: str) -> Client:
    """Log in as cardsync does: POST the token endpoint, hand the token to simple-salesforce."""
    session = https_session(emulator)
    form = form or {
        "grant_type": "client_credentials",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    response = session.post(f"{emulator.url}/services/oauth2/token", data=form)
    assert response.status_code == 200, response.text
    token = response.json()
    sf = Salesforce(
        instance_url=token["instance_url"],
        session_id=token["access_token"],
        session=session,
        version=API_VERSION,
    )
    return Client(session, token, sf)


@pytest.fixture(scope="session")
def client(emulator: RunningEmulator) -> Client:
    return connect(emulator)

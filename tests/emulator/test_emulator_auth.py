"""OAuth grants, bearer sessions, API usage accounting and the org-level resources."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from emulators.salesforce.auth import set_password
from emulators.salesforce.credentials import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    INTEGRATION_PASSWORD,
    INTEGRATION_SECURITY_TOKEN,
    INTEGRATION_USERNAME,
)
from emulators.salesforce.server import RunningEmulator

from .conftest import Client, connect, https_session, request_token

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def integration_user_id(emulator: RunningEmulator) -> str:
    return emulator.store.query_records("User", Username=INTEGRATION_USERNAME)[0]["Id"]


def test_client_credentials_token(emulator: RunningEmulator) -> None:
    response = request_token(
        emulator,
        grant_type="client_credentials",
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
    )
    assert response.status_code == 200
    token = response.json()
    assert token["instance_url"] == emulator.url
    assert token["token_type"] == "Bearer"
    assert token["id"] == (
        f"{emulator.url}/id/{emulator.store.org_id}/{integration_user_id(emulator)}"
    )
    expected = hmac.new(
        DEMO_CLIENT_SECRET.encode(), (token["id"] + token["issued_at"]).encode(), hashlib.sha256
    ).digest()
    assert base64.b64decode(token["signature"]) == expected


@pytest.mark.parametrize(
    "password", [INTEGRATION_PASSWORD, INTEGRATION_PASSWORD + INTEGRATION_SECURITY_TOKEN]
)
def test_password_grant_with_or_without_security_token(
    emulator: RunningEmulator, password: str
) -> None:
    client = connect(
        emulator,
        grant_type="password",
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        username="Integration@CardSync.example",
        password=password,
    )
    assert client.token["id"].endswith(integration_user_id(emulator))
    assert client.sf.query("SELECT COUNT() FROM User")["totalSize"] == 10


def _jwt(key: rsa.RSAPrivateKey, **claims: object) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwt.encode(claims, pem, algorithm="RS256")


def test_jwt_bearer_grant(emulator: RunningEmulator) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assertion = _jwt(
        key,
        iss=DEMO_CLIENT_ID,
        sub=INTEGRATION_USERNAME,
        aud=emulator.url,
        exp=int(time.time()) + 180,
    )
    client = connect(emulator, grant_type=JWT_GRANT, assertion=assertion)
    assert client.sf.query("SELECT Id FROM User LIMIT 1")["totalSize"] == 1

    for claims in (
        {"iss": "someone-else", "sub": INTEGRATION_USERNAME},
        {"iss": DEMO_CLIENT_ID, "sub": "nobody@example.com"},
        {"iss": DEMO_CLIENT_ID, "sub": "takahashi@example.co.jp"},  # inactive
        {"iss": DEMO_CLIENT_ID, "sub": INTEGRATION_USERNAME, "exp": int(time.time()) - 10},
    ):
        response = request_token(emulator, grant_type=JWT_GRANT, assertion=_jwt(key, **claims))
        assert response.status_code == 400, claims
    assert request_token(emulator, grant_type=JWT_GRANT, assertion="x.y").status_code == 400


@pytest.mark.parametrize(
    ("form", "error"),
    [
        (
            {
                "grant_type": "password",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "username": INTEGRATION_USERNAME,
                "password": "wrong",
            },
            "invalid_grant",
        ),
        (
            {
                "grant_type": "password",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": DEMO_CLIENT_SECRET,
                "username": "nobody@example.com",
                "password": INTEGRATION_PASSWORD,
            },
            "invalid_grant",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": DEMO_CLIENT_ID,
                "client_secret": "wrong",
            },
            "invalid_client",
        ),
        (
            {
                "grant_type": "client_credentials",
                "client_id": "unknown",
                "client_secret": DEMO_CLIENT_SECRET,
            },
            "invalid_client_id",
        ),
        ({"grant_type": "authorization_code", "code": "x"}, "unsupported_grant_type"),
    ],
)
def test_bad_credentials_are_refused(
    emulator: RunningEmulator, form: dict[str, str], error: str
) -> None:
    response = request_token(emulator, **form)
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert response.json()["error_description"]


def test_inactive_user_cannot_log_in(emulator: RunningEmulator) -> None:
    user = emulator.store.query_records("User", Username="takahashi@example.co.jp")[0]
    set_password(emulator.store, user["Id"], "secret")
    response = request_token(
        emulator,
        grant_type="password",
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        username="takahashi@example.co.jp",
        password="secret",
    )
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "authentication failure",
    }


def test_userinfo_names_the_integration_user(emulator: RunningEmulator, client: Client) -> None:
    info = client.sf.oauth2("userinfo")
    assert info["user_id"] == integration_user_id(emulator)
    assert info["preferred_username"] == INTEGRATION_USERNAME
    assert info["organization_id"] == emulator.store.org_id


def test_unknown_token_is_an_invalid_session(emulator: RunningEmulator) -> None:
    session = https_session(emulator)
    response = session.get(
        f"{emulator.url}/services/data/v62.0/query",
        params={"q": "SELECT Id FROM User"},
        headers={"Authorization": "Bearer nope"},
    )
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    sf = Salesforce(instance_url=emulator.url, session_id="nope", session=session, version="62.0")
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User")


def test_idle_sessions_expire(start: Callable[..., RunningEmulator]) -> None:
    emulator = start()
    client = connect(emulator)
    client.sf.query("SELECT Id FROM User LIMIT 1")
    emulator.config.session_timeout_s = -1.0  # any idle time is too long: no waiting on the clock
    with pytest.raises(SalesforceExpiredSession):
        client.sf.query("SELECT Id FROM User LIMIT 1")


def test_limit_info_header_and_limits_resource(client: Client) -> None:
    response = client.get("limits")
    used, limit = response.headers["Sforce-Limit-Info"].removeprefix("api-usage=").split("/")
    assert int(limit) == 1_000_000 and int(used) >= 1
    assert response.json()["DailyApiRequests"]["Max"] == 1_000_000
    assert response.json()["DailyApiRequests"]["Remaining"] == 1_000_000 - int(used)
    client.sf.query("SELECT Id FROM User LIMIT 1")
    assert client.sf.api_usage["api-usage"].used == int(used) + 1
    assert client.sf.limits()["DailyApiRequests"]["Max"] == 1_000_000


def test_versions_and_resources(emulator: RunningEmulator, client: Client) -> None:
    versions = https_session(emulator).get(f"{emulator.url}/services/data/").json()
    assert {"label": "Winter '25", "url": "/services/data/v62.0", "version": "62.0"} in versions
    assert client.get("").json()["query"] == "/services/data/v62.0/query"
    assert client.call("GET", "nope/resource").status_code == 404
    assert client.call("PUT", "sobjects/Contact").status_code == 405


def test_daily_limit_and_call_counting(start: Callable[..., RunningEmulator]) -> None:
    emulator = start(daily_api_limit=3)
    client = connect(emulator)
    assert emulator.api_calls() == 0  # the token endpoint does not count
    for _ in range(3):
        client.sf.query("SELECT Id FROM User LIMIT 1")
    response = client.get("query", params={"q": "SELECT Id FROM User"})
    assert response.status_code == 403
    assert response.json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    assert response.headers["Sforce-Limit-Info"] == "api-usage=3/3"
    assert emulator.api_calls() == 4


def test_latency_is_added_to_data_calls(start: Callable[..., RunningEmulator]) -> None:
    emulator = start(latency_ms=60)
    client = connect(emulator)
    began = time.perf_counter()
    client.sf.query("SELECT Id FROM User LIMIT 1")
    assert time.perf_counter() - began >= 0.06

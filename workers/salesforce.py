"""The Salesforce gateway: OAuth against a configurable login URL, then simple-salesforce over it.

simple-salesforce builds its login URLs as https://{domain}.salesforce.com, which cannot reach a
My Domain URL with a port or the local emulator, so cardsync asks for the token itself and hands
the instance URL and token to `Salesforce(...)`. Every HTTP call goes through one session that
sets a timeout (simple-salesforce sets none) and trusts the configured CA.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession

from config.settings import AuthFlow, SalesforceSettings

log = structlog.get_logger(__name__)


class SalesforceAuthError(Exception):
    """Login failed; the message says which flow and what Salesforce answered, never a secret."""


class TimeoutSession(requests.Session):
    """A requests session whose every call has a timeout and is counted."""

    def __init__(self, timeout_s: float, on_response: Callable[[requests.Response], None] | None):
        super().__init__()
        self._timeout_s = timeout_s
        self._on_response = on_response

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", self._timeout_s)
        # requests lets REQUESTS_CA_BUNDLE override session.verify; a CA we were given must win.
        kwargs.setdefault("verify", self.verify)
        response = super().request(method, url, *args, **kwargs)
        if self._on_response is not None:
            self._on_response(response)
        return response


@dataclass(frozen=True, slots=True)
class Token:
    access_token: str
    instance_url: str
    user_id: str


def request_token(settings: SalesforceSettings, session: requests.Session) -> Token:
    """POST the token endpoint of the configured login URL with the configured flow."""
    if settings.login_url is None:
        raise SalesforceAuthError("CARDSYNC_SALESFORCE__LOGIN_URL is not set")
    login_url = settings.login_url.rstrip("/")
    secret = settings.client_secret.get_secret_value() if settings.client_secret else ""
    form: dict[str, str]
    if settings.auth_flow is AuthFlow.CLIENT_CREDENTIALS:
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id or "",
            "client_secret": secret,
        }
    elif settings.auth_flow is AuthFlow.PASSWORD:
        password = settings.password.get_secret_value() if settings.password else ""
        token = settings.security_token.get_secret_value() if settings.security_token else ""
        form = {
            "grant_type": "password",
            "client_id": settings.client_id or "",
            "client_secret": secret,
            "username": settings.username or "",
            "password": password + token,
        }
    else:
        assert settings.private_key_file is not None  # checked by Settings
        try:
            key = settings.private_key_file.read_text()
        except OSError as error:
            raise SalesforceAuthError(
                f"cannot read CARDSYNC_SALESFORCE__PRIVATE_KEY_FILE {settings.private_key_file}: "
                f"{error.strerror}"
            ) from None
        claims = {
            "iss": settings.client_id,
            "sub": settings.username,
            "aud": login_url,
            "exp": int(time.time()) + 180,
        }
        form = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": jwt.encode(claims, key, algorithm="RS256"),
        }
    try:
        response = session.post(f"{login_url}/services/oauth2/token", data=form)
    except requests.RequestException as error:
        raise SalesforceAuthError(f"cannot reach {login_url}: {type(error).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        reason = (
            body.get("error_description") or body.get("error") or f"HTTP {response.status_code}"
        )
        raise SalesforceAuthError(
            f"{settings.auth_flow.value} login to {login_url} failed: {reason}"
        )
    user_id = str(body.get("id", "")).rstrip("/").rsplit("/", 1)[-1]
    return Token(body["access_token"], body["instance_url"], user_id)


def build_session(
    settings: SalesforceSettings, on_response: Callable[[requests.Response], None] | None = None
) -> TimeoutSession:
    session = TimeoutSession(settings.timeout_s, on_response)
    if settings.ca_bundle is not None:
        session.verify = str(settings.ca_bundle)
    return session


class SalesforceGateway:
    """The calls cardsync makes, over one authenticated simple-salesforce client per process."""

    def __init__(
        self,
        settings: SalesforceSettings,
        on_api_call: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self._settings = settings
        self._session = build_session(settings, on_api_call)
        self._lock = threading.Lock()
        self._client: Salesforce | None = None
        self._token: Token | None = None

    def _login(self) -> Salesforce:
        token = request_token(self._settings, self._session)
        self._token = token
        self._client = Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            session=self._session,
            version=self._settings.api_version,
        )
        log.info(
            "salesforce_login", instance_url=token.instance_url, flow=self._settings.auth_flow.value
        )
        return self._client

    def client(self) -> Salesforce:
        with self._lock:
            return self._client or self._login()

    def _relogin(self, stale: Salesforce) -> Salesforce:
        # One re-authentication shared by every thread that saw the expired session.
        with self._lock:
            if self._client is stale:
                return self._login()
            return self._client or self._login()

    def _call(self, fn: Callable[[Salesforce], Any]) -> Any:
        client = self.client()
        try:
            return fn(client)
        except SalesforceExpiredSession:
            return fn(self._relogin(client))

    @property
    def user_id(self) -> str:
        self.client()
        assert self._token is not None
        return self._token.user_id

    def query_all(self, soql: str) -> Iterator[dict[str, Any]]:
        client = self.client()
        yield from client.query_all_iter(soql)

    def upsert_collection(
        self, sobject: str, external_id_field: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Upsert up to 200 records by external ID; one result per record, in order."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": sobject}, **record} for record in records],
        }
        path = f"composite/sobjects/{sobject}/{external_id_field}"
        return list(self._call(lambda sf: sf.restful(path, method="PATCH", json=body)))

"""The Salesforce gateway: OAuth against a configurable login URL, then simple-salesforce over it.

simple-salesforce builds its login URLs as https://{domain}.salesforce.com, which cannot reach a
My Domain URL with a port or the local emulator, so cardsync asks for the token itself and hands
the instance URL and token to `Salesforce(...)`. Every HTTP call goes through one session that
sets a timeout (simple-salesforce sets none) and trusts the configured CA, and every data call
goes through the guarded call path (`workers/salesforce/calls.py`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
import requests
import structlog
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceGeneralError
from simple_salesforce.util import exception_handler

from config.settings import COLLECTIONS_MAX_RECORDS, AuthFlow, SalesforceSettings
from pipeline.errors import BadInputError
from workers.salesforce.calls import GuardedCalls

log = structlog.get_logger(__name__)

T = TypeVar("T")


class SalesforceAuthError(BadInputError):
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


# Save past alert-level duplicate rules, and name the matching records when a rule blocks.
DUPLICATE_RULE_HEADER = {
    "Sforce-Duplicate-Rule-Header": "allowSave=true; includeRecordDetails=true"
}


# An sObject Collections call takes at most this many records.


class SalesforceGateway:
    """Every call cardsync makes to Salesforce, over one authenticated simple-salesforce client
    per process. Each public call goes through `calls` (breaker, limiter, retry, classification),
    so a failure reaches the caller as `SalesforceCallFailed`, `WritersPaused` or
    `CallSlotTimeout`; the client itself never leaves this class."""

    def __init__(
        self,
        settings: SalesforceSettings,
        calls: GuardedCalls,
        on_api_call: Callable[[requests.Response], None] | None = None,
    ) -> None:
        self._settings = settings
        self.calls = calls
        self._on_api_call = on_api_call
        self._last = threading.local()
        self._session = build_session(settings, self._observe)
        self._lock = threading.Lock()
        self.logins = 0
        self._client: Salesforce | None = None
        self._token: Token | None = None

    def _observe(self, response: requests.Response) -> None:
        limit_info = response.headers.get("Sforce-Limit-Info")
        if limit_info:
            self._last.limit_info = limit_info
        if self._on_api_call is not None:
            self._on_api_call(response)

    def last_limit_info(self) -> str | None:
        """Sforce-Limit-Info of this thread's latest answer (`api-usage=USED/LIMIT`)."""
        return getattr(self._last, "limit_info", None)

    def _login(self) -> Salesforce:
        token = request_token(self._settings, self._session)
        self.logins += 1
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

    def _logged_in(self) -> Salesforce:
        with self._lock:
            return self._client or self._login()

    def _relogin(self, stale: Salesforce) -> Salesforce:
        # One re-authentication shared by every thread that saw the expired session.
        with self._lock:
            if self._client is stale:
                return self._login()
            return self._client or self._login()

    def _call(self, fn: Callable[[Salesforce], T], renew: Callable[[], None] | None = None) -> T:
        """One guarded call; an expired session is renewed once inside it."""

        def attempt() -> T:
            client = self._logged_in()
            try:
                return fn(client)
            except SalesforceExpiredSession:
                return fn(self._relogin(client))

        return self.calls.run(attempt, limit_info=self.last_limit_info, renew=renew)

    @property
    def user_id(self) -> str:
        """The integration user's Id (logs in if needed; a token request is no API call)."""
        self._logged_in()
        assert self._token is not None
        return self._token.user_id

    def query(self, soql: str) -> dict[str, Any]:
        """One SOQL call: the first page with `totalSize` (enough for `SELECT COUNT()`)."""
        return dict(self._call(lambda sf: sf.query(soql)))

    def query_all(self, soql: str) -> list[dict[str, Any]]:
        """Every record the SOQL selects; each page is one guarded call."""
        page = self._call(lambda sf: sf.query(soql))
        records = list(page["records"])
        while not page.get("done", True):
            next_url = page["nextRecordsUrl"]
            page = self._call(lambda sf, url=next_url: sf.query_more(url, identifier_is_url=True))
            records += page["records"]
        return records

    def upsert_collection(
        self,
        sobject: str,
        external_id_field: str,
        records: list[dict[str, Any]],
        *,
        renew: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Upsert up to 200 records by external ID; one result per record, in order."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": sobject}, **record} for record in records],
        }
        path = f"composite/sobjects/{sobject}/{external_id_field}"
        return list(
            self._call(
                lambda sf: sf.restful(
                    path, method="PATCH", json=body, headers=DUPLICATE_RULE_HEADER
                ),
                renew,
            )
        )

    def update_collection(
        self, sobject: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Update records by Id (each record carries "Id"), 200 a call; one result per record."""
        results: list[dict[str, Any]] = []
        for start in range(0, len(records), COLLECTIONS_MAX_RECORDS):
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": sobject}, **record}
                    for record in records[start : start + COLLECTIONS_MAX_RECORDS]
                ],
            }
            results += self._call(
                lambda sf, body=body: sf.restful(
                    "composite/sobjects", method="PATCH", json=body, headers=DUPLICATE_RULE_HEADER
                )
            )
        return results

    # Bulk API 2.0 ----------------------------------------------------------------------------

    def bulk_upsert(
        self,
        sobject: str,
        external_id_field: str,
        records: list[dict[str, Any]],
        *,
        on_poll: Callable[[str, str], None] | None = None,
        renew: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Upsert through one Bulk API 2.0 ingest job (CSV); one result per record, in order,
        shaped like sObject Collections results. Records the job left unprocessed come back as
        UNPROCESSED_RECORD failures. `on_poll(job_id, state)` runs on every poll; polls and the
        job's timeout follow the `bulk_*` settings.

        The whole job is one guarded call. simple-salesforce's Bulk 2.0 handler does not
        refresh an expired session, so `_call` re-authenticates once and reruns the job (an
        upsert by external ID, so a rerun converges)."""
        return self._call(
            lambda sf: self._bulk_job(
                sf,
                sobject,
                external_id_field,
                records,
                on_poll,
                self._settings.bulk_poll_initial_s,
                self._settings.bulk_poll_max_s,
                self._settings.bulk_job_timeout_s,
            ),
            renew,
        )

    def _bulk_request(
        self, sf: Salesforce, method: str, path: str, **kwargs: Any
    ) -> requests.Response:
        headers = {**sf.headers, **kwargs.pop("headers", {})}
        response = self._session.request(method, sf.base_url + path, headers=headers, **kwargs)
        if response.status_code >= 300:
            exception_handler(response, path)
        return response

    def _bulk_job(
        self,
        sf: Salesforce,
        sobject: str,
        external_id_field: str,
        records: list[dict[str, Any]],
        on_poll: Callable[[str, str], None] | None,
        poll_initial_s: float,
        poll_max_s: float,
        job_timeout_s: float,
    ) -> list[dict[str, Any]]:
        _, body = bulk_csv(records)
        job = self._bulk_request(
            sf,
            "POST",
            "jobs/ingest",
            json={
                "object": sobject,
                "operation": "upsert",
                "externalIdFieldName": external_id_field,
                "contentType": "CSV",
                "lineEnding": "LF",
            },
        ).json()
        job_id = job["id"]
        base = f"jobs/ingest/{job_id}"
        self._bulk_request(
            sf, "PUT", f"{base}/batches", data=body, headers={"Content-Type": "text/csv"}
        )
        self._bulk_request(sf, "PATCH", base, json={"state": "UploadComplete"})
        deadline = time.monotonic() + job_timeout_s
        wait = poll_initial_s
        while True:
            info = self._bulk_request(sf, "GET", base).json()
            state = info["state"]
            if on_poll is not None:
                on_poll(job_id, state)
            if state in ("JobComplete", "Failed", "Aborted"):
                break
            if time.monotonic() > deadline:
                self._bulk_request(sf, "PATCH", base, json={"state": "Aborted"})
                raise requests.Timeout(f"bulk job {job_id} still {state} after {job_timeout_s}s")
            time.sleep(wait)
            wait = min(poll_max_s, wait * 2)
        if state == "Failed" and not info.get("numberRecordsProcessed"):
            raise SalesforceGeneralError(
                sf.base_url + base,
                500,
                base,
                [{"errorCode": "BULK_JOB_FAILED", "message": str(info.get("errorMessage", ""))}],
            )
        results: dict[str, dict[str, Any]] = {}
        for row in _csv_rows(self._bulk_request(sf, "GET", f"{base}/successfulResults").text):
            results[row.get(external_id_field, "")] = {
                "id": row.get("sf__Id", ""),
                "success": True,
                "errors": [],
                "created": row.get("sf__Created", "").lower() == "true",
            }
        for row in _csv_rows(self._bulk_request(sf, "GET", f"{base}/failedResults").text):
            code, _, rest = row.get("sf__Error", "").partition(":")
            message, _, fields = rest.rpartition(":")
            results[row.get(external_id_field, "")] = {
                "success": False,
                "errors": [
                    {
                        "statusCode": code,
                        "message": message or rest,
                        "fields": [f for f in fields.removesuffix(" --").split(",") if f],
                    }
                ],
            }
        with contextlib.suppress(Exception):
            self._bulk_request(sf, "DELETE", base)
        unprocessed = {
            "success": False,
            "errors": [{"statusCode": "UNPROCESSED_RECORD", "message": "not processed by the job"}],
        }
        return [results.get(str(r.get(external_id_field, "")), unprocessed) for r in records]


def bulk_csv(records: list[dict[str, Any]]) -> tuple[list[str], bytes]:
    """Records as Bulk API 2.0 CSV: a lookup by external ID becomes a `Rel.Field` column, a
    null or empty value `#N/A` (sets null), a field a record lacks an empty cell (left as is)."""
    flat: list[dict[str, str]] = []
    columns: dict[str, None] = {}
    for record in records:
        row: dict[str, str] = {}
        for name, value in record.items():
            if name == "attributes":
                continue
            if isinstance(value, dict):
                for sub, sub_value in value.items():
                    if sub != "attributes":
                        row[f"{name}.{sub}"] = _csv_value(sub_value)
            else:
                row[name] = _csv_value(value)
        columns.update(dict.fromkeys(row))
        flat.append(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(columns))
    for row in flat:
        writer.writerow([row.get(c, "") for c in columns])
    return list(columns), out.getvalue().encode("utf-8")


def _csv_value(value: Any) -> str:
    if value is None or value == "":
        return "#N/A"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))

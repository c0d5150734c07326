"""What a Salesforce failure means for the writer: retry, re-login, pause everyone, or give up.

Pure functions over status codes, error bodies and exceptions; no network, no Redis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests
from simple_salesforce.exceptions import SalesforceError


class CallFailure(StrEnum):
    """A whole call failed; what to do about it."""

    TRANSIENT = "transient"  # retry with backoff; the batch goes back to the buffer if it persists
    SESSION = "session"  # re-authenticate once, then retry
    BUDGET = "budget"  # the org's API budget is spent: pause every writer
    PERMANENT = "permanent"  # retrying cannot help: each record of the batch is dead-lettered


class RecordOutcome(StrEnum):
    """What one record's result in a collection call means."""

    WRITTEN = "written"
    RETRY = "retry"  # a transient per-record error (row lock): back to the buffer
    DUPLICATE = "duplicate"  # an org duplicate rule matched: link to the existing record
    DEAD = "dead"  # permanent: dead letter with its error


TRANSIENT_CODES = frozenset(
    {
        "UNABLE_TO_LOCK_ROW",
        "SERVER_UNAVAILABLE",
        "UNKNOWN_EXCEPTION",
        "REQUEST_RUNNING_TOO_LONG",
        "QUERY_TIMEOUT",
        "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "TXN_SECURITY_METERING_ERROR",
        "UNPROCESSED_RECORD",  # a Bulk API 2.0 job ended before it got to the record
        "BULK_JOB_FAILED",
    }
)
SESSION_CODES = frozenset({"INVALID_SESSION_ID"})
BUDGET_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})
DUPLICATE_CODES = frozenset({"DUPLICATES_DETECTED"})

_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


@dataclass(frozen=True, slots=True)
class CallError:
    """A classified failure of a whole call, with what Salesforce said (never a secret)."""

    failure: CallFailure
    status: int | None
    error_code: str
    message: str

    def as_record_error(self) -> dict[str, Any]:
        """The call's error in the per-record shape, for dead letters."""
        return {"statusCode": self.error_code, "message": self.message, "fields": []}


class SalesforceCallFailed(Exception):
    """Raised by the writer's call wrapper once a failure is classified."""

    def __init__(self, error: CallError) -> None:
        super().__init__(f"{error.failure.value}: {error.error_code} {error.message}")
        self.error = error


def first_error(body: Any) -> tuple[str, str]:
    """(errorCode, message) of a Salesforce error body `[{"errorCode", "message"}]`."""
    item = body[0] if isinstance(body, list) and body else body
    if isinstance(item, dict):
        code = item.get("errorCode") or item.get("statusCode") or item.get("error") or ""
        message = item.get("message") or item.get("error_description") or ""
        return str(code), str(message)
    return "", str(body or "")[:200]


def classify_call(status: int | None, body: Any) -> CallError:
    """Classify an HTTP answer that was not a success."""
    code, message = first_error(body)
    if code in SESSION_CODES or status == 401:
        failure = CallFailure.SESSION
    elif code in BUDGET_CODES:
        failure = CallFailure.BUDGET
    elif code in TRANSIENT_CODES or (status is not None and (status >= 500 or status == 429)):
        failure = CallFailure.TRANSIENT
    else:
        failure = CallFailure.PERMANENT
    return CallError(failure, status, code or f"HTTP_{status}", message)


def classify_exception(error: BaseException) -> CallError | None:
    """Classify what a call raised; None for exceptions that are not Salesforce failures."""
    if isinstance(error, SalesforceError):
        return classify_call(error.status, error.content)
    if isinstance(error, requests.Timeout):
        return CallError(CallFailure.TRANSIENT, None, "TIMEOUT", type(error).__name__)
    if isinstance(error, requests.ConnectionError | requests.exceptions.ChunkedEncodingError):
        return CallError(CallFailure.TRANSIENT, None, "CONNECTION_ERROR", type(error).__name__)
    if isinstance(error, ConnectionError | TimeoutError):
        return CallError(CallFailure.TRANSIENT, None, "CONNECTION_ERROR", type(error).__name__)
    return None


def classify_record(result: dict[str, Any]) -> RecordOutcome:
    """One item of a collection answer: `{"success", "errors": [{"statusCode", ...}]}`."""
    if result.get("success"):
        return RecordOutcome.WRITTEN
    codes = {str(e.get("statusCode") or e.get("errorCode") or "") for e in result.get("errors", [])}
    if codes & DUPLICATE_CODES:
        return RecordOutcome.DUPLICATE
    if codes and codes <= TRANSIENT_CODES:
        return RecordOutcome.RETRY
    return RecordOutcome.DEAD


def duplicate_match_id(result: dict[str, Any]) -> str | None:
    """The Id of the first existing record a duplicate rule matched (includeRecordDetails)."""
    for error in result.get("errors", []):
        duplicate = error.get("duplicateResult") or {}
        for match in duplicate.get("matchResults") or []:
            for item in match.get("matchRecords") or []:
                record = item.get("record") or {}
                if record.get("Id"):
                    return str(record["Id"])
    return None


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """`api-usage=USED/LIMIT` -> (used, limit); None when absent or unreadable."""
    match = _LIMIT_INFO.search(header or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2))


def usage_share(header: str | None) -> float | None:
    parsed = parse_limit_info(header)
    if parsed is None or parsed[1] <= 0:
        return None
    return parsed[0] / parsed[1]

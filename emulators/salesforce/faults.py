"""Fault injection for the emulator: the failures a Salesforce integration meets, on demand.

`Faults` holds the settings (all off by default) and plugs into `RestApi` as hooks: whole-call
errors by error code and rate, dropped connections (after the write: the client never learns
its outcome), slow responses (e.g. past the client's timeout), a fixed latency, sessions
expired after N data calls, a REQUEST_LIMIT_EXCEEDED episode of a given length, per-record
failures for records whose field has a given value, and per-record lock contention.
Every random draw comes from one `random.Random(seed)`, so a run with one seed and one request
order fails the same requests. Only data calls (/services/data/...) are affected.

Set them with `emu.faults.update(...)` in Python, `POST /__admin/faults` with the same JSON
(`GET` reads them, `DELETE` clears them), or the `cardsync emulator salesforce` flags.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any

# The HTTP status and message each injectable whole-call error comes with in Salesforce.
CALL_ERRORS: dict[str, tuple[int, str]] = {
    "SERVER_UNAVAILABLE": (503, "Server unavailable; please try again later."),
    "UNKNOWN_EXCEPTION": (500, "An unexpected error occurred. Please try again."),
    "UNABLE_TO_LOCK_ROW": (400, "unable to obtain exclusive access to this record"),
    "REQUEST_LIMIT_EXCEEDED": (403, "TotalRequests Limit exceeded."),
    "INVALID_SESSION_ID": (401, "Session expired or invalid"),
    "REQUEST_RUNNING_TOO_LONG": (
        400,
        "Your request was running for too long, and has been stopped.",
    ),
}

RECORD_MESSAGES: dict[str, str] = {
    "STRING_TOO_LONG": "data value too large",
    "INVALID_EMAIL_ADDRESS": "invalid email address",
    "REQUIRED_FIELD_MISSING": "Required fields are missing",
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "rejected by a validation rule",
    "UNABLE_TO_LOCK_ROW": "unable to obtain exclusive access to this record",
}


@dataclass
class RecordFault:
    """Records whose `field` equals `value` (case-insensitive) fail with `error_code`."""

    field: str
    value: str
    error_code: str = "STRING_TOO_LONG"

    def matches(self, record: dict[str, Any]) -> bool:
        for name, value in record.items():
            if name.lower() == self.field.lower() and str(value).lower() == self.value.lower():
                return True
        return False


@dataclass
class FaultSettings:
    seed: int = 0
    latency_ms: int = 0
    # error code -> share of data calls answered with it (see CALL_ERRORS)
    error_rates: dict[str, float] = field(default_factory=dict)
    # share of data calls whose connection is closed after the call ran, without an answer
    drop_rate: float = 0.0
    # share of data calls held `slow_ms` before they run
    slow_rate: float = 0.0
    slow_ms: int = 0
    # after this many data calls, every session expires once (0: never)
    expire_sessions_after: int = 0
    record_failures: list[RecordFault] = field(default_factory=list)
    # share of records in a collection call that fail with UNABLE_TO_LOCK_ROW (not written)
    record_lock_rate: float = 0.0
    # after this many data calls, a REQUEST_LIMIT_EXCEEDED episode of limit_episode_length_s
    # begins, once (0: never; `limit_episode(s)` starts one at once)
    limit_episode_after: int = 0
    limit_episode_length_s: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultSettings:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        values = dict(data)
        values["record_failures"] = [
            item if isinstance(item, RecordFault) else RecordFault(**item)
            for item in values.get("record_failures") or []
        ]
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for code, rate in self.error_rates.items():
            if code not in CALL_ERRORS:
                raise ValueError(f"cannot inject {code}; known: {', '.join(CALL_ERRORS)}")
            if not 0 <= rate <= 1:
                raise ValueError(f"rate of {code} must be between 0 and 1")
        if sum(self.error_rates.values()) > 1:
            raise ValueError("error rates add up to more than 1")
        for name in ("drop_rate", "slow_rate", "record_lock_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The live fault settings and counters of one emulator; thread-safe."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.settings = settings or FaultSettings()
        self._random = random.Random(self.settings.seed)
        self._data_calls = 0
        self._expired = False
        self._limit_until = 0.0
        self._episode_started = False
        self.injected: dict[str, int] = {}

    def update(self, **changes: Any) -> FaultSettings:
        """Change some settings (others stay); a new seed restarts the random sequence."""
        with self._lock:
            merged = {**self.settings.to_dict(), **changes}
            self.settings = FaultSettings.from_dict(merged)
            if "seed" in changes:
                self._random = random.Random(self.settings.seed)
            if "expire_sessions_after" in changes or "limit_episode_after" in changes:
                self._data_calls = 0
                self._expired = False
                self._episode_started = False
            return self.settings

    def clear(self) -> None:
        with self._lock:
            self.settings = FaultSettings(seed=self.settings.seed)
            self._limit_until = 0.0
            self._expired = False
            self._data_calls = 0

    def limit_episode(self, seconds: float) -> None:
        """Answer every data call with 403 REQUEST_LIMIT_EXCEEDED for this long."""
        with self._lock:
            self._limit_until = time.monotonic() + seconds

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.injected)

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "settings": self.settings.to_dict(),
                "injected": dict(self.injected),
                "limit_episode_s": max(0.0, self._limit_until - time.monotonic()),
            }

    # What the API asks, once per data call --------------------------------------------------

    def count(self, what: str) -> None:
        self.injected[what] = self.injected.get(what, 0) + 1

    def before_call(self) -> tuple[float, str | None, bool]:
        """(seconds to wait, error code to answer or None, whether to expire sessions now)."""
        with self._lock:
            s = self.settings
            self._data_calls += 1
            expire = (
                s.expire_sessions_after > 0
                and not self._expired
                and self._data_calls > s.expire_sessions_after
            )
            if expire:
                self._expired = True
                self.count("session_expiry")
            wait = s.latency_ms / 1000
            if s.slow_rate and self._random.random() < s.slow_rate:
                wait += s.slow_ms / 1000
                self.count("slow")
            if (
                s.limit_episode_after > 0
                and not self._episode_started
                and self._data_calls > s.limit_episode_after
            ):
                self._episode_started = True
                self._limit_until = time.monotonic() + s.limit_episode_length_s
            if time.monotonic() < self._limit_until:
                self.count("REQUEST_LIMIT_EXCEEDED")
                return wait, "REQUEST_LIMIT_EXCEEDED", expire
            draw = self._random.random()
            for code, rate in s.error_rates.items():
                if draw < rate:
                    self.count(code)
                    return wait, code, expire
                draw -= rate
            return wait, None, expire

    def drop_after_call(self) -> bool:
        with self._lock:
            if self.settings.drop_rate and self._random.random() < self.settings.drop_rate:
                self.count("dropped")
                return True
            return False

    def record_failure(self, record: dict[str, Any]) -> str | None:
        """The error code this record fails with, or None to write it."""
        with self._lock:
            for fault in self.settings.record_failures:
                if fault.matches(record):
                    self.count(f"record:{fault.error_code}")
                    return fault.error_code
            rate = self.settings.record_lock_rate
            if rate and self._random.random() < rate:
                self.count("record:UNABLE_TO_LOCK_ROW")
                return "UNABLE_TO_LOCK_ROW"
            return None


def call_error_body(code: str) -> tuple[int, list[dict[str, str]]]:
    status, message = CALL_ERRORS[code]
    return status, [{"message": message, "errorCode": code}]


def record_error_item(code: str, field_name: str | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [
            {
                "statusCode": code,
                "message": RECORD_MESSAGES.get(code, code.replace("_", " ").lower()),
                "fields": [field_name] if field_name else [],
            }
        ],
    }


def duplicate_item(
    sobject: str, match_ids: list[str], include_details: bool, base_url: str, version: str
) -> dict[str, Any]:
    """A collection item refused by a duplicate rule, as Salesforce answers it."""
    records = [
        {
            "additionalInformation": [],
            "fieldDiffs": [],
            "matchConfidence": 100.0,
            "record": {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/v{version}/sobjects/{sobject}/{record_id}",
                },
                "Id": record_id,
            },
        }
        for record_id in match_ids
    ]
    return {
        "success": False,
        "errors": [
            {
                "statusCode": "DUPLICATES_DETECTED",
                "message": "Use one of these records?",
                "fields": [],
                "duplicateResult": {
                    "allowSave": False,
                    "duplicateRule": f"Standard_{sobject}_Duplicate_Rule",
                    "duplicateRuleEntityType": sobject,
                    "errorMessage": "You're creating a duplicate record. We recommend you use "
                    "an existing record instead.",
                    "matchResults": [
                        {
                            "entityType": sobject,
                            "errors": [],
                            "matchEngine": "ExactMatchEngine",
                            "matchRecords": records if include_details else [],
                            "rule": f"Standard_{sobject}_Match_Rule_v1_1",
                            "size": len(match_ids),
                            "success": True,
                        }
                    ],
                },
            }
        ],
    }


def parse_duplicate_header(value: str | None) -> tuple[bool, bool]:
    """`allowSave=true; includeRecordDetails=true` -> (allow_save, include_record_details)."""
    flags = {}
    for part in (value or "").split(";"):
        name, _, flag = part.partition("=")
        flags[name.strip().lower()] = flag.strip().lower() == "true"
    return flags.get("allowsave", False), flags.get("includerecorddetails", False)


def parse_error_rate(text: str) -> tuple[str, float]:
    """`SERVER_UNAVAILABLE=0.1` -> ("SERVER_UNAVAILABLE", 0.1)."""
    code, sep, rate = text.partition("=")
    if not sep:
        raise ValueError(f"expected CODE=RATE, got {text!r}")
    return code.strip().upper(), float(rate)


def parse_record_fault(text: str) -> RecordFault:
    """`LastName=TooLong:STRING_TOO_LONG` -> RecordFault (the code defaults to STRING_TOO_LONG)."""
    condition, _, code = text.partition(":")
    name, sep, value = condition.partition("=")
    if not sep or not name:
        raise ValueError(f"expected FIELD=VALUE[:ERROR_CODE], got {text!r}")
    return RecordFault(name.strip(), value, (code or "STRING_TOO_LONG").strip().upper())


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)

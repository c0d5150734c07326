"""How each Salesforce failure is classified: retry, re-login, pause everyone, or dead-letter."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from workers.salesforce.errors import (
    CallFailure,
    RecordOutcome,
    classify_call,
    classify_exception,
    classify_record,
    duplicate_match_id,
    parse_limit_info,
    usage_share,
)


def body(code: str, message: str = "m") -> list[dict[str, str]]:
    return [{"errorCode": code, "message": message}]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (503, "SERVER_UNAVAILABLE", CallFailure.TRANSIENT),
        (500, "UNKNOWN_EXCEPTION", CallFailure.TRANSIENT),
        (502, "", CallFailure.TRANSIENT),
        (400, "UNABLE_TO_LOCK_ROW", CallFailure.TRANSIENT),
        (401, "INVALID_SESSION_ID", CallFailure.SESSION),
        (403, "REQUEST_LIMIT_EXCEEDED", CallFailure.BUDGET),
        (403, "INSUFFICIENT_ACCESS", CallFailure.PERMANENT),
        (400, "JSON_PARSER_ERROR", CallFailure.PERMANENT),
        (404, "NOT_FOUND", CallFailure.PERMANENT),
    ],
)
def test_whole_call_failures_are_classified_by_code_and_status(status, code, expected):
    error = classify_call(status, body(code))
    assert error.failure is expected
    assert error.status == status


def test_a_body_without_code_is_named_by_its_status():
    assert classify_call(502, "<html>Bad gateway</html>").error_code == "HTTP_502"


def test_simple_salesforce_exceptions_carry_status_and_body():
    url, name = "https://x/services/data", "Contact"
    cases = {
        SalesforceGeneralError(url, 503, name, body("SERVER_UNAVAILABLE")): CallFailure.TRANSIENT,
        SalesforceExpiredSession(url, 401, name, body("INVALID_SESSION_ID")): CallFailure.SESSION,
        SalesforceRefusedRequest(
            url, 403, name, body("REQUEST_LIMIT_EXCEEDED")
        ): CallFailure.BUDGET,
        SalesforceMalformedRequest(url, 400, name, body("INVALID_FIELD")): CallFailure.PERMANENT,
    }
    for exception, expected in cases.items():
        classified = classify_exception(exception)
        assert classified is not None and classified.failure is expected


def test_timeouts_and_connection_resets_are_transient():
    for exception in (
        requests.ReadTimeout(),
        requests.ConnectTimeout(),
        requests.ConnectionError(),
        requests.exceptions.ChunkedEncodingError(),
        ConnectionResetError(),
    ):
        classified = classify_exception(exception)
        assert classified is not None and classified.failure is CallFailure.TRANSIENT


def test_programming_errors_are_not_salesforce_failures():
    assert classify_exception(KeyError("x")) is None


def result(*codes: str) -> dict:
    return {"success": False, "errors": [{"statusCode": c, "message": c} for c in codes]}


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"success": True, "id": "003", "errors": []}, RecordOutcome.WRITTEN),
        (result("STRING_TOO_LONG"), RecordOutcome.DEAD),
        (result("INVALID_EMAIL_ADDRESS"), RecordOutcome.DEAD),
        (result("REQUIRED_FIELD_MISSING"), RecordOutcome.DEAD),
        (result("FIELD_CUSTOM_VALIDATION_EXCEPTION"), RecordOutcome.DEAD),
        (result("UNABLE_TO_LOCK_ROW"), RecordOutcome.RETRY),
        (result("UNABLE_TO_LOCK_ROW", "STRING_TOO_LONG"), RecordOutcome.DEAD),
        (result("DUPLICATES_DETECTED"), RecordOutcome.DUPLICATE),
        ({"success": False, "errors": []}, RecordOutcome.DEAD),
    ],
)
def test_per_record_results_are_classified(item, expected):
    assert classify_record(item) is expected


def test_duplicate_match_id_comes_from_the_record_details():
    item = {
        "success": False,
        "errors": [
            {
                "statusCode": "DUPLICATES_DETECTED",
                "message": "Use one of these records?",
                "duplicateResult": {
                    "matchResults": [{"matchRecords": [{"record": {"Id": "003000000000001AAA"}}]}]
                },
            }
        ],
    }
    assert duplicate_match_id(item) == "003000000000001AAA"
    assert duplicate_match_id(result("DUPLICATES_DETECTED")) is None


def test_limit_info_header_gives_usage_share():
    assert parse_limit_info("api-usage=25/100") == (25, 100)
    assert usage_share("api-usage=90/100") == 0.9
    assert usage_share(None) is None
    assert usage_share("api-usage=1/0") is None

"""The two error shapes of the Salesforce REST API: a whole-request error and a per-record error."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """A request-level failure, rendered as `[{"message", "errorCode"[, "fields"]}]`."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        item: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            item["fields"] = self.fields
        return [item]


@dataclass(frozen=True, slots=True)
class RecordError:
    """One error of one record in a write; `statusCode` in collections, `errorCode` alone."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_collection_item(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_api_error(self, status: int = 400) -> ApiError:
        return ApiError(status, self.status_code, self.message, self.fields)


class RecordErrors(ApiError):
    """Every error of one record of a single-record call, each with its errorCode and fields."""

    def __init__(self, errors: list[RecordError], status: int = 400) -> None:
        first = errors[0]
        super().__init__(status, first.status_code, first.message, first.fields)
        self.errors = errors

    def body(self) -> list[dict[str, Any]]:
        return [
            {"message": e.message, "errorCode": e.status_code, "fields": e.fields}
            for e in self.errors
        ]


def malformed_query(message: str) -> ApiError:
    return ApiError(400, "MALFORMED_QUERY", message)


def invalid_field(message: str) -> ApiError:
    return ApiError(400, "INVALID_FIELD", message)


def invalid_type(sobject: str) -> ApiError:
    return ApiError(
        400,
        "INVALID_TYPE",
        f"sObject type '{sobject}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
        "or the describe call for the appropriate names.",
    )


def not_found(message: str = "The requested resource does not exist") -> ApiError:
    return ApiError(404, "NOT_FOUND", message)


def json_parser_error(message: str) -> ApiError:
    return ApiError(400, "JSON_PARSER_ERROR", message)

"""Field values between their three forms: JSON payloads, SQLite columns and API output."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from emulators.salesforce.schema import FieldDef, FieldType

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_JSON_KIND = {
    bool: "VALUE_TRUE",
    int: "VALUE_NUMBER_INT",
    float: "VALUE_NUMBER_FLOAT",
    str: "VALUE_STRING",
    dict: "START_OBJECT",
    list: "START_ARRAY",
}
_TYPE_NAME = {
    FieldType.BOOLEAN: "boolean",
    FieldType.DATE: "date",
    FieldType.DATETIME: "datetime",
    FieldType.INT: "int",
    FieldType.DOUBLE: "double",
}


class ValueParseError(ValueError):
    """A payload value that cannot be read as its field's type (a JSON_PARSER_ERROR)."""


def format_datetime(moment: dt.datetime) -> str:
    """Salesforce's wire format, always UTC: 2024-05-01T09:30:00.000+0000."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def now_timestamp() -> str:
    return format_datetime(dt.datetime.now(dt.UTC))


def parse_datetime(text: str) -> str | None:
    """The canonical UTC form of an ISO 8601 date-time (or a date: midnight UTC), else None."""
    candidate = text.strip()
    if _DATE.match(candidate):
        candidate += "T00:00:00Z"
    # fromisoformat does not read "+0000" (no colon), which Salesforce itself emits.
    candidate = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", candidate)
    try:
        moment = dt.datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return format_datetime(moment)


def parse_date(text: str) -> str | None:
    if not _DATE.match(text):
        return None
    try:
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        return None


def _cannot_read(fd: FieldDef, raw: Any) -> ValueParseError:
    kind = _JSON_KIND.get(type(raw), "VALUE_STRING")
    type_name = _TYPE_NAME.get(fd.type, "String")
    shown = raw if not isinstance(raw, (dict, list)) else ""
    return ValueParseError(
        f"Cannot deserialize instance of {type_name} from {kind} value {shown} "
        "or request may be missing a required field"
    )


def from_json(fd: FieldDef, raw: Any) -> Any:
    """The column value for a payload value, or ValueParseError; "" means null as in Salesforce."""
    if raw is None:
        return 0 if fd.type == FieldType.BOOLEAN else None
    if fd.type == FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return int(raw)
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return int(raw.lower() == "true")
        raise _cannot_read(fd, raw)
    if isinstance(raw, (dict, list)):
        raise _cannot_read(fd, raw)
    if fd.type in (FieldType.INT, FieldType.DOUBLE):
        if isinstance(raw, bool):
            raise _cannot_read(fd, raw)
        try:
            number = float(raw)
        except ValueError:
            raise _cannot_read(fd, raw) from None
        if fd.type == FieldType.DOUBLE:
            return number
        if not number.is_integer():
            raise _cannot_read(fd, raw)
        return int(number)
    text = raw if isinstance(raw, str) else str(raw).lower() if isinstance(raw, bool) else str(raw)
    if text == "":
        return None
    if fd.type == FieldType.DATE:
        parsed = parse_date(text)
        if parsed is None:
            raise _cannot_read(fd, raw)
        return parsed
    if fd.type == FieldType.DATETIME:
        parsed = parse_datetime(text)
        if parsed is None:
            raise _cannot_read(fd, raw)
        return parsed
    return text


def to_api(fd: FieldDef, value: Any) -> Any:
    """The JSON value the API returns for a column value."""
    if value is None:
        return None
    if fd.type == FieldType.BOOLEAN:
        return bool(value)
    return value

"""Specification of config.logging: one JSON line per event, no secret in any of them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from config.logging import MAX_EVENT_CHARS, REDACTED, configure_logging, redact_secrets, redact_text

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back after every test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {name: logging.getLogger(name).level for name in ("urllib3", "simple_salesforce")}
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


def json_logging(capsys: pytest.CaptureFixture[str]) -> Lines:
    """Configure JSON logging on the captured stderr; returns a reader of the lines so far.

    Called in the test body: the PrintLogger keeps the sys.stderr of configure time, and capsys
    swaps that stream between the setup and call phases.
    """
    configure_logging("json", "INFO")

    def read() -> list[dict[str, Any]]:
        err = capsys.readouterr().err
        return [json.loads(line) for line in err.splitlines() if line.strip()]

    return read


def redact(**event: Any) -> dict[str, Any]:
    return dict(redact_secrets(None, "info", dict(event)))


# --- the processor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "client_secret",
        "access_token",
        "refresh_token",
        "security_token",
        "api_key",
        "apiKey",
        "X-Sansan-Api-Key",
        "authorization",
        "Authorization",
        "session_id",
        "sessionId",
        "private_key",
        "assertion",
    ],
)
def test_value_under_a_secret_looking_key_is_redacted(key: str) -> None:
    assert redact(event="e", **{key: "s3cr3t-value"})[key] == REDACTED


@pytest.mark.parametrize("value", [12345, None, ["a", "b"], {"x": "y"}])
def test_secret_key_redacts_any_kind_of_value(value: Any) -> None:
    assert redact(password=value)["password"] == REDACTED


def test_ordinary_keys_and_values_are_kept() -> None:
    event = redact(event="card_written", card_id="c-1", email="a@example.test", rows=3, ok=True)
    assert event == {
        "event": "card_written",
        "card_id": "c-1",
        "email": "a@example.test",
        "rows": 3,
        "ok": True,
    }


def test_processor_returns_the_event_dict_it_was_given() -> None:
    event: dict[str, Any] = {"event": "x", "password": "p"}
    assert redact_secrets(None, "info", event) is event
    assert event["password"] == REDACTED


def test_nested_dicts_and_lists_are_redacted() -> None:
    event = redact(
        event="call",
        request={
            "url": "https://x.test/services/oauth2/token",
            "headers": {"Authorization": "Bearer abc.def", "Accept": "application/json"},
            "body": {"grant_type": "client_credentials", "client_secret": "cs-123"},
        },
        attempts=[{"session_id": "00Dxx!AQ"}, "password=pw-9 in text"],
    )
    request = event["request"]
    assert request["url"] == "https://x.test/services/oauth2/token"
    assert request["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert request["body"] == {"grant_type": "client_credentials", "client_secret": REDACTED}
    assert event["attempts"] == [{"session_id": REDACTED}, f"password={REDACTED} in text"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer eyJhbGciOi.J9.x-y_z", "eyJhbGciOi.J9.x-y_z"),
        ("bearer 00Dxx0000001gPL!AQ0AQH", "00Dxx0000001gPL!AQ0AQH"),
        ("login failed for user u@x.test password=hunter2 retrying", "hunter2"),
        ("POST grant_type=client_credentials&client_id=cid&client_secret=cs-42&x=1", "cs-42"),
        ("callback?access_token=at-77&state=s", "at-77"),
        ("refresh_token=rt-88", "rt-88"),
        ("api_key=ak-99", "ak-99"),
        ("token=tk-11 expired", "tk-11"),
        ("session_id=sid-22", "sid-22"),
        ("assertion=eyJ.assert.sig", "eyJ.assert.sig"),
        ("connecting to redis://:redispw@redis:6379/0", "redispw"),
        ("connecting to rediss://default:tlspw@cache.example:6380/1", "tlspw"),
    ],
)
def test_secrets_inside_free_text_are_redacted(text: str, secret: str) -> None:
    redacted = redact(event=text)["event"]
    assert secret not in redacted
    assert REDACTED in redacted
    assert redact_text(text) == redacted


def test_redacting_free_text_keeps_the_rest_of_it() -> None:
    assert redact_text("GET /x?client_id=cid&client_secret=abc&x=1 Bearer t0k") == (
        f"GET /x?client_id=cid&client_secret={REDACTED}&x=1 Bearer {REDACTED}"
    )
    assert redact_text("redis://:pw@redis:6379/0") == f"redis://:{REDACTED}@redis:6379/0"
    assert redact_text("redis://redis:6379/0") == "redis://redis:6379/0"


def test_secret_str_renders_masked() -> None:
    assert "hunter2" not in str(redact(event="e", value=SecretStr("hunter2")))


# --- configure_logging: structlog events ---------------------------------------------------------


def test_structlog_event_is_one_json_line_with_secrets_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    json_lines = json_logging(capsys)
    structlog.get_logger("t").info(
        "token_refreshed", access_token="at-secret", note="sent Bearer bt-secret", rows=2
    )
    (line,) = json_lines()
    assert line["event"] == "token_refreshed"
    assert line["level"] == "info"
    assert "timestamp" in line
    assert line["access_token"] == REDACTED
    assert line["note"] == f"sent Bearer {REDACTED}"
    assert line["rows"] == 2


def test_non_ascii_is_written_as_is(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "INFO")
    structlog.get_logger().info("card", company="株式会社サンプル")
    assert "株式会社サンプル" in capsys.readouterr().err


def test_auto_format_writes_json_when_stderr_is_not_a_tty(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("auto", "INFO")
    structlog.get_logger().info("hello", password="pw-1")
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "hello"
    assert line["password"] == REDACTED


def test_console_format_redacts_too(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console", "INFO")
    structlog.get_logger().info("hello", password="pw-console", note="Bearer bt-console")
    logging.getLogger("dramatiq").warning("client_secret=cs-console")
    err = capsys.readouterr().err
    assert "hello" in err
    assert "client_secret=" in err
    for secret in ("pw-console", "bt-console", "cs-console"):
        assert secret not in err


def test_level_filters_structlog_and_stdlib(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json", "WARNING")
    structlog.get_logger().info("quiet_info")
    logging.getLogger("dramatiq").info("quiet stdlib info")
    structlog.get_logger().warning("loud_warning")
    logging.getLogger("dramatiq").warning("loud stdlib warning")
    events = [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()]
    assert events == ["loud_warning", "loud stdlib warning"]


def test_exception_traceback_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    try:
        raise RuntimeError("login failed: password=tb-pw Bearer tb-bearer")
    except RuntimeError:
        structlog.get_logger().exception("call_failed")
    (line,) = json_lines()
    assert "RuntimeError" in line["exception"]
    assert "tb-pw" not in line["exception"]
    assert "tb-bearer" not in line["exception"]


# --- configure_logging: stdlib logging (dramatiq) goes through the same processors ---------------


def test_stdlib_logging_is_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    logging.getLogger("dramatiq").error("token=abc Bearer qqq")
    (line,) = json_lines()
    assert line["level"] == "error"
    assert "timestamp" in line
    assert line["event"] == f"token={REDACTED} Bearer {REDACTED}"


def test_stdlib_arguments_are_formatted_before_redaction(
    capsys: pytest.CaptureFixture[str],
) -> None:
    json_lines = json_logging(capsys)
    logging.getLogger("dramatiq.worker").warning("connecting to %s", "redis://:argpw@redis:6379/0")
    (line,) = json_lines()
    assert line["event"] == f"connecting to redis://:{REDACTED}@redis:6379/0"


def test_stdlib_extra_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    logging.getLogger("simple_salesforce").warning(
        "auth", extra={"client_secret": "extra-cs", "org": "00D"}
    )
    (line,) = json_lines()
    assert line["client_secret"] == REDACTED
    assert line["org"] == "00D"


def test_stdlib_exception_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    try:
        raise ValueError("bad url redis://:exc-pw@redis:6379")
    except ValueError:
        logging.getLogger("dramatiq").exception("consumer crashed")
    (line,) = json_lines()
    assert line["event"] == "consumer crashed"
    assert "ValueError" in line["exception"]
    assert "exc-pw" not in line["exception"]


def test_very_long_stdlib_message_is_truncated(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    message = "Failed to process message card_ingest(" + "x" * 5000 + ")"
    logging.getLogger("dramatiq").error(message)
    (line,) = json_lines()
    assert line["event"].startswith("Failed to process message card_ingest(")
    assert len(line["event"]) < MAX_EVENT_CHARS + 40
    assert f"({len(message)} chars)" in line["event"]


def test_short_stdlib_message_is_not_truncated(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    message = "y" * MAX_EVENT_CHARS
    logging.getLogger("dramatiq").error(message)
    (line,) = json_lines()
    assert line["event"] == message


def test_truncation_does_not_leave_part_of_a_secret(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    # The cut falls inside the password, before the '@' that marks it as one.
    prefix = "x" * (MAX_EVENT_CHARS - 20) + " redis://:"
    logging.getLogger("dramatiq").error(prefix + "cutsecretpassword@redis:6379 " + "z" * 500)
    (line,) = json_lines()
    assert "cutsec" not in line["event"]
    assert "chars)" in line["event"]


# --- context -------------------------------------------------------------------------------------


def test_bound_contextvars_appear_on_every_line(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    structlog.contextvars.bind_contextvars(import_id="i1", stage="card_map", message_id="m1")
    structlog.get_logger().info("first")
    structlog.get_logger("other").warning("second", rows=1)
    logging.getLogger("dramatiq").error("third from stdlib")
    lines = json_lines()
    assert [line["event"] for line in lines] == ["first", "second", "third from stdlib"]
    for line in lines:
        assert (line["import_id"], line["stage"], line["message_id"]) == ("i1", "card_map", "m1")


def test_cleared_context_is_gone_from_later_lines(capsys: pytest.CaptureFixture[str]) -> None:
    json_lines = json_logging(capsys)
    structlog.contextvars.bind_contextvars(import_id="i1")
    structlog.get_logger().info("bound")
    structlog.contextvars.clear_contextvars()
    structlog.get_logger().info("cleared")
    bound, cleared = json_lines()
    assert bound["import_id"] == "i1"
    assert "import_id" not in cleared

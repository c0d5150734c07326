"""structlog configured once: console on a TTY, JSON otherwise, secrets redacted everywhere."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from config.settings import LogFormat

REDACTED = "***"
# Keys whose values are secrets wherever they appear in an event.
_SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|session[_-]?id|private[_-]?key|assertion)",
    re.IGNORECASE,
)
# Secrets embedded in free text: bearer tokens, key=value pairs, URL credentials.
_SECRET_TEXT = (
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=!-]+", re.IGNORECASE), r"\1" + REDACTED),
    (
        re.compile(
            # Any key naming a secret: password=, client_secret=, access_token=, session_id=...
            r"((?:password|passwd|secret|token|api[_-]?key|session[_-]?id|assertion)=)[^&\s'\"]+",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(redis(?:s)?://[^:/@\s]*:)[^@\s]+(@)"), r"\1" + REDACTED + r"\2"),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    # pydantic SecretStr renders as '**********' already; anything else passes.
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: no token, password or key reaches a log line."""
    for key in list(event_dict):
        event_dict[key] = _redact_value(key, event_dict[key])
    return event_dict


MAX_EVENT_CHARS = 1000


def truncate_event(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """dramatiq logs whole messages (200 cards) on failure; keep a line readable."""
    event = event_dict.get("event")
    if isinstance(event, str) and len(event) > MAX_EVENT_CHARS:
        event_dict["event"] = event[:MAX_EVENT_CHARS] + f"... ({len(event)} chars)"
    return event_dict


class _CurrentStderr:
    """Writes to whatever `sys.stderr` is now: a stream captured at configuration time (a test
    runner's, since closed) must not break every later log line."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(fmt: LogFormat | str = LogFormat.AUTO, level: str = "INFO") -> None:
    """Set up structlog and route stdlib logging (dramatiq's) through the same renderer."""
    fmt = LogFormat(fmt)
    use_console = fmt is LogFormat.CONSOLE or (fmt is LogFormat.AUTO and sys.stderr.isatty())
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
        if use_console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(_CurrentStderr())  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                *shared[:3],
                structlog.stdlib.ExtraAdder(),
                structlog.processors.format_exc_info,
                # Redact first: a cut could drop the end of a secret (the @ of redis://:pw@host)
                # that the patterns need to recognise it.
                redact_secrets,
                truncate_event,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # requests/urllib3 would log URLs with query strings at DEBUG; keep them quiet.
    for noisy in ("urllib3", "simple_salesforce"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))

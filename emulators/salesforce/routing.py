"""What a route handler sees and returns: Request, Response, and the Route table entry.

The REST API (api.py) and the Bulk API (bulk.py) both register routes and handle requests; the
types live here so that neither imports the other.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qs, unquote

from emulators.salesforce.auth import Session
from emulators.salesforce.errors import json_parser_error

JSON_TYPE = "application/json;charset=UTF-8"


class Area(StrEnum):
    """What a route is, which decides the hooks that apply to it."""

    TOKEN = "token"  # the OAuth token endpoints: no bearer, not counted as an API call
    IDENTITY = "identity"  # userinfo: bearer, counted, outside the daily limit
    DATA = "data"  # /services/data/vXX.X/...: bearer, daily limit, latency, limit header
    PUBLIC = "public"  # no bearer (the versions list)
    ADMIN = "admin"  # /__admin/...: the emulator's own controls, not Salesforce's; not counted


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    base_url: str
    params: dict[str, str] = field(default_factory=dict)
    route: Route | None = None
    session: Session | None = None

    @property
    def version(self) -> str:
        return self.params.get("version", "62.0")

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self) -> Any:
        if not self.body.strip():
            raise json_parser_error("The request body is empty")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise json_parser_error(f"Unexpected character in request body: {error}") from None

    def form(self) -> dict[str, str]:
        text = self.body.decode("utf-8", errors="replace")
        return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}

    def basic_auth(self) -> tuple[str, str] | None:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote(user), unquote(password)


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON_TYPE
    # Close the connection without answering (for fault injection).
    drop_connection: bool = False

    def payload(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


Handler = Callable[[Request], Response]
BeforeHook = Callable[[Request], Response | None]
AfterHook = Callable[[Request, Response], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    area: Area

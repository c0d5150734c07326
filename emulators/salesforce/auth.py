"""OAuth 2.0 for the emulator: the token endpoint's three grants, bearer sessions, userinfo."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from emulators.salesforce.config import EmulatorConfig
from emulators.salesforce.store import Store

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class OAuthError(Exception):
    """A token endpoint refusal, rendered as `{"error", "error_description"}`."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _authentication_failure() -> OAuthError:
    return OAuthError("invalid_grant", "authentication failure")


@dataclass
class Session:
    token: str
    user_id: str
    username: str
    issued_at: float
    last_used: float


def hash_password(password: str, salt: str) -> str:
    return hashlib.sha256((salt + password).encode("utf-8")).hexdigest()


def set_password(
    store: Store, user_id: str, password: str, security_token: str | None = None
) -> None:
    salt = secrets.token_hex(8)
    store.set_credential(user_id, salt, hash_password(password, salt), security_token)


def _decode_jwt_claims(assertion: str) -> dict[str, Any]:
    # The emulator trusts the assertion's claims; it has no certificate to check the signature.
    parts = assertion.split(".")
    if len(parts) != 3:
        raise OAuthError("invalid_grant", "invalid assertion")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (binascii.Error, ValueError):
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if not isinstance(claims, dict):
        raise OAuthError("invalid_grant", "invalid assertion")
    return claims


class Auth:
    """Issues tokens and resolves bearer tokens to sessions; sessions live in memory only."""

    def __init__(self, store: Store, config: EmulatorConfig) -> None:
        self.store = store
        self.config = config
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def token(
        self, form: Mapping[str, str], basic_auth: tuple[str, str] | None, instance_url: str
    ) -> dict[str, Any]:
        """The token response for a token request, or OAuthError."""
        grant = form.get("grant_type", "")
        client_id = form.get("client_id") or (basic_auth[0] if basic_auth else "")
        client_secret = form.get("client_secret") or (basic_auth[1] if basic_auth else "")
        if grant == "client_credentials":
            self._check_client(client_id, client_secret)
            user = self._active_user(self.config.run_as_username)
        elif grant == "password":
            self._check_client(client_id, client_secret)
            user = self._active_user(form.get("username", ""))
            if not self._password_matches(user["Id"], form.get("password", "")):
                raise _authentication_failure()
        elif grant == JWT_BEARER:
            claims = _decode_jwt_claims(form.get("assertion", ""))
            if str(claims.get("iss", "")) not in self.config.clients:
                raise OAuthError("invalid_client_id", "client identifier invalid")
            expires = claims.get("exp")
            if isinstance(expires, (int, float)) and expires < time.time():
                raise OAuthError("invalid_grant", "expired authorization code")
            user = self._active_user(str(claims.get("sub", "")))
            client_secret = self.config.clients[str(claims["iss"])]
        else:
            raise OAuthError("unsupported_grant_type", "grant type not supported")
        return self._issue(user, client_secret, instance_url)

    def _check_client(self, client_id: str, client_secret: str) -> None:
        expected = self.config.clients.get(client_id)
        if expected is None:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if not hmac.compare_digest(expected, client_secret):
            raise OAuthError("invalid_client", "invalid client credentials")

    def _active_user(self, username: str) -> dict[str, Any]:
        user = self.store.user_by_username(username) if username else None
        if user is None or not user["IsActive"]:
            raise _authentication_failure()
        return user

    def _password_matches(self, user_id: str, given: str) -> bool:
        credential = self.store.get_credential(user_id)
        if credential is None:
            return False
        salt, password_hash, security_token = credential
        candidates = [given]
        # The password flow sends the password with the security token appended, or alone
        # when the caller's IP is trusted; accept both.
        if security_token and given.endswith(security_token):
            candidates.append(given[: -len(security_token)])
        return any(
            hmac.compare_digest(hash_password(candidate, salt), password_hash)
            for candidate in candidates
        )

    def _issue(self, user: dict[str, Any], secret: str, instance_url: str) -> dict[str, Any]:
        now = time.time()
        token = f"{self.store.org_id[:15]}!{secrets.token_urlsafe(72)}"
        with self._lock:
            self._sessions[token] = Session(token, user["Id"], user["Username"], now, now)
        identity = f"{instance_url}/id/{self.store.org_id}/{user['Id']}"
        issued_at = str(int(now * 1000))
        signature = hmac.new(
            secret.encode(), (identity + issued_at).encode(), hashlib.sha256
        ).digest()
        return {
            "access_token": token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": base64.b64encode(signature).decode(),
            "scope": "api",
        }

    def session(self, authorization: str | None) -> Session | None:
        """The live session of an `Authorization: Bearer ...` header value, else None."""
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not token:
            return None
        now = time.time()
        with self._lock:
            session = self._sessions.get(token.strip())
            if session is None:
                return None
            if now - session.last_used > self.config.session_timeout_s:
                del self._sessions[session.token]
                return None
            session.last_used = now
        user = self.store.user_by_id(session.user_id)
        if user is None or not user["IsActive"]:
            self.revoke(session.token)
            return None
        return session

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._sessions.pop(token, None) is not None

    def expire_all(self) -> int:
        """End every session (clients then see INVALID_SESSION_ID); how many there were."""
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
        return count

    def userinfo(self, session: Session, instance_url: str) -> dict[str, Any]:
        user = self.store.user_by_id(session.user_id) or {}
        org_id = self.store.org_id
        identity = f"{instance_url}/id/{org_id}/{session.user_id}"
        return {
            "sub": identity,
            "user_id": session.user_id,
            "organization_id": org_id,
            "preferred_username": user.get("Username", session.username),
            "nickname": user.get("LastName"),
            "name": user.get("Name"),
            "email": user.get("Email"),
            "email_verified": True,
            "given_name": user.get("FirstName"),
            "family_name": user.get("LastName"),
            "zoneinfo": "Asia/Tokyo",
            "locale": "ja_JP",
            "language": "ja",
            "utcOffset": 32_400_000,
            "active": bool(user.get("IsActive")),
            "user_type": "STANDARD",
            "is_app_installed": True,
            "urls": {
                "rest": f"{instance_url}/services/data/v{{version}}/",
                "sobjects": f"{instance_url}/services/data/v{{version}}/sobjects/",
                "query": f"{instance_url}/services/data/v{{version}}/query/",
                "profile": f"{instance_url}/{session.user_id}",
            },
        }

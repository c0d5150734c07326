"""The org's users, read with SOQL and cached in Redis so workers share one read per refresh."""

from __future__ import annotations

import json
import threading
import time

import redis
import structlog

from pipeline.owners import SalesforceUser, UserDirectory
from workers.salesforce.gateway import SalesforceGateway
from workers.state.keys import Keys

log = structlog.get_logger(__name__)

USER_SOQL = "SELECT Id, Username, IsActive, Profile.UserLicense.Name FROM User"


def _license(record: dict) -> str:
    profile = record.get("Profile") or {}
    user_license = profile.get("UserLicense") or {}
    return str(user_license.get("Name") or "")


class DirectoryCache:
    """Read-through cache: Redis holds the directory for `refresh_s`; one worker refreshes it."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        gateway: SalesforceGateway,
        *,
        refresh_s: int,
        default_owner_username: str | None,
    ) -> None:
        self._redis = client
        self._keys = keys
        self._gateway = gateway
        self._refresh_s = refresh_s
        self._default_owner_username = default_owner_username
        self._local: tuple[str, UserDirectory] | None = None
        self._lock = threading.Lock()

    def get(self) -> UserDirectory:
        raw = self._redis.get(self._keys.directory())
        if raw is None:
            raw = self._refresh()
        stamp = raw[:32]
        with self._lock:
            if self._local is not None and self._local[0] == stamp:
                return self._local[1]
        directory = _decode(raw)
        with self._lock:
            self._local = (stamp, directory)
        return directory

    def _refresh(self) -> str:
        lock = self._redis.lock(self._keys.directory_lock(), timeout=120, blocking_timeout=60)
        with lock:
            raw = self._redis.get(self._keys.directory())
            if raw is not None:  # another worker refreshed while we waited
                return str(raw)
            users = [
                SalesforceUser(
                    id=r["Id"],
                    username=r["Username"],
                    is_active=bool(r.get("IsActive")),
                    license_name=_license(r),
                )
                for r in self._gateway.query_all(USER_SOQL)
            ]
            default_id = self._default_user_id(users)
            raw = _encode(users, default_id)
            self._redis.set(self._keys.directory(), raw, ex=self._refresh_s)
            log.info("user_directory_refreshed", users=len(users), default_user_id=default_id)
            return raw

    def _default_user_id(self, users: list[SalesforceUser]) -> str:
        if self._default_owner_username:
            wanted = self._default_owner_username.lower()
            for user in users:
                if user.username.lower() == wanted:
                    return user.id
            raise LookupError(
                f"CARDSYNC_SALESFORCE__DEFAULT_OWNER_USERNAME {self._default_owner_username!r} "
                "is not a user of the org"
            )
        return self._gateway.user_id

    def invalidate(self) -> None:
        self._redis.delete(self._keys.directory())


def _encode(users: list[SalesforceUser], default_user_id: str) -> str:
    # A fixed-width stamp first lets readers skip decoding when nothing changed.
    stamp = f"{time.time():032.6f}"
    body = {
        "default_user_id": default_user_id,
        "users": [[u.id, u.username, u.is_active, u.license_name] for u in users],
    }
    return stamp + json.dumps(body, ensure_ascii=False)


def _decode(raw: str) -> UserDirectory:
    body = json.loads(raw[32:])
    users = [SalesforceUser(i, name, bool(active), lic) for i, name, active, lic in body["users"]]
    return UserDirectory.build(users, body["default_user_id"])

"""Existing Accounts by normalized company key, read in full from Salesforce and kept in Redis."""

from __future__ import annotations

import time

import redis
import structlog

from pipeline.normalize import normalize_company
from workers.salesforce.gateway import SalesforceGateway
from workers.state.keys import Keys

log = structlog.get_logger(__name__)

ACCOUNT_SOQL = "SELECT Id, Name FROM Account ORDER BY CreatedDate, Id"


class AccountIndex:
    """company key -> Account Id; keys that several Accounts share are kept apart, unresolved."""

    def __init__(
        self, client: redis.Redis, keys: Keys, gateway: SalesforceGateway, *, refresh_s: int
    ) -> None:
        self._redis = client
        self._keys = keys
        self._gateway = gateway
        self._refresh_s = refresh_s

    def ensure_fresh(self) -> None:
        meta = self._keys.account_index_meta()
        loaded_at = self._redis.hget(meta, "loaded_at")
        if loaded_at is not None and time.time() - float(loaded_at) < self._refresh_s:
            return
        with self._redis.lock(meta + ":lock", timeout=300, blocking_timeout=120):
            loaded_at = self._redis.hget(meta, "loaded_at")
            if loaded_at is not None and time.time() - float(loaded_at) < self._refresh_s:
                return
            self._load()

    def _load(self) -> None:
        index: dict[str, str] = {}
        ambiguous: dict[str, list[str]] = {}
        count = 0
        for record in self._gateway.query_all(ACCOUNT_SOQL):
            count += 1
            key = normalize_company(record.get("Name") or "").key
            if not key:
                continue
            if key in index:
                ambiguous.setdefault(key, [index[key]]).append(record["Id"])
            else:
                index[key] = record["Id"]
        pipe = self._redis.pipeline(transaction=True)
        pipe.delete(self._keys.account_index(), self._keys.account_index() + ":ambiguous")
        if index:
            pipe.hset(self._keys.account_index(), mapping=index)
        if ambiguous:
            pipe.hset(
                self._keys.account_index() + ":ambiguous",
                mapping={k: ",".join(ids) for k, ids in ambiguous.items()},
            )
        pipe.hset(
            self._keys.account_index_meta(),
            mapping={"loaded_at": time.time(), "accounts": count, "ambiguous": len(ambiguous)},
        )
        pipe.execute()
        log.info("account_index_loaded", accounts=count, keys=len(index), ambiguous=len(ambiguous))

    def lookup(self, company_keys: list[str]) -> dict[str, str]:
        keys = [k for k in dict.fromkeys(company_keys) if k]
        if not keys:
            return {}
        ids = self._redis.hmget(self._keys.account_index(), keys)
        return {k: i for k, i in zip(keys, ids, strict=True) if i}

    def ambiguous(self, company_keys: list[str]) -> dict[str, list[str]]:
        """Company keys that several existing Accounts share: which Account is meant is unclear."""
        keys = [k for k in dict.fromkeys(company_keys) if k]
        if not keys:
            return {}
        ids = self._redis.hmget(self._keys.account_index() + ":ambiguous", keys)
        return {k: i.split(",") for k, i in zip(keys, ids, strict=True) if i}

    def claim(self, company_key: str, record_json: str) -> str:
        """The Account record to write for a new company: the first asker's, for everyone.

        Each person that needs the Account puts the same record, so a Contact never reaches the
        buffer before its Account; identical records coalesce there and cost one write.
        """
        claims = self._keys.account_claims()
        pipe = self._redis.pipeline(transaction=True)
        pipe.hsetnx(claims, company_key, record_json)
        pipe.hget(claims, company_key)
        return str(pipe.execute()[1])

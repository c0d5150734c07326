"""What was written to Salesforce: per external ID, the record id, version and payload hash."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from pipeline.models import SyncRecord
from workers.state.keys import Keys


def payload_hash(record: SyncRecord) -> str:
    body = json.dumps(record.payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha1(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    salesforce_id: str
    version: int
    payload_hash: str


class SyncLedger:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def get(self, sobject: str, external_ids: list[str]) -> dict[str, LedgerEntry]:
        if not external_ids:
            return {}
        raw = self._redis.hmget(self._keys.ledger(sobject), external_ids)
        entries = {}
        for ext, value in zip(external_ids, raw, strict=True):
            if value:
                data = json.loads(value)
                entries[ext] = LedgerEntry(data["id"], int(data["version"]), data["hash"])
        return entries

    def salesforce_ids(self, sobject: str, external_ids: list[str]) -> dict[str, str]:
        return {ext: e.salesforce_id for ext, e in self.get(sobject, external_ids).items()}

    def record_written(
        self, sobject: str, written: list[tuple[SyncRecord, int, str]], pipe: Any = None
    ) -> None:
        """(record, version, salesforce id) for each success."""
        if not written:
            return
        now = time.time()
        values = {
            record.external_id: json.dumps(
                {"id": sf_id, "version": version, "hash": payload_hash(record), "at": now}
            )
            for record, version, sf_id in written
        }
        (pipe or self._redis).hset(self._keys.ledger(sobject), mapping=values)

    def count(self, sobject: str) -> int:
        return int(self._redis.hlen(self._keys.ledger(sobject)))

"""Per-import bookkeeping: cards read, rejects with their reasons, and each card's progress."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import redis

from pipeline.models import Reject
from workers.state.keys import Keys


def new_import_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


@dataclass(frozen=True, slots=True)
class ImportCounts:
    import_id: str
    source: str
    started_at: float
    finished_reading: bool
    read: int
    rejected: int
    merged: int
    written: int
    failed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ImportTracker:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def start(self, import_id: str, source: str) -> None:
        now = time.time()
        pipe = self._redis.pipeline()
        pipe.zadd(self._keys.imports(), {import_id: now})
        pipe.hset(
            self._keys.import_info(import_id),
            mapping={"source": source, "started_at": now, "read": 0},
        )
        pipe.execute()

    def add_read(self, import_id: str, rows: int) -> None:
        self._redis.hincrby(self._keys.import_info(import_id), "read", rows)

    def finish_reading(
        self, import_id: str, *, encoding: str = "", unknown_headers: list[str] | None = None
    ) -> None:
        self._redis.hset(
            self._keys.import_info(import_id),
            mapping={
                "finished_reading": time.time(),
                "encoding": encoding,
                "unknown_headers": json.dumps(unknown_headers or [], ensure_ascii=False),
            },
        )

    def add_rejects(self, import_id: str, rejects: list[Reject]) -> None:
        if rejects:
            values = {
                f"{r.line}:{r.card_id}": json.dumps(r.to_dict(), ensure_ascii=False)
                for r in rejects
            }
            self._redis.hset(self._keys.import_rejects(import_id), mapping=values)

    def rejects(self, import_id: str) -> list[Reject]:
        raw = self._redis.hvals(self._keys.import_rejects(import_id))
        rejects = [Reject.from_dict(json.loads(v)) for v in raw]
        return sorted(rejects, key=lambda r: (r.source, r.line))

    def mark_cards(
        self, outcomes: dict[str, tuple[list[str], list[str]]], pipe: Any = None
    ) -> None:
        """import id -> (written card ids, failed card ids); a later success clears a failure."""
        target = pipe or self._redis.pipeline(transaction=False)
        for import_id, (written, failed) in outcomes.items():
            if written:
                target.sadd(self._keys.import_written(import_id), *written)
                target.srem(self._keys.import_failed(import_id), *written)
            if failed:
                target.sadd(self._keys.import_failed(import_id), *failed)
        if pipe is None:
            target.execute()

    def merged_cards(self, import_id: str) -> list[str]:
        return list(self._redis.smembers(self._keys.import_merged(import_id)))

    def recent(self, limit: int = 10) -> list[str]:
        return list(reversed(self._redis.zrange(self._keys.imports(), -limit, -1)))

    def counts(self, import_id: str) -> ImportCounts:
        k = self._keys
        pipe = self._redis.pipeline(transaction=False)
        pipe.hgetall(k.import_info(import_id))
        pipe.hlen(k.import_rejects(import_id))
        pipe.scard(k.import_merged(import_id))
        pipe.scard(k.import_written(import_id))
        pipe.scard(k.import_failed(import_id))
        info, rejected, merged, written, failed = pipe.execute()
        return ImportCounts(
            import_id=import_id,
            source=info.get("source", ""),
            started_at=float(info.get("started_at", 0)),
            finished_reading="finished_reading" in info,
            read=int(info.get("read", 0)),
            rejected=int(rejected),
            merged=int(merged),
            written=int(written),
            failed=int(failed),
        )

"""The writer's Redis buffer: the latest version of each pending record, flushed in batches.

A record is keyed by (sObject, external ID); a newer version replaces an older one while it waits,
so a person seen on five cards is written once. A popped batch is leased: if its writer dies, the
lease runs out and the records return to the buffer, unless a newer version arrived meanwhile.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import redis

from config.settings import COLLECTIONS_MAX_RECORDS
from pipeline.models import SyncRecord
from workers.state.keys import Keys

# Values are "version|json" so the scripts can compare versions without decoding JSON.
_PUT = """
local pending, since = KEYS[1], KEYS[2]
local now = ARGV[1]
local stored = 0
for i = 2, #ARGV, 3 do
  local ext, ver, body = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2]
  local current = redis.call('HGET', pending, ext)
  local keep = true
  if current then
    local current_ver = tonumber(string.sub(current, 1, string.find(current, '|', 1, true) - 1))
    keep = current_ver <= ver
  end
  if keep then
    redis.call('HSET', pending, ext, ARGV[i + 1] .. '|' .. body)
    redis.call('ZADD', since, 'NX', now, ext)
    stored = stored + 1
  end
end
return stored
"""

_POP = """
local pending, since, inflight, lease = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local limit, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local linger, lease_ms = tonumber(ARGV[3]), tonumber(ARGV[4])
local waiting = redis.call('ZCARD', since)
if waiting == 0 then return {} end
-- Dependencies (Accounts a Contact refers to by external ID) must be written first.
for i = 5, #KEYS do
  if redis.call('HLEN', KEYS[i]) > 0 then return {'blocked'} end
end
if waiting < limit then
  local oldest = redis.call('ZRANGE', since, 0, 0, 'WITHSCORES')
  if now - tonumber(oldest[2]) < linger then return {} end
end
local out = {}
local candidates = redis.call('ZRANGE', since, 0, limit * 2)
for _, ext in ipairs(candidates) do
  if #out >= limit then break end
  -- Never two writes of one record at once: a version still in flight keeps this one waiting.
  if redis.call('HEXISTS', inflight, ext) == 0 then
    local value = redis.call('HGET', pending, ext)
    redis.call('HDEL', pending, ext)
    redis.call('ZREM', since, ext)
    if value then
      redis.call('HSET', inflight, ext, value)
      redis.call('ZADD', lease, now + lease_ms, ext)
      table.insert(out, value)
    end
  end
end
return out
"""

_RELEASE = """
local pending, since, inflight, lease = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local mode, score = ARGV[1], ARGV[2]
local released = 0
for i = 3, #ARGV do
  local ext = ARGV[i]
  local value = redis.call('HGET', inflight, ext)
  redis.call('HDEL', inflight, ext)
  redis.call('ZREM', lease, ext)
  if mode == 'requeue' and value and redis.call('HEXISTS', pending, ext) == 0 then
    redis.call('HSET', pending, ext, value)
    redis.call('ZADD', since, score, ext)
    released = released + 1
  end
end
return released
"""


@dataclass(frozen=True, slots=True)
class BufferedRecord:
    record: SyncRecord
    version: int


@dataclass(frozen=True, slots=True)
class BufferDepth:
    pending: int
    inflight: int


class Blocked(Exception):
    """A dependency (pending Accounts) must be flushed before this sObject."""


class WriterBuffer:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        batch_size: int = COLLECTIONS_MAX_RECORDS,
        linger_ms: int = 2000,
        lease_ms: int = 120_000,
    ) -> None:
        self._redis = client
        self._keys = keys
        self.batch_size = batch_size
        self.linger_ms = linger_ms
        self.lease_ms = lease_ms
        self._put = client.register_script(_PUT)
        self._pop = client.register_script(_POP)
        self._release = client.register_script(_RELEASE)

    def _keys_for(self, sobject: str) -> list[str]:
        k = self._keys
        return [k.pending(sobject), k.pending_since(sobject), k.inflight(sobject), k.lease(sobject)]

    def put(self, items: list[BufferedRecord], *, now_ms: int | None = None) -> int:
        """Store records, keeping per external ID the highest version; returns how many stored."""
        by_sobject: dict[str, list[str]] = {}
        for item in items:
            body = json.dumps(item.record.to_dict(), ensure_ascii=False, sort_keys=True)
            by_sobject.setdefault(item.record.sobject, []).extend(
                [item.record.external_id, str(item.version), body]
            )
        now = str(now_ms if now_ms is not None else _now_ms())
        stored = 0
        for sobject, args in by_sobject.items():
            stored += int(self._put(keys=self._keys_for(sobject)[:2], args=[now, *args]))
        return stored

    def pop(
        self,
        sobject: str,
        *,
        after: tuple[str, ...] = (),
        force: bool = False,
        now_ms: int | None = None,
        limit: int | None = None,
    ) -> list[BufferedRecord]:
        """Lease up to `limit` (default batch_size) records: a full batch, or all waiting once
        the oldest lingered."""
        blockers = []
        for dependency in after:
            blockers += [self._keys.pending(dependency), self._keys.inflight(dependency)]
        raw = self._pop(
            keys=[*self._keys_for(sobject), *blockers],
            args=[
                limit or self.batch_size,
                now_ms if now_ms is not None else _now_ms(),
                0 if force else self.linger_ms,
                self.lease_ms,
            ],
        )
        if raw == ["blocked"]:
            raise Blocked(sobject)
        return [_decode(value) for value in raw]

    def ack(self, sobject: str, external_ids: list[str]) -> None:
        if external_ids:
            self._release(keys=self._keys_for(sobject), args=["ack", 0, *external_ids])

    def requeue(
        self,
        sobject: str,
        external_ids: list[str],
        *,
        now_ms: int | None = None,
        delay_ms: int = 0,
    ) -> int:
        """Return leased records to the buffer, due at once or after `delay_ms`; a newer pending
        version wins."""
        if not external_ids:
            return 0
        due = (now_ms if now_ms is not None else _now_ms()) - self.linger_ms + delay_ms
        return int(
            self._release(keys=self._keys_for(sobject), args=["requeue", due, *external_ids])
        )

    def extend(self, sobject: str, external_ids: list[str], *, now_ms: int | None = None) -> None:
        """Renew the lease of records still being written (only those this writer still holds)."""
        if external_ids:
            until = (now_ms if now_ms is not None else _now_ms()) + self.lease_ms
            self._redis.zadd(self._keys.lease(sobject), dict.fromkeys(external_ids, until), xx=True)

    def reclaim_expired(self, sobject: str, *, now_ms: int | None = None) -> int:
        """Records whose writer died (lease ran out) go back to the buffer."""
        now = now_ms if now_ms is not None else _now_ms()
        expired = self._redis.zrangebyscore(self._keys.lease(sobject), 0, now)
        return self.requeue(sobject, list(expired), now_ms=now)

    def discard(self, sobject: str, external_ids: list[str]) -> None:
        if external_ids:
            pipe = self._redis.pipeline()
            pipe.hdel(self._keys.pending(sobject), *external_ids)
            pipe.zrem(self._keys.pending_since(sobject), *external_ids)
            pipe.execute()

    def depth(self, sobject: str) -> BufferDepth:
        pipe = self._redis.pipeline(transaction=False)
        pipe.hlen(self._keys.pending(sobject))
        pipe.hlen(self._keys.inflight(sobject))
        pending, inflight = pipe.execute()
        return BufferDepth(pending=int(pending), inflight=int(inflight))


def _decode(value: str) -> BufferedRecord:
    version, _, body = value.partition("|")
    return BufferedRecord(SyncRecord.from_dict(json.loads(body)), int(version))


def _now_ms() -> int:
    return int(time.time() * 1000)

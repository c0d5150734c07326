"""At most N Salesforce calls in flight across every worker process: a semaphore in Redis.

Each holder is a member of a sorted set scored by its lease end, so a process killed mid-call
frees its slot when the lease runs out instead of leaking it.
"""

from __future__ import annotations

import contextlib
import random
import time
import uuid
from collections.abc import Iterator

import redis

from workers.state.keys import Keys

_ACQUIRE = """
local key, token = KEYS[1], ARGV[1]
local now, lease_ms, limit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now + lease_ms, token)
  return 1
end
return 0
"""


class CallSlotTimeout(Exception):
    """No call slot became free in time (every slot held by slow calls)."""


class CallLimiter:
    """Parameters: limit (default 10; Salesforce allows 25 long-running requests per org),
    lease_s (default 60: longer than any call's timeout), wait_s (default 120)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        limit: int = 10,
        lease_s: float = 60.0,
        wait_s: float = 120.0,
    ) -> None:
        self._redis = client
        self._key = keys.calls_in_flight()
        self.limit = limit
        self.lease_s = lease_s
        self.wait_s = wait_s
        self._acquire = client.register_script(_ACQUIRE)

    def try_acquire(self) -> str | None:
        token = uuid.uuid4().hex
        now = int(time.time() * 1000)
        granted = self._acquire(
            keys=[self._key], args=[token, now, int(self.lease_s * 1000), self.limit]
        )
        return token if int(granted) else None

    def release(self, token: str) -> None:
        self._redis.zrem(self._key, token)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        deadline = time.monotonic() + self.wait_s
        while (token := self.try_acquire()) is None:
            if time.monotonic() > deadline:
                raise CallSlotTimeout(f"no Salesforce call slot free in {self.wait_s:.0f}s")
            time.sleep(random.uniform(0.01, 0.05))
        try:
            yield
        finally:
            self.release(token)

    def in_flight(self) -> int:
        now = int(time.time() * 1000)
        return int(self._redis.zcount(self._key, now, "+inf"))

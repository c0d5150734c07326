"""Messages stranded in a live worker's ack set go back to their queue.

dramatiq returns a *dead* worker's unacked messages, but two things strand messages under a live
one: a fetch that ran on Redis whose reply was lost (a Redis restart mid-call), and the
in-memory delay queue a consumer drops on a connection error. Such a message sits in
`dramatiq:__acks__.<worker>.<queue>` forever. A message seen there for longer than any message
may legitimately stay (time limit plus the longest delay) is requeued; every stage is
idempotent, so a rare second run of a slow message costs nothing but time.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
import structlog
from dramatiq.middleware import Middleware

log = structlog.get_logger(__name__)

# KEYS: seen-hash, then ack keys; ARGV: now_ms, threshold_ms, then per ack key its queue key.
_RECLAIM = """
local seen = KEYS[1]
local now, threshold = tonumber(ARGV[1]), tonumber(ARGV[2])
local present, requeued = {}, 0
for i = 2, #KEYS do
  local acks, queue = KEYS[i], ARGV[i + 1]
  for _, id in ipairs(redis.call('SMEMBERS', acks)) do
    local field = acks .. '|' .. id
    present[field] = true
    local first = redis.call('HGET', seen, field)
    if not first then
      redis.call('HSET', seen, field, now)
    elseif now - tonumber(first) > threshold then
      redis.call('SREM', acks, id)
      if redis.call('HEXISTS', queue .. '.msgs', id) == 1 then
        redis.call('RPUSH', queue, id)
        requeued = requeued + 1
      end
      redis.call('HDEL', seen, field)
      present[field] = nil
    end
  end
end
for _, field in ipairs(redis.call('HKEYS', seen)) do
  if not present[field] then redis.call('HDEL', seen, field) end
end
return requeued
"""


class StrandedAckReclaimer:
    def __init__(self, client: redis.Redis, *, seen_key: str, namespace: str = "dramatiq") -> None:
        self._redis = client
        self._seen = seen_key
        self._namespace = namespace
        self._script = client.register_script(_RECLAIM)

    def reclaim(self, *, stranded_after_ms: int, now_ms: int | None = None) -> int:
        """One pass: remember what sits in ack sets; requeue what sat there too long."""
        ack_keys = sorted(
            k.decode() if isinstance(k, bytes) else k
            for k in self._redis.scan_iter(match=f"{self._namespace}:__acks__.*", count=1000)
        )
        queues = []
        for key in ack_keys:
            # dramatiq:__acks__.<worker id>.<queue>[.DQ] — worker ids hold no dots
            queue = key.split(":__acks__.", 1)[1].split(".", 1)[1]
            queues.append(f"{self._namespace}:{queue}")
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        return int(
            self._script(keys=[self._seen, *ack_keys], args=[now, stranded_after_ms, *queues])
        )


class StrandedAckMiddleware(Middleware):
    """Runs the reclaimer every `interval_s` in each worker process, one process at a time."""

    def __init__(
        self, client: redis.Redis, *, seen_key: str, stranded_after_s: float, interval_s: float
    ) -> None:
        self._client = client
        self._reclaimer = StrandedAckReclaimer(client, seen_key=seen_key)
        self._seen_key = seen_key
        self._after_ms = int(stranded_after_s * 1000)
        self._interval_s = interval_s
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        threading.Thread(target=self._loop, name="stranded-acks", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                lock = self._seen_key + ":lock"
                if self._client.set(lock, "1", nx=True, px=int(self._interval_s * 900)):
                    requeued = self._reclaimer.reclaim(stranded_after_ms=self._after_ms)
                    if requeued:
                        log.warning("stranded_messages_requeued", messages=requeued)
            except redis.RedisError as error:
                log.warning("stranded_ack_check_failed", error=str(error))

"""A circuit breaker in Redis that pauses every writer of every process until a given time.

The org's API budget is shared, so one writer that hears REQUEST_LIMIT_EXCEEDED (or sees
usage near the daily limit in Sforce-Limit-Info) opens it for all. It closes by itself when its
time is up; the first writer then probes with one call. Each trip without a success between
doubles the pause (from `initial_pause_s` up to `max_pause_s`), so a spent budget is probed
rarely and a short episode costs a short pause.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

from workers.state.keys import Keys

# Opens the breaker and counts the trip; while it is open, a trip changes nothing.
_TRIP = """
local key = KEYS[1]
local now, initial, max_pause = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local current = tonumber(redis.call('HGET', key, 'until_ms') or '0')
-- Writers that fail while the breaker is already open saw the same episode: no new trip.
if current > now then return current end
local trips = tonumber(redis.call('HGET', key, 'trips') or '0') + 1
local pause = math.min(max_pause, initial * 2 ^ (trips - 1))
local until_ms = now + pause
redis.call('HSET', key, 'until_ms', until_ms, 'reason', ARGV[4], 'opened_ms', now, 'trips', trips)
return until_ms
"""


@dataclass(frozen=True, slots=True)
class BreakerState:
    reason: str
    until: float  # epoch seconds

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.until - time.time())


class WritersPaused(Exception):
    """The breaker is open: no writer may call Salesforce until `state.until`."""

    def __init__(self, state: BreakerState) -> None:
        super().__init__(f"writers paused until {state.until:.0f}: {state.reason}")
        self.state = state


class CircuitBreaker:
    """Parameters: initial_pause_s (default 1), max_pause_s (default 300)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        initial_pause_s: float = 1.0,
        max_pause_s: float = 300.0,
    ) -> None:
        self._redis = client
        self._key = keys.writer_breaker()
        self.initial_pause_s = initial_pause_s
        self.max_pause_s = max_pause_s
        self._trip = client.register_script(_TRIP)

    def trip(self, reason: str) -> BreakerState:
        until_ms = self._trip(
            keys=[self._key],
            args=[
                int(time.time() * 1000),
                int(self.initial_pause_s * 1000),
                int(self.max_pause_s * 1000),
                reason,
            ],
        )
        return BreakerState(reason, int(until_ms) / 1000)

    def state(self) -> BreakerState | None:
        """The open breaker, or None when writers may call."""
        return read_breaker(self._redis, self._key)

    def raise_if_open(self) -> None:
        state = self.state()
        if state is not None:
            raise WritersPaused(state)

    def succeeded(self) -> None:
        """A call went through: the next trip starts from the initial pause again."""
        if self._redis.hget(self._key, "trips") not in (None, "0"):
            self._redis.hset(self._key, "trips", 0)

    def reset(self) -> None:
        self._redis.delete(self._key)


def read_breaker(client: redis.Redis, key: str) -> BreakerState | None:
    raw = client.hmget(key, "until_ms", "reason")
    if not raw[0]:
        return None
    until = int(float(raw[0])) / 1000
    if until <= time.time():
        return None
    return BreakerState(str(raw[1] or ""), until)

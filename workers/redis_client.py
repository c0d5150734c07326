"""One Redis connection pool per process, shared by the broker's neighbours: the stores."""

from __future__ import annotations

import threading

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import BusyLoadingError, ConnectionError, TimeoutError
from redis.retry import Retry

from config.settings import Settings

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def redis_url(settings: Settings) -> str:
    return settings.redis_url or DEFAULT_REDIS_URL


def connection_pool(url: str, *, decode_responses: bool) -> redis.ConnectionPool:
    """Connections that ride out a Redis restart: retried with backoff for about half a minute.

    Without this, an ack lost during a restart strands its message in a live worker's ack set,
    where dramatiq never looks again. The commands cardsync sends are idempotent, or counted
    where a rare repeat is harmless, so a retry after a lost reply is safe.
    """
    return redis.ConnectionPool.from_url(
        url,
        decode_responses=decode_responses,
        health_check_interval=30,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=20),
        retry_on_error=[ConnectionError, TimeoutError, BusyLoadingError],
    )


def get_redis(settings: Settings) -> redis.Redis:
    """A client with decoded strings; connections retry on timeouts and resets."""
    url = redis_url(settings)
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis(connection_pool=connection_pool(url, decode_responses=True))
            _clients[url] = client
        return client

"""One Redis connection pool per process, shared by the broker's neighbours: the stores."""

from __future__ import annotations

import threading

import redis

from config.settings import Settings

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

_lock = threading.Lock()
_clients: dict[str, redis.Redis] = {}


def redis_url(settings: Settings) -> str:
    return settings.redis_url or DEFAULT_REDIS_URL


def get_redis(settings: Settings) -> redis.Redis:
    """A client with decoded strings; connections retry on timeouts and resets."""
    url = redis_url(settings)
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = redis.Redis.from_url(
                url,
                decode_responses=True,
                health_check_interval=30,
                socket_keepalive=True,
                retry_on_timeout=True,
            )
            _clients[url] = client
        return client

"""Shared fixtures: a real redis-server on a free port, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from demo.local_redis import LocalRedis, start_local_redis


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    server = start_local_redis(directory=tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture()
def redis_client(redis_server: LocalRedis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushall()
    yield client
    client.flushall()
    client.close()

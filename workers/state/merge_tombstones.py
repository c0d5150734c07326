"""The writer's own record of persons merged into another (person key -> survivor).

The map stage forwards each merge to the writer in its `card_write` message; the writer keeps it
here and never reads the person index, so a person merged away while its record travelled is
recognised from the writer's own keys. Entries are never removed: a merge is not undone.
"""

from __future__ import annotations

from collections.abc import Mapping

import redis

from workers.state.keys import Keys


class MergeTombstones:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._key = keys.writer_merged()

    def record(self, merged_into: Mapping[str, str]) -> None:
        """Remember each merge notice (idempotent: a replayed notice writes the same values)."""
        if merged_into:
            self._redis.hset(self._key, mapping=dict(merged_into))

    def survivors(self, person_keys: list[str]) -> dict[str, str]:
        """person key -> survivor, for those of `person_keys` merged into another person."""
        keys = [k for k in dict.fromkeys(person_keys) if k]
        if not keys:
            return {}
        found = self._redis.hmget(self._key, keys)
        return {k: s for k, s in zip(keys, found, strict=True) if s}

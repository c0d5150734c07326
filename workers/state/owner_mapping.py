"""Owner mapping state in Redis: the initial mapping, administrators' overrides, users seen."""

from __future__ import annotations

import json

import redis

from pipeline.owners import OwnerDecision, SansanOwner
from workers.state.keys import Keys


class OwnerMappingStore:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def begin_import(self, import_id: str) -> bool:
        """The first import takes the initial mapping; later ones do not. True if this one did."""
        k = self._keys
        return bool(self._redis.set(k.owner_initial_import(), import_id, nx=True))

    def initial_import(self) -> str | None:
        return self._redis.get(self._keys.owner_initial_import())

    def in_initial_mapping(self, owners: list[SansanOwner], import_id: str) -> dict[str, bool]:
        """Whether each owner is in the initial mapping; owners of the initial import join it."""
        k = self._keys
        keys = sorted({o.key for o in owners if o.key})
        if not keys:
            return {}
        if self.initial_import() == import_id:
            self._redis.sadd(k.owner_initial(), *keys)
        flags = self._redis.smismember(k.owner_initial(), keys)
        return dict(zip(keys, (bool(f) for f in flags), strict=True))

    def overrides(self) -> dict[str, str]:
        return dict(self._redis.hgetall(self._keys.owner_overrides()))

    def set_override(self, sansan_user: str, salesforce_user_id: str) -> None:
        self._redis.hset(
            self._keys.owner_overrides(), sansan_user.strip().lower(), salesforce_user_id
        )

    def reset_override(self, sansan_user: str) -> bool:
        return bool(self._redis.hdel(self._keys.owner_overrides(), sansan_user.strip().lower()))

    def record_seen(self, decisions: dict[str, tuple[SansanOwner, OwnerDecision]]) -> None:
        """Remember each Sansan user's latest decision, for `status` and mapping administration."""
        if not decisions:
            return
        values = {
            key: json.dumps(
                {
                    "email": owner.email,
                    "name": owner.name,
                    "salesforce_user_id": decision.user_id,
                    "reason": decision.reason.value,
                },
                ensure_ascii=False,
            )
            for key, (owner, decision) in decisions.items()
        }
        self._redis.hset(self._keys.owners_seen(), mapping=values)

    def seen(self) -> dict[str, dict[str, str]]:
        return {k: json.loads(v) for k, v in self._redis.hgetall(self._keys.owners_seen()).items()}

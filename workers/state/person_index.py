"""The person index in Redis: which cards are one person, decided atomically across workers."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from importlib import resources

import redis

from pipeline.merge import build_person, new_person_key
from pipeline.models import Card, Person
from pipeline.person_join import CardEvidence, IndexState, resolve_alias
from workers.state.keys import Keys

# The join is decided by pipeline/person_join.py's rules, made atomic in Redis by this script: two
# workers with two cards of one person cannot create two persons.
_JOIN_CARD = resources.files(__package__).joinpath("join_card.lua").read_text(encoding="utf-8")


_CARD_FIELDS = tuple(f.name for f in fields(Card))


def _card_json(card: Card) -> str:
    # Same JSON as Card.to_dict() gives, without dataclasses.asdict's deep copy (a third of the
    # merge stage's time).
    data = {name: getattr(card, name) for name in _CARD_FIELDS}
    data["tags"] = list(card.tags)
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, slots=True)
class JoinResult:
    card_id: str
    person_key: str
    version: int
    changed: bool
    merged_away: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoadedPerson:
    person: Person
    version: int
    import_ids: tuple[str, ...]


class PersonIndex:
    """Cards -> persons, with union of persons when a card links them."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys
        self._join = client.register_script(_JOIN_CARD)

    def _person_cards_prefix(self) -> str:
        return self._keys.person_cards("")[: -len(":cards")]

    def join(self, cards: list[Card], import_id: str) -> list[JoinResult]:
        """Join a chunk of cards in one round trip; each card is decided atomically, in order."""
        k = self._keys
        keys = [
            k.match_key(),
            k.card_person(),
            k.cards(),
            k.person_alias(),
            k.person_seq(),
            k.person_version(),
            k.person_counter(),
            k.card_import(),
            k.import_merged(import_id),
        ]
        prefix = self._person_cards_prefix()
        pipe = self._redis.pipeline(transaction=False)
        for card in cards:
            evidence = CardEvidence.of(card)
            args = [
                prefix,
                card.card_id,
                _card_json(card),
                new_person_key(card.card_id),
                import_id,
                len(evidence.facts),
                len(evidence.strong_keys),
                *evidence.facts,
                *evidence.strong_keys,
                *evidence.company_keys,
            ]
            self._join(keys=keys, args=args, client=pipe)
        results = []
        for card, raw in zip(cards, pipe.execute(), strict=True):
            results.append(
                JoinResult(
                    card_id=card.card_id,
                    person_key=raw[0],
                    version=int(raw[1]),
                    changed=raw[2] == "1",
                    merged_away=tuple(raw[3:]),
                )
            )
        return results

    def rejoin_stored_cards(self, *, chunk: int = 500) -> Iterator[JoinResult]:
        """Join every stored card again, under the match keys the current rules compute.

        For an index built under other rules (the keys changed): each card keeps its import,
        finds its own person through its earlier assignment and registers the new keys, and
        persons the new rules link become one. Results with `changed` or `merged_away` name the
        persons to map and write again. Merges the old rules made are not undone.
        """
        k = self._keys
        cursor = 0
        while True:
            cursor, batch = self._redis.hscan(k.cards(), cursor, count=chunk)
            card_ids = list(batch)
            imports = self._redis.hmget(k.card_import(), card_ids) if card_ids else []
            by_import: dict[str, list[Card]] = {}
            for card_id, import_id in zip(card_ids, imports, strict=True):
                card = Card.from_dict(json.loads(batch[card_id]))
                by_import.setdefault(import_id or "", []).append(card)
            for import_id, cards in by_import.items():
                yield from self.join(cards, import_id)
            if cursor == 0:
                return

    def resolve(self, person_key: str) -> str:
        """The live person a person key stands for (one HGET per merge it went through)."""
        return resolve_alias(_RedisHash(self._redis, self._keys.person_alias()), person_key)

    def state(self) -> IndexState:
        """The whole index as plain data, for `pipeline.person_join.decide_join` and for checks.

        Reads everything (not for the hot path) and not atomically with joins running elsewhere.
        """
        k = self._keys
        pipe = self._redis.pipeline(transaction=True)
        for hash_key in (k.match_key(), k.person_alias(), k.person_seq(), k.card_person()):
            pipe.hgetall(hash_key)
        by_key, aliases, seq, card_persons = pipe.execute()
        prefix = self._person_cards_prefix()
        pipe = self._redis.pipeline(transaction=True)
        for pk in seq:
            pipe.smembers(f"{prefix}{pk}:ids")
            pipe.exists(f"{prefix}{pk}:ambiguous")
        raw = pipe.execute()
        facts = {pk: frozenset(raw[2 * i]) for i, pk in enumerate(seq) if raw[2 * i]}
        return IndexState(
            persons_by_key={key: tuple(v.split(",")) for key, v in by_key.items()},
            aliases=aliases,
            ranks={pk: int(rank) for pk, rank in seq.items()},
            facts=facts,
            ambiguous=frozenset(pk for i, pk in enumerate(seq) if raw[2 * i + 1]),
            card_persons=card_persons,
        )

    def load(self, person_keys: list[str]) -> dict[str, LoadedPerson]:
        """The current merged view of live persons; keys merged into another person are skipped."""
        k = self._keys
        pipe = self._redis.pipeline(transaction=True)
        for pk in person_keys:
            pipe.hget(k.person_alias(), pk)
            pipe.smembers(k.person_cards(pk))
            pipe.hget(k.person_version(), pk)
        raw = pipe.execute()
        loaded: dict[str, LoadedPerson] = {}
        wanted: list[tuple[str, list[str], int]] = []
        for i, pk in enumerate(person_keys):
            alias, card_ids, version = raw[3 * i], raw[3 * i + 1], raw[3 * i + 2]
            if alias is None and card_ids:
                wanted.append((pk, sorted(card_ids), int(version or 0)))
        if not wanted:
            return loaded
        pipe = self._redis.pipeline(transaction=False)
        for _, card_ids, _ in wanted:
            pipe.hmget(k.cards(), card_ids)
            pipe.hmget(k.card_import(), card_ids)
        raw = pipe.execute()
        for i, (pk, _card_ids, version) in enumerate(wanted):
            cards = [Card.from_dict(json.loads(c)) for c in raw[2 * i] if c]
            imports = tuple(sorted({imp for imp in raw[2 * i + 1] if imp}))
            loaded[pk] = LoadedPerson(build_person(pk, cards), version, imports)
        return loaded

    # Card ids per HMGET in `person_count`: few round trips, none long enough to stall Redis.
    COUNT_BATCH = 5000

    def person_count(self, card_ids: list[str]) -> int:
        """How many distinct live persons these cards belong to."""
        if not card_ids:
            return 0
        persons: set[str] = set()
        for start in range(0, len(card_ids), self.COUNT_BATCH):
            batch = card_ids[start : start + self.COUNT_BATCH]
            persons.update(pk for pk in self._redis.hmget(self._keys.card_person(), batch) if pk)
        return len({self.resolve(pk) for pk in persons})


class _RedisHash(Mapping[str, str]):
    """A Redis hash read field by field, so `resolve_alias` reads only the hops it follows."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self._redis = client
        self._key = key

    def __getitem__(self, field: str) -> str:
        value = self._redis.hget(self._key, field)
        if value is None:
            raise KeyError(field)
        return value

    def __iter__(self) -> Iterator[str]:
        return (field for field, _ in self._redis.hscan_iter(self._key))

    def __len__(self) -> int:
        return self._redis.hlen(self._key)

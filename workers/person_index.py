"""The person index in Redis: which cards are one person, decided atomically across workers."""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis

from pipeline.merge import build_person, match_keys, new_person_key
from pipeline.models import Card, Person
from workers.keys import Keys

# One card joins the index. Every person its keys (or its earlier assignment) point to becomes one:
# the oldest person key survives, the others become aliases and hand over their cards. Running as a
# script makes the read-decide-write atomic, so two workers with two cards of one person cannot
# create two persons.
_JOIN_CARD = """
local match_key, card_person, cards, alias, seq, version, counter, card_import, merged_set =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local prefix, card_id, card_json, fresh_key, import_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

local function resolve(pk)
  for _ = 1, 64 do
    local nxt = redis.call('HGET', alias, pk)
    if not nxt then return pk end
    pk = nxt
  end
  return pk
end

local rank, order = {}, {}
local function consider(pk)
  pk = resolve(pk)
  if rank[pk] == nil then
    rank[pk] = tonumber(redis.call('HGET', seq, pk)) or 0
    table.insert(order, pk)
  end
end

local previous = redis.call('HGET', card_person, card_id)
if previous then consider(previous) end
for i = 6, #ARGV do
  local pk = redis.call('HGET', match_key, ARGV[i])
  if pk then consider(pk) end
end

local survivor
if #order == 0 then
  survivor = fresh_key
  redis.call('HSET', seq, survivor, redis.call('INCR', counter))
else
  survivor = order[1]
  for _, pk in ipairs(order) do
    if rank[pk] < rank[survivor] then survivor = pk end
  end
end

local merged = {}
for _, pk in ipairs(order) do
  if pk ~= survivor then
    redis.call('HSET', alias, pk, survivor)
    local from = prefix .. pk .. ':cards'
    for _, member in ipairs(redis.call('SMEMBERS', from)) do
      redis.call('SADD', prefix .. survivor .. ':cards', member)
      redis.call('HSET', card_person, member, survivor)
    end
    redis.call('DEL', from)
    table.insert(merged, pk)
  end
end

for i = 6, #ARGV do redis.call('HSET', match_key, ARGV[i], survivor) end
local changed = (previous ~= survivor) or (#merged > 0)
if redis.call('HGET', cards, card_id) ~= card_json then
  redis.call('HSET', cards, card_id, card_json)
  changed = true
end
redis.call('SADD', prefix .. survivor .. ':cards', card_id)
redis.call('HSET', card_person, card_id, survivor)
redis.call('HSET', card_import, card_id, import_id)
redis.call('SADD', merged_set, card_id)
local ver
if changed then
  ver = redis.call('HINCRBY', version, survivor, 1)
else
  ver = tonumber(redis.call('HGET', version, survivor)) or 0
end
local result = {survivor, tostring(ver), changed and '1' or '0'}
for _, pk in ipairs(merged) do table.insert(result, pk) end
return result
"""


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
            card_json = json.dumps(card.to_dict(), ensure_ascii=False, sort_keys=True)
            args = [prefix, card.card_id, card_json, new_person_key(card.card_id), import_id]
            self._join(keys=keys, args=[*args, *match_keys(card)], client=pipe)
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

    def resolve(self, person_key: str) -> str:
        for _ in range(64):
            survivor = self._redis.hget(self._keys.person_alias(), person_key)
            if survivor is None:
                return person_key
            person_key = survivor
        return person_key

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

    def person_count(self, card_ids: list[str]) -> int:
        """How many distinct live persons these cards belong to."""
        if not card_ids:
            return 0
        persons: set[str] = set()
        for start in range(0, len(card_ids), 5000):
            batch = card_ids[start : start + 5000]
            persons.update(pk for pk in self._redis.hmget(self._keys.card_person(), batch) if pk)
        return len({self.resolve(pk) for pk in persons})

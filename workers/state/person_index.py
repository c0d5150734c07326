"""The person index in Redis: which cards are one person, decided atomically across workers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, fields

import redis

from pipeline.merge import build_person, identity_facts, is_company_key, match_keys, new_person_key
from pipeline.models import Card, Person
from workers.state.keys import Keys

# One card joins the index (the rules are in pipeline/merge.py and docs/name-merge.md).
# Candidates are the persons its keys, or its earlier assignment, point to. Strong keys (person
# id, name + personal e-mail, name + mobile) always join. A candidate reached only through a
# company key (name + company + address / URL / phone) joins only if its identity facts do not
# contradict the card's: namesakes at one company with other e-mails are different people. A
# card that company keys alone cannot place between contradicting namesakes never bridges them.
# Everything joined becomes one person: the oldest person key survives, the others become
# aliases and hand over their cards and facts. A company key may point to several persons
# (namesakes), so its value is a comma-separated list. Running as a script makes the
# read-decide-write atomic, so two workers with two cards of one person cannot create two.
_JOIN_CARD = """
local match_key, card_person, cards, alias, seq, version, counter, card_import, merged_set =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local prefix, card_id, card_json, fresh_key, import_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local n_id, n_strong = tonumber(ARGV[6]), tonumber(ARGV[7])
local first_id, first_strong = 8, 8 + n_id
local first_weak = first_strong + n_strong

local function resolve(pk)
  for _ = 1, 64 do
    local nxt = redis.call('HGET', alias, pk)
    if not nxt then return pk end
    pk = nxt
  end
  return pk
end

local function lookup(mk)
  local out = {}
  local value = redis.call('HGET', match_key, mk)
  if value then
    for pk in string.gmatch(value, '[^,]+') do table.insert(out, resolve(pk)) end
  end
  return out
end

local rank, order, strong = {}, {}, {}
local function consider(pk, is_strong)
  if rank[pk] == nil then
    rank[pk] = tonumber(redis.call('HGET', seq, pk)) or 0
    table.insert(order, pk)
  end
  if is_strong then strong[pk] = true end
end

local previous = redis.call('HGET', card_person, card_id)
if previous then consider(resolve(previous), true) end
for i = first_strong, first_weak - 1 do
  for _, pk in ipairs(lookup(ARGV[i])) do consider(pk, true) end
end
for i = first_weak, #ARGV do
  for _, pk in ipairs(lookup(ARGV[i])) do consider(pk, false) end
end
table.sort(order, function(a, b)
  if rank[a] ~= rank[b] then return rank[a] < rank[b] end
  return a < b
end)

local function ids_of(pk) return redis.call('SMEMBERS', prefix .. pk .. ':ids') end
-- Identity facts are "kind:value" (e: personal e-mail, m: mobile, t: direct phone). Two sides
-- contradict each other when, for some kind, both have values and share none; e-mails and
-- mobiles together also count as one kind "p" (personal contact), so a card with only a
-- mobile does not join, on company evidence alone, a person known only by another e-mail.
local function kinds(list, into)
  into = into or {}
  for _, v in ipairs(list) do
    local kind = string.sub(v, 1, 1)
    into[kind] = into[kind] or {}
    into[kind][v] = true
    if kind == 'e' or kind == 'm' then
      into.p = into.p or {}
      into.p[v] = true
    end
  end
  return into
end
local function fits(known, list)
  local mine = kinds(list)
  for kind, values in pairs(mine) do
    local theirs = known[kind]
    if theirs then
      local shared = false
      for v in pairs(values) do if theirs[v] then shared = true; break end end
      if not shared then return false end
    end
  end
  return true
end

local card_ids = {}
for i = first_id, first_strong - 1 do table.insert(card_ids, ARGV[i]) end
local base = kinds(card_ids)
local joined = {}
for _, pk in ipairs(order) do
  if strong[pk] then table.insert(joined, pk); kinds(ids_of(pk), base) end
end
-- A person founded by an ambiguous card (one that company keys alone could not place, below)
-- is only ever joined by company keys from cards that carry no facts either: a card with facts
-- cannot tell which namesake it was either, and a replay must not pull it in when the first
-- pass did not.
local has_facts = next(base) ~= nil
local settled = #joined > 0  -- a strong key placed the card; company keys only add to it
local fitting = {}
for _, pk in ipairs(order) do
  if not strong[pk] then
    local ids = ids_of(pk)
    local unclear = has_facts and redis.call('EXISTS', prefix .. pk .. ':ambiguous') == 1
    if not unclear and fits(base, ids) then table.insert(fitting, {pk, ids}) end
  end
end
-- The company candidates that fit must also fit each other; if they do not, the card cannot
-- tell them apart and joins only those that carry no identity facts at all.
local probe, conflict = kinds(card_ids), false
for _, pk in ipairs(joined) do kinds(ids_of(pk), probe) end
for _, w in ipairs(fitting) do
  if fits(probe, w[2]) then kinds(w[2], probe) else conflict = true end
end
for _, w in ipairs(fitting) do
  if not conflict or #w[2] == 0 then table.insert(joined, w[1]) end
end

local survivor
if #joined == 0 then
  survivor = fresh_key
  redis.call('HSET', seq, survivor, redis.call('INCR', counter))
else
  survivor = joined[1]
  for _, pk in ipairs(joined) do
    if rank[pk] < rank[survivor] then survivor = pk end
  end
end

local merged = {}
for _, pk in ipairs(joined) do
  if pk ~= survivor then
    redis.call('HSET', alias, pk, survivor)
    local from = prefix .. pk .. ':cards'
    for _, member in ipairs(redis.call('SMEMBERS', from)) do
      redis.call('SADD', prefix .. survivor .. ':cards', member)
      redis.call('HSET', card_person, member, survivor)
    end
    redis.call('DEL', from)
    local from_ids = prefix .. pk .. ':ids'
    redis.call('SUNIONSTORE', prefix .. survivor .. ':ids', prefix .. survivor .. ':ids', from_ids)
    redis.call('DEL', from_ids, prefix .. pk .. ':ambiguous')
    table.insert(merged, pk)
  end
end
for _, v in ipairs(card_ids) do redis.call('SADD', prefix .. survivor .. ':ids', v) end
if conflict and not settled then redis.call('SET', prefix .. survivor .. ':ambiguous', '1') end

-- Each key now lists its live persons once, the survivor among them.
for i = first_strong, #ARGV do
  local seen, list = {[survivor] = true}, {survivor}
  for _, pk in ipairs(lookup(ARGV[i])) do
    if not seen[pk] then seen[pk] = true; table.insert(list, pk) end
  end
  redis.call('HSET', match_key, ARGV[i], table.concat(list, ','))
end

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
            card_json = _card_json(card)
            facts = identity_facts(card)
            card_keys = match_keys(card)
            strong = [key for key in card_keys if not is_company_key(key)]
            company = [key for key in card_keys if is_company_key(key)]
            args = [
                prefix,
                card.card_id,
                card_json,
                new_person_key(card.card_id),
                import_id,
                len(facts),
                len(strong),
                *facts,
                *strong,
                *company,
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

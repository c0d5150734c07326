-- One card joins the person index, atomically: read the candidates, decide, write.
--
-- The decision is specified in Python, pipeline/person_join.py (decide_join, rules 1-8 in its
-- docstring; resolve_alias; MemoryPersonIndex for how a decision is applied). This script makes
-- the same decision inside Redis so that two workers with two cards of one person cannot create
-- two persons; tests/unit/test_person_join_twin.py runs both on the same cards and requires the
-- same answers. Change the rules there first, then here.
--
-- KEYS: match key hash, card -> person hash, card JSON hash, alias hash, creation seq hash,
--       version hash, person counter, card -> import hash, the import's merged set.
-- ARGV: person key prefix, card id, card JSON, the card's new person key, import id,
--       #facts, #strong keys, facts..., strong keys..., company keys...
-- Per person: <prefix><pk>:cards (set), <prefix><pk>:ids (its identity facts), <prefix><pk>:ambiguous.
-- Returns {survivor, version, changed "1"/"0", merged-away person keys...}.

local match_key, card_person, cards, alias, seq, version, counter, card_import, merged_set =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local prefix, card_id, card_json, fresh_key, import_id = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local n_id, n_strong = tonumber(ARGV[6]), tonumber(ARGV[7])
local first_id, first_strong = 8, 8 + n_id
local first_weak = first_strong + n_strong

-- resolve_alias (kept here too: the lookup must happen inside the script).
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

-- Rule 1: candidates, each with its creation rank and whether a strong key reached it.
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
-- facts_contradict, as "not fits": identity facts are "kind:value" (e, m, t), e-mails and
-- mobiles together also count as kind "p".
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

-- Rule 2: strong candidates always join; their facts join the card's.
local card_ids = {}
for i = first_id, first_strong - 1 do table.insert(card_ids, ARGV[i]) end
local base = kinds(card_ids)
local joined = {}
for _, pk in ipairs(order) do
  if strong[pk] then table.insert(joined, pk); kinds(ids_of(pk), base) end
end
-- Rules 3 and 4: company candidates that fit, ambiguous ones only for a card without facts.
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
-- Rule 5: candidates that contradict each other; then only the fact-less ones join.
local probe, conflict = kinds(card_ids), false
for _, pk in ipairs(joined) do kinds(ids_of(pk), probe) end
for _, w in ipairs(fitting) do
  if fits(probe, w[2]) then kinds(w[2], probe) else conflict = true end
end
for _, w in ipairs(fitting) do
  if not conflict or #w[2] == 0 then table.insert(joined, w[1]) end
end

-- Rule 6: the oldest survives, or the card founds a person; then apply the union.
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
-- Rule 7.
if conflict and not settled then redis.call('SET', prefix .. survivor .. ':ambiguous', '1') end

-- Rule 8: each key now lists its live persons once, the survivor first.
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

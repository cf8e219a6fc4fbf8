-- Merge stage results of articles, or flush articles whose missing stages are down, and
-- emit each enriched event exactly once per revision. Atomic: a crash or a second
-- aggregator can neither emit an article revision twice nor lose it. One call takes a
-- whole batch of items (results, or revisions to flush), handled one after the other
-- exactly as if each had a call of its own: a batch costs one call, not one per result.
--
-- An article emitted partial keeps its merge state (for ARGV[3] seconds): when the
-- results it missed arrive after all, the complete event is emitted once more, as the
-- article's next revision (numbered from the same counter replays use, KEYS[3]).
--
-- Stages that read the drafts (stories) come last, from stage P + 1: once stages 1 .. P
-- are all in, the event merged so far goes out once to the drafts stream (KEYS[4]), with
-- the members the stages gave for the drafts only (the text), for those stages to read.
--
-- KEYS[1] enriched stream   KEYS[2] deadlines sorted set   KEYS[3] revisions hash
-- KEYS[4] drafts stream
-- then per item: KEYS[3 + 2i] merge hash of the article revision,
--                KEYS[4 + 2i] its done marker ("complete"/"partial")
-- ARGV[1] mode: "add" or "flush"   ARGV[2] done ttl (s)   ARGV[3] late results ttl (s)
-- ARGV[4] approximate maxlen       ARGV[5] enriched_at as a JSON string
-- ARGV[6] data field name          ARGV[7] stages that are down, as ",a,b," (flush)
-- ARGV[8] deadline score (add)     ARGV[9] P, the stages before the drafted ones
-- ARGV[10] N, the stage count; ARGV[11 .. 10+N] stage names;
-- ARGV[11+N .. 10+2N] fragments for missing stages; ARGV[11+2N .. 10+3N] their stage info
-- then per item, ITEM_ARGS arguments: revision key, article id, revision number,
--   stage (add), stage fragment: JSON object members, e.g. "summary":{...} (add),
--   stage info JSON (add), head: members '"schema_version":1,"id":..,"article":{..,
--   "revision":' (add; the revision number and the closing brace are appended here),
--   members for the drafts only, or "" (add), and the name of an earlier stage whose
--   members this result revises, or "", with the revised members (add: the geocoder
--   gives the entity list whose labels agree with its places)
-- Returns, per item, {status, missing count}; status is one of
--   "stored"    kept, the article still waits for other stages
--   "emitted"   the event went out (complete, or partial from a flush)
--   "completed" a late result completed a partial article: its next revision went out
--   "waiting"   flush: overdue, but every stage it misses is up (busy, not down)
--   "late"      a duplicate, or a result for an article already complete
--   "gone"      flush: nothing is known of the article
local mode = ARGV[1]
local drafted_from = tonumber(ARGV[9])
local n = tonumber(ARGV[10])
local STAGES = 10
local ITEM_ARGS = 10
local FIRST_ITEM = STAGES + 3 * n

local function missing_stages(merge)
  local missing = {}
  for i = 1, n do
    local name = ARGV[STAGES + i]
    if redis.call('HEXISTS', merge, 'r:' .. name) == 0 then
      missing[#missing + 1] = i
    end
  end
  return missing
end

-- The event of the merge hash as revision `revision` (with the drafts' members if
-- `draft`), and the count of stages it misses.
local function build(merge, revision, draft)
  local head = redis.call('HGET', merge, 'head')
  local parts, stages, missing = {head .. revision .. '}'}, {}, {}
  for i = 1, n do
    local name = ARGV[STAGES + i]
    local fragment = redis.call('HGET', merge, 'r:' .. name)
    local info
    if fragment then
      fragment = redis.call('HGET', merge, 'x:' .. name) or fragment
      info = redis.call('HGET', merge, 'i:' .. name)
    else
      fragment = ARGV[STAGES + n + i]
      info = ARGV[STAGES + 2 * n + i]
      missing[#missing + 1] = '"' .. name .. '"'
    end
    parts[#parts + 1] = fragment
    stages[#stages + 1] = '"' .. name .. '":' .. info
    local extra = draft and redis.call('HGET', merge, 'd:' .. name)
    if extra then parts[#parts + 1] = extra end
  end
  local partial = 'false'
  if #missing > 0 then partial = 'true' end
  local event = '{' .. table.concat(parts, ',') .. ',"stages":{' .. table.concat(stages, ',')
    .. '},"partial":' .. partial .. ',"missing_stages":[' .. table.concat(missing, ',')
    .. '],"enriched_at":' .. ARGV[5] .. '}'
  return event, #missing
end

-- Emit the event of the merge hash as revision `revision`; returns the missing count.
local function emit(merge, revision)
  local event, missing = build(merge, revision, false)
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', ARGV[6], event)
  return missing
end

-- Send the draft of an article revision, once, as soon as stages 1 .. P are in.
local function send_draft(merge, revision)
  if drafted_from >= n or redis.call('HEXISTS', merge, 'drafted') == 1 then return end
  for i = 1, drafted_from do
    if redis.call('HEXISTS', merge, 'r:' .. ARGV[STAGES + i]) == 0 then return end
  end
  redis.call('HSET', merge, 'drafted', '1')
  local event = build(merge, revision, true)
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', ARGV[6], event)
end

-- Keep one stage result: its fragment, info, members for the drafts and its revision of
-- an earlier stage's members.
local function store(merge, stage, fragment, info, extra, revised, members)
  if redis.call('HSETNX', merge, 'r:' .. stage, fragment) == 0 then return false end
  redis.call('HSETNX', merge, 'i:' .. stage, info)
  if extra ~= '' then redis.call('HSETNX', merge, 'd:' .. stage, extra) end
  if revised ~= '' then redis.call('HSETNX', merge, 'x:' .. revised, members) end
  return true
end

local function finish_complete(merge, done, key)
  redis.call('SET', done, 'complete', 'EX', ARGV[2])
  redis.call('DEL', merge)
  redis.call('ZREM', KEYS[2], key)
end

-- One stage result (arguments from `at`) of the revision with merge hash and marker.
local function add(merge, done, at)
  local key, article, revision = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  local stage, fragment, info, head = ARGV[at + 4], ARGV[at + 5], ARGV[at + 6], ARGV[at + 7]
  local extra, revised, revised_members = ARGV[at + 8], ARGV[at + 9], ARGV[at + 10]
  local state = redis.call('GET', done)
  if state == 'partial' then
    -- A result the partial event missed: keep it; once every stage is in, the complete
    -- event goes out as the next revision. Duplicates and expired state are late.
    if redis.call('EXISTS', merge) == 0 then return {'late', 0} end
    if not store(merge, stage, fragment, info, extra, revised, revised_members) then
      return {'late', 0}
    end
    if #missing_stages(merge) > 0 then
      send_draft(merge, revision)
      return {'stored', 0}
    end
    local next_revision = tonumber(redis.call('HINCRBY', KEYS[3], article, 1)) + 1
    emit(merge, next_revision)
    finish_complete(merge, done, key)
    return {'completed', 0}
  elseif state then
    redis.call('ZREM', KEYS[2], key)
    redis.call('DEL', merge)
    return {'late', 0}
  end
  store(merge, stage, fragment, info, extra, revised, revised_members)
  redis.call('HSETNX', merge, 'head', head)
  redis.call('ZADD', KEYS[2], 'NX', ARGV[8], key)
  if #missing_stages(merge) > 0 then
    send_draft(merge, revision)
    return {'stored', 0}
  end
  emit(merge, revision)
  finish_complete(merge, done, key)
  return {'emitted', 0}
end

-- A revision past its deadline (arguments from `at`): emitted partial if a stage it
-- misses is down.
local function flush(merge, done, at)
  local key, revision = ARGV[at + 1], ARGV[at + 3]
  if redis.call('GET', done) then
    redis.call('ZREM', KEYS[2], key)
    return {'late', 0}
  end
  if redis.call('EXISTS', merge) == 0 then
    redis.call('ZREM', KEYS[2], key)
    return {'gone', 0}
  end
  local missing = missing_stages(merge)
  local down = #missing == 0
  for _, i in ipairs(missing) do
    if string.find(ARGV[7], ',' .. ARGV[STAGES + i] .. ',', 1, true) then down = true end
  end
  if not down then return {'waiting', #missing} end
  local count = emit(merge, revision)
  redis.call('SET', done, 'partial', 'EX', ARGV[2])
  redis.call('EXPIRE', merge, ARGV[3])
  redis.call('ZREM', KEYS[2], key)
  return {'emitted', count}
end

local step = add
if mode == 'flush' then step = flush end
local replies = {}
for item = 1, (#KEYS - 4) / 2 do
  replies[item] = step(KEYS[3 + 2 * item], KEYS[4 + 2 * item], FIRST_ITEM + ITEM_ARGS * (item - 1))
end
return replies

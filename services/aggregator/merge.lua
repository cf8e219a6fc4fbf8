-- Merge one stage result of an article, or flush an article whose missing stages are
-- down, and emit its enriched event exactly once per revision. Atomic: a crash or a
-- second aggregator can neither emit an article revision twice nor lose it.
--
-- An article emitted partial keeps its merge state (for ARGV[11] seconds): when the
-- results it missed arrive after all, the complete event is emitted once more, as the
-- article's next revision (numbered from the same counter replays use, KEYS[5]).
--
-- KEYS[1] merge hash of the article revision   KEYS[2] done marker ("complete"/"partial")
-- KEYS[3] enriched stream   KEYS[4] deadlines sorted set   KEYS[5] revisions hash
-- ARGV[1] mode: "add" or "flush"   ARGV[2] revision key   ARGV[3] article id
-- ARGV[4] revision number          ARGV[5] stage (add)
-- ARGV[6] stage fragment: JSON object members, e.g. "summary":{...} (add)
-- ARGV[7] stage info JSON (add)
-- ARGV[8] head: members '"schema_version":1,"id":..,"article":{..,"revision":' (the
--         revision number and the closing brace are appended here)
-- ARGV[9] deadline score   ARGV[10] done ttl (s)   ARGV[11] late results ttl (s)
-- ARGV[12] approximate maxlen   ARGV[13] enriched_at as a JSON string
-- ARGV[14] data field name   ARGV[15] stages that are down, as ",a,b," (flush)
-- ARGV[16] N, the stage count; ARGV[17 .. 16+N] stage names;
-- ARGV[17+N .. 16+2N] fragments for missing stages; ARGV[17+2N .. 16+3N] their stage info
-- Returns {status, missing count}; status is one of
--   "stored"    kept, the article still waits for other stages
--   "emitted"   the event went out (complete, or partial from a flush)
--   "completed" a late result completed a partial article: its next revision went out
--   "waiting"   flush: overdue, but every stage it misses is up (busy, not down)
--   "late"      a duplicate, or a result for an article already complete
--   "gone"      flush: nothing is known of the article
local mode, key, article = ARGV[1], ARGV[2], ARGV[3]
local n = tonumber(ARGV[16])
local STAGES = 16

local function missing_stages()
  local missing = {}
  for i = 1, n do
    local name = ARGV[STAGES + i]
    if redis.call('HEXISTS', KEYS[1], 'r:' .. name) == 0 then
      missing[#missing + 1] = i
    end
  end
  return missing
end

-- Emit the event of the merge hash as revision `revision`; returns the missing count.
local function emit(revision)
  local head = redis.call('HGET', KEYS[1], 'head')
  local parts, stages, missing = {head .. revision .. '}'}, {}, {}
  for i = 1, n do
    local name = ARGV[STAGES + i]
    local fragment = redis.call('HGET', KEYS[1], 'r:' .. name)
    local info
    if fragment then
      info = redis.call('HGET', KEYS[1], 'i:' .. name)
    else
      fragment = ARGV[STAGES + n + i]
      info = ARGV[STAGES + 2 * n + i]
      missing[#missing + 1] = '"' .. name .. '"'
    end
    parts[#parts + 1] = fragment
    stages[#stages + 1] = '"' .. name .. '":' .. info
  end
  local partial = 'false'
  if #missing > 0 then partial = 'true' end
  local event = '{' .. table.concat(parts, ',') .. ',"stages":{' .. table.concat(stages, ',')
    .. '},"partial":' .. partial .. ',"missing_stages":[' .. table.concat(missing, ',')
    .. '],"enriched_at":' .. ARGV[13] .. '}'
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[12], '*', ARGV[14], event)
  return #missing
end

local function finish_complete()
  redis.call('SET', KEYS[2], 'complete', 'EX', ARGV[10])
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[4], key)
end

local done = redis.call('GET', KEYS[2])

if mode == 'add' then
  local stage = ARGV[5]
  if done == 'partial' then
    -- A result the partial event missed: keep it; once every stage is in, the complete
    -- event goes out as the next revision. Duplicates and expired state are late.
    if redis.call('EXISTS', KEYS[1]) == 0 then return {'late', 0} end
    if redis.call('HSETNX', KEYS[1], 'r:' .. stage, ARGV[6]) == 0 then return {'late', 0} end
    redis.call('HSETNX', KEYS[1], 'i:' .. stage, ARGV[7])
    if #missing_stages() > 0 then return {'stored', 0} end
    local revision = tonumber(redis.call('HINCRBY', KEYS[5], article, 1)) + 1
    emit(revision)
    finish_complete()
    return {'completed', 0}
  elseif done then
    redis.call('ZREM', KEYS[4], key)
    redis.call('DEL', KEYS[1])
    return {'late', 0}
  end
  redis.call('HSETNX', KEYS[1], 'r:' .. stage, ARGV[6])
  redis.call('HSETNX', KEYS[1], 'i:' .. stage, ARGV[7])
  redis.call('HSETNX', KEYS[1], 'head', ARGV[8])
  redis.call('ZADD', KEYS[4], 'NX', ARGV[9], key)
  if #missing_stages() > 0 then return {'stored', 0} end
  emit(ARGV[4])
  finish_complete()
  return {'emitted', 0}
end

-- flush
if done then
  redis.call('ZREM', KEYS[4], key)
  return {'late', 0}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[4], key)
  return {'gone', 0}
end
local missing = missing_stages()
local down = #missing == 0
for _, i in ipairs(missing) do
  if string.find(ARGV[15], ',' .. ARGV[STAGES + i] .. ',', 1, true) then down = true end
end
if not down then return {'waiting', #missing} end
local count = emit(ARGV[4])
redis.call('SET', KEYS[2], 'partial', 'EX', ARGV[10])
redis.call('EXPIRE', KEYS[1], ARGV[11])
redis.call('ZREM', KEYS[4], key)
return {'emitted', count}

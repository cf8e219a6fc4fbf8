-- Merge one stage result of an article, or flush an article past its deadline, and emit
-- its enriched event exactly once. Atomic: a crash or a second aggregator can neither
-- emit an article twice nor lose it.
--
-- KEYS[1] merge hash of the article   KEYS[2] done marker   KEYS[3] enriched stream
-- KEYS[4] deadlines sorted set
-- ARGV[1] mode: "add" or "flush"      ARGV[2] revision key   ARGV[3] stage (add)
-- ARGV[4] stage fragment: JSON object members, e.g. "summary":{...} (add)
-- ARGV[5] stage info JSON (add)       ARGV[6] head: members "schema_version":1,"id":..,"article":{..}
-- ARGV[7] deadline score              ARGV[8] done ttl (s)   ARGV[9] approximate maxlen
-- ARGV[10] enriched_at as a JSON string  ARGV[11] data field name  ARGV[12] N, the stage count
-- ARGV[13 .. 12+N] stage names; ARGV[13+N .. 12+2N] fragments for missing stages;
-- ARGV[13+2N .. 12+3N] stage info JSON for missing stages
-- Returns {status, missing count}: status is "stored", "emitted", "late" or "gone".
local mode, id = ARGV[1], ARGV[2]
local n = tonumber(ARGV[12])

if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZREM', KEYS[4], id)
  redis.call('DEL', KEYS[1])
  return {'late', 0}
end

if mode == 'add' then
  local stage = ARGV[3]
  redis.call('HSETNX', KEYS[1], 'r:' .. stage, ARGV[4])
  redis.call('HSETNX', KEYS[1], 'i:' .. stage, ARGV[5])
  redis.call('HSETNX', KEYS[1], 'head', ARGV[6])
  redis.call('ZADD', KEYS[4], 'NX', ARGV[7], id)
  for i = 1, n do
    if redis.call('HEXISTS', KEYS[1], 'r:' .. ARGV[12 + i]) == 0 then
      return {'stored', 0}
    end
  end
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('ZREM', KEYS[4], id)
  return {'gone', 0}
end

local head = redis.call('HGET', KEYS[1], 'head')
local parts, stages, missing = {head}, {}, {}
for i = 1, n do
  local name = ARGV[12 + i]
  local fragment = redis.call('HGET', KEYS[1], 'r:' .. name)
  local info
  if fragment then
    info = redis.call('HGET', KEYS[1], 'i:' .. name)
  else
    fragment = ARGV[12 + n + i]
    info = ARGV[12 + 2 * n + i]
    missing[#missing + 1] = '"' .. name .. '"'
  end
  parts[#parts + 1] = fragment
  stages[#stages + 1] = '"' .. name .. '":' .. info
end
local partial = 'false'
if #missing > 0 then partial = 'true' end
local event = '{' .. table.concat(parts, ',') .. ',"stages":{' .. table.concat(stages, ',')
  .. '},"partial":' .. partial .. ',"missing_stages":[' .. table.concat(missing, ',')
  .. '],"enriched_at":' .. ARGV[10] .. '}'
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[9], '*', ARGV[11], event)
redis.call('SET', KEYS[2], '1', 'EX', ARGV[8])
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], id)
return {'emitted', #missing}

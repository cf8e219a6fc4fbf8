-- Admit one article: mark its id seen (for ttl seconds) and append it to the accepted
-- stream, both or neither. Returns the new entry id, or false for a duplicate id.
-- KEYS[1] seen marker, KEYS[2] accepted stream
-- ARGV[1] article JSON, ARGV[2] dedupe ttl (s), ARGV[3] field
-- No MAXLEN: work streams are trimmed only below what every group acknowledged.
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('XADD', KEYS[2], '*', ARGV[3], ARGV[1])
end
return false

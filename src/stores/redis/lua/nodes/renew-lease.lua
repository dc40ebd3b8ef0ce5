-- Renews a node's lease and tells the previous one, so the node learns in the same round trip
-- that its lease was gone (Redis lost its data, or the node was reaped or removed) or had
-- expired (a reaper may have ended some of its users): then it re-asserts its sessions.
-- KEYS: nodes zset
-- ARGV: nodeId, now (ms)
-- Returns the previous lease (ms) or nil
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return previous

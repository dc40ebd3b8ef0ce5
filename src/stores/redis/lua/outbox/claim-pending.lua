-- Leases up to `limit` due pending logouts: their score becomes now + leaseMs, so a writer that
-- crashes before acking loses nothing (they become due again).
-- KEYS: pending zset, pending data hash
-- ARGV: now (ms), limit, leaseMs
-- Returns { id, dataJson, id, dataJson, ... }
local pending, pendingData = KEYS[1], KEYS[2]
local now, limit, leaseMs = ARGV[1], ARGV[2], ARGV[3]
local leaseEnd = tonumber(now) + tonumber(leaseMs)

local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', pending, '-inf', now, 'LIMIT', 0, limit)) do
  local data = redis.call('HGET', pendingData, id)
  if data then
    redis.call('ZADD', pending, 'XX', leaseEnd, id)
    out[#out + 1] = id
    out[#out + 1] = data
  else
    -- A member without data cannot be written anywhere: drop it rather than claim it forever.
    redis.call('ZREM', pending, id)
  end
end
return out

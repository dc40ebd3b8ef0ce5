-- Removes written logouts (queue member and data together). Each logout is now in the database,
-- so a user still offline in that logical session no longer needs their hash: it expires after
-- the offline TTL (login.lua PERSISTs it if they come back first). A user who logged in again
-- since (status online/reconnecting, or another logical session id) keeps it without expiry.
-- Their heartbeat field on the logout's node goes too: a flush that raced the end may have
-- written one after end-session removed it, and an offline user has no live heartbeat anywhere.
-- KEYS: pending zset, pending data hash, then per logout: player hash, heartbeats hash of the
--       logout's node (keys.ts)
-- ARGV: offline TTL (ms), then per logout: id (logical session id), userId
local pending, pendingData, ttl = KEYS[1], KEYS[2], ARGV[1]
for i = 1, (#ARGV - 1) / 2 do
  local id, userId = ARGV[2 * i], ARGV[2 * i + 1]
  local player, nodeBeats = KEYS[2 * i + 1], KEYS[2 * i + 2]
  redis.call('ZREM', pending, id)
  redis.call('HDEL', pendingData, id)
  local f = redis.call('HMGET', player, 'status', 'sid')
  if f[1] == 'offline' and f[2] == id then
    redis.call('PEXPIRE', player, ttl)
    redis.call('HDEL', nodeBeats, userId)
  end
end
return (#ARGV - 1) / 2

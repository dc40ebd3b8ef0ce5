-- Logs out the users whose logout grace period ended without a reconnect: offline, stamped with
-- the time their last connection ended, LogoutRecord queued (go-offline), exactly as end-session
-- would have done then. A user who reconnected is no longer in the zset (login.lua removed them).
-- KEYS: grace zset, online set, online index, pending zset, pending data hash
-- ARGV: key prefix, now (ms), limit
-- Returns { recordJson, ... }
local grace, online, index, pending, pendingData = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local records = {}
for _, userId in ipairs(redis.call('ZRANGEBYSCORE', grace, '-inf', now, 'LIMIT', 0, limit)) do
  redis.call('ZREM', grace, userId)
  local player = prefix .. 'player:online:' .. userId
  local f = redis.call('HMGET', player, 'status', 'endedAt', 'endReason', 'endNode')
  if f[1] == 'reconnecting' then
    records[#records + 1] = goOffline(player, online, index, pending, pendingData, userId, f[4] or '', f[3] or 'closed', f[2])
  end
end
return records

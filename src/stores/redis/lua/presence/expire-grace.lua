-- Logs out the users whose logout grace period ended without a reconnect: offline, stamped with
-- the time their last connection ended, LogoutRecord queued (go-offline), exactly as end-session
-- would have done then. The caller read the due userIds (ZRANGEBYSCORE) and passes their player
-- keys; each is re-checked here: a user who reconnected meanwhile is no longer in the zset
-- (login.lua removed them) or no longer due, and is skipped.
-- KEYS: grace zset, online set, online index, pending zset, pending data hash, then the player
--       hash of each userId (keys.ts)
-- ARGV: now (ms), userId...
-- Returns { recordJson, ... }
local grace, online, index, pending, pendingData = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local now = ARGV[1]
local records = {}
for i = 2, #ARGV do
  local userId, player = ARGV[i], KEYS[4 + i]
  local due = redis.call('ZSCORE', grace, userId)
  if due and tonumber(due) <= tonumber(now) then
    redis.call('ZREM', grace, userId)
    local f = redis.call('HMGET', player, 'status', 'endedAt', 'endReason', 'endNode')
    if f[1] == 'reconnecting' then
      records[#records + 1] = goOffline(player, online, index, pending, pendingData, userId, f[4] or '', f[3] or 'closed', f[2])
    end
  end
end
return records

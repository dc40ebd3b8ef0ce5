-- Shared prelude (prepended by scripts.ts): ends a logical session and queues its
-- LogoutRecord in the same script, so "offline" and "logout to write" never exist apart.
-- The record is JSON with real numbers: cjson prints 14 significant digits, enough for ms
-- timestamps (13 digits until the year 2286) and epochs.
local function goOffline(player, online, index, pending, pendingData, userId, nodeId, reason, now)
  redis.call('HSET', player, 'status', 'offline', 'sessions', 0, 'logoutTime', now, 'logoutReason', reason)
  redis.call('HDEL', player, 'graceUntil', 'endedAt', 'endReason', 'endNode')
  redis.call('SREM', online, userId)
  redis.call('ZREM', index, userId)
  local f = redis.call('HMGET', player, 'username', 'sid', 'epoch', 'connectedAt')
  local sid = f[2] or ''
  local record = {
    userId = userId,
    username = f[1] or '',
    logicalSessionId = sid,
    nodeId = nodeId,
    epoch = tonumber(f[3]) or 0,
    connectedAt = tonumber(f[4]) or 0,
    logoutAt = tonumber(now),
    reason = reason,
  }
  -- The id is the logical session id: queueing the same session twice keeps the first record.
  if redis.call('ZADD', pending, 'NX', now, sid) == 1 then
    redis.call('HSET', pendingData, sid, cjson.encode({ record = record, attempts = 0 }))
  end
  return cjson.encode(record)
end

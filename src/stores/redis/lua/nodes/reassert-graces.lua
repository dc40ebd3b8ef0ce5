-- Recreates the pending grace periods a node still waits on, after Redis lost data: a logical
-- session whose last connection ended on the node and whose logout nobody has made yet. Only
-- where the store does not know that logical session (lib/store-missed.lua, as reassert.lua);
-- anything else is left untouched. The user is `reconnecting` until graceUntil with the end's
-- time, reason and node, exactly as end-session.lua leaves them, so any node's expire-grace.lua
-- logs them out (stamped endedAt) and a login within the grace resumes the logical session.
-- KEYS: online set, online index, grace zset, player hash per entry...
-- ARGV: nodeId, then per entry: userId, username, logicalSessionId, epoch, connectedAt, endedAt,
--       endReason, graceUntil
-- Returns the number of users recreated.
local online, index, grace = KEYS[1], KEYS[2], KEYS[3]
local nodeId = ARGV[1]
local FIELDS = 8

local restored = 0
for i = 0, (#ARGV - 1) / FIELDS - 1 do
  local a = 1 + i * FIELDS
  local player = KEYS[4 + i]
  local userId, username, sid, epoch, connectedAt, endedAt, endReason, graceUntil =
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6], ARGV[a + 7], ARGV[a + 8]
  local f = redis.call('HMGET', player, 'status', 'sid', 'epoch')
  if storeMissed(f, sid, epoch) then
    redis.call('PERSIST', player)
    redis.call('HDEL', player, 'logoutTime', 'logoutReason')
    redis.call('HSET', player, 'status', 'reconnecting', 'username', username, 'nodeId', nodeId, 'epoch', epoch,
      'sessions', 0, 'sid', sid, 'connectedAt', connectedAt, 'lastHeartbeat', endedAt,
      'graceUntil', graceUntil, 'endedAt', endedAt, 'endReason', endReason, 'endNode', nodeId)
    redis.call('ZADD', grace, graceUntil, userId)
    redis.call('SADD', online, userId)
    redis.call('ZADD', index, 0, userId)
    restored = restored + 1
  end
end
return restored

-- Registers one connection of a user on a node.
-- A user in their logout grace period (status reconnecting) resumes the same logical session.
-- KEYS: player hash, online set, online index, node players set, grace zset, the user's offline
--       queue (only looked at: whether it exists)
-- ARGV: userId, username, nodeId, candidate logical session id, now (ms), connection id ('' = not
--       tracked, see lib/connection-ids.lua)
-- Returns named fields (decoded by name in redis-online-codec.ts): { 'epoch', n, 'sid', logicalSessionId,
--   'new', newLogicalSession 0/1, 'sessions', n, 'previousNodes', { nodeId, count, ... },
--   'queued', 0/1 (the offline queue exists: the session's replay reads it, else skips the read) }
local player, online, index, nodePlayers, grace, queue = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local userId, username, nodeId, candidate, now, connectionId = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]

local previous = {}
local status = redis.call('HGET', player, 'status')
if status == 'reconnecting' then
  redis.call('HSET', player, 'status', 'online')
  redis.call('HDEL', player, 'graceUntil', 'endedAt', 'endReason', 'endNode')
  redis.call('ZREM', grace, userId)
end
local wasOnline = status == 'online' or status == 'reconnecting'
if wasOnline then
  local fields = redis.call('HGETALL', player)
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'n:' then
      previous[#previous + 1] = string.sub(fields[i], 3)
      previous[#previous + 1] = fields[i + 1]
    end
  end
else
  -- Offline or never seen: a new logical session starts. An offline hash may be counting down
  -- to its removal (ack-pending.lua): the user is back, so it stays.
  redis.call('PERSIST', player)
  redis.call('HSET', player, 'status', 'online', 'sid', candidate, 'connectedAt', now, 'sessions', 0)
  redis.call('HDEL', player, 'logoutTime', 'logoutReason')
  redis.call('SADD', online, userId)
  redis.call('ZADD', index, 0, userId)
end
local epoch = redis.call('HINCRBY', player, 'epoch', 1)
local sessions = redis.call('HINCRBY', player, 'sessions', 1)
redis.call('HINCRBY', player, 'n:' .. nodeId, 1)
if connectionId ~= '' then
  local ids = readConnectionIds(player, nodeId) or {}
  ids[#ids + 1] = connectionId
  writeConnectionIds(player, nodeId, ids)
end
redis.call('HSET', player, 'username', username, 'nodeId', nodeId, 'lastHeartbeat', now)
redis.call('SADD', nodePlayers, userId)
-- Checked in the same step as the user going online: a message queued later was pushed by a
-- sender that will nudge this node to read again (direct-messages.ts nudgeIfOnline).
local queued = redis.call('EXISTS', queue)
return { 'epoch', epoch, 'sid', redis.call('HGET', player, 'sid'), 'new', wasOnline and 0 or 1, 'sessions', sessions, 'previousNodes', previous, 'queued', queued }

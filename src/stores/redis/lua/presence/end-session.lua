-- Ends one connection: compare-and-set on the logical session id, then decrement the node's
-- count; the last connection takes the user offline and queues the LogoutRecord (go-offline).
-- KEYS: player hash, online set, online index, node players set, node heartbeats hash,
--       pending zset, pending data hash, grace zset
-- ARGV: userId, nodeId, logicalSessionId, reason, now (ms), connection id ('' = not tracked),
--       grace (ms; > 0: the last connection leaves the user `reconnecting` until now + grace)
-- Returns named fields (decoded by name in redis-online-codec.ts): { 'stale', 0/1, 'loggedOut', 0/1,
--   'sessions', n } plus 'record', recordJson when logged out, or 'graceUntil', ms when waiting
local player, online, index, nodePlayers, nodeBeats, pending, pendingData, grace =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local userId, nodeId, sid, reason, now, connectionId = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local graceMs = tonumber(ARGV[7]) or 0
local field = 'n:' .. nodeId

local f = redis.call('HMGET', player, 'status', 'sid', 'sessions', field)
if f[1] ~= 'online' then return { 'stale', 1, 'loggedOut', 0, 'sessions', 0 } end
local sessions = tonumber(f[3]) or 0
if f[2] ~= sid then return { 'stale', 1, 'loggedOut', 0, 'sessions', sessions } end
local count = tonumber(f[4]) or 0
-- No live connection of this session on the node: a repeated end of the same connection.
if count <= 0 then return { 'stale', 1, 'loggedOut', 0, 'sessions', sessions } end
-- A tracked connection that is not (or no longer) listed: a repeated end of the same connection.
-- Without a list (logins that passed no id) the count alone decides, as before.
local ids = connectionId ~= '' and readConnectionIds(player, nodeId) or nil
if ids then
  local found
  for i, id in ipairs(ids) do
    if id == connectionId then
      found = i
      break
    end
  end
  if not found then return { 'stale', 1, 'loggedOut', 0, 'sessions', sessions } end
  table.remove(ids, found)
  writeConnectionIds(player, nodeId, ids)
end

if count > 1 then
  redis.call('HINCRBY', player, field, -1)
else
  redis.call('HDEL', player, field, 'c:' .. nodeId)
  redis.call('SREM', nodePlayers, userId)
  redis.call('HDEL', nodeBeats, userId)
end
sessions = math.max(0, sessions - 1)
if sessions > 0 then
  redis.call('HSET', player, 'sessions', sessions)
  return { 'stale', 0, 'loggedOut', 0, 'sessions', sessions }
end
if graceMs > 0 then
  -- The logout waits: the ending's time, reason and node are kept so the logout, if it comes,
  -- is stamped as if it had run now (expire-grace.lua).
  local graceUntil = tonumber(now) + graceMs
  redis.call('HSET', player, 'status', 'reconnecting', 'sessions', 0, 'graceUntil', graceUntil,
    'endedAt', now, 'endReason', reason, 'endNode', nodeId)
  redis.call('ZADD', grace, graceUntil, userId)
  return { 'stale', 0, 'loggedOut', 0, 'sessions', 0, 'graceUntil', graceUntil }
end
return { 'stale', 0, 'loggedOut', 1, 'sessions', 0, 'record', goOffline(player, online, index, pending, pendingData, userId, nodeId, reason, now) }

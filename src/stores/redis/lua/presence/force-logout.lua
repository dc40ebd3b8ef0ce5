-- Ends a user's logical session whatever their connection count (REST logout, kick).
-- KEYS: player hash, online set, online index, pending zset, pending data hash, grace zset
-- ARGV: key prefix, userId, reason, now (ms)
-- The per-node keys server:node:<nodeId>:{players,heartbeats} of the nodes found in the hash
-- cannot be known by the caller beforehand: they are built here from the prefix, exactly as
-- redis-online-keys.ts builds them.
-- Returns { loggedOut 0/1, { nodeId, count, ... }, recordJson? }
local player, online, index, pending, pendingData, grace = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local prefix, userId, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local status = redis.call('HGET', player, 'status')
if status ~= 'online' and status ~= 'reconnecting' then return { 0, {} } end
redis.call('ZREM', grace, userId)
local nodes = {}
local fields = redis.call('HGETALL', player)
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'n:' then
    local node = string.sub(fields[i], 3)
    nodes[#nodes + 1] = node
    nodes[#nodes + 1] = fields[i + 1]
    redis.call('HDEL', player, fields[i], 'c:' .. node)
    redis.call('SREM', prefix .. 'server:node:' .. node .. ':players', userId)
    redis.call('HDEL', prefix .. 'server:node:' .. node .. ':heartbeats', userId)
  end
end
local nodeId = redis.call('HGET', player, 'nodeId') or ''
return { 1, nodes, goOffline(player, online, index, pending, pendingData, userId, nodeId, reason, now) }

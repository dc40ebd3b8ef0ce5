-- Ends a user's logical session whatever their connection count (REST logout, kick).
-- The caller read the user's nodes (HKEYS of the player hash, `n:<nodeId>` fields) and passes
-- each node's players set and heartbeats hash; if the hash names a node that was not passed (a
-- login on another node meanwhile), nothing changes and the caller retries with the new list.
-- KEYS: player hash, online set, online index, pending zset, pending data hash, grace zset, then
--       per node: node players set, node heartbeats hash (keys.ts)
-- ARGV: userId, reason, now (ms), nodeId... (the nodes of the KEYS pairs, in order)
-- Returns named fields (redis-online-codec.ts): { 'loggedOut', 0/1, 'nodes', { nodeId, count, ... }, 'record',
--   recordJson (when logged out) }, or { 'retry', 1 }
local player, online, index, pending, pendingData, grace = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local userId, reason, now = ARGV[1], ARGV[2], ARGV[3]
local passed = {}
for i = 4, #ARGV do passed[ARGV[i]] = 7 + (i - 4) * 2 end

local status = redis.call('HGET', player, 'status')
if status ~= 'online' and status ~= 'reconnecting' then return { 'loggedOut', 0, 'nodes', {} } end
local fields = redis.call('HGETALL', player)
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'n:' and not passed[string.sub(fields[i], 3)] then return { 'retry', 1 } end
end
redis.call('ZREM', grace, userId)
local nodes = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'n:' then
    local node = string.sub(fields[i], 3)
    local k = passed[node]
    nodes[#nodes + 1] = node
    nodes[#nodes + 1] = fields[i + 1]
    redis.call('HDEL', player, fields[i], 'c:' .. node)
    redis.call('SREM', KEYS[k], userId)
    redis.call('HDEL', KEYS[k + 1], userId)
  end
end
local nodeId = redis.call('HGET', player, 'nodeId') or ''
return { 'loggedOut', 1, 'nodes', nodes, 'record', goOffline(player, online, index, pending, pendingData, userId, nodeId, reason, now) }

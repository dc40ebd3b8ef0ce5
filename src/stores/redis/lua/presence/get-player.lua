-- One player's hash and live-node heartbeats, read in one consistent step. The caller read the
-- user's nodes (HKEYS of the hash, `n:<nodeId>` fields) and passes each node's heartbeats hash;
-- if the hash names a node that was not passed (a login elsewhere in between), the caller reads
-- again.
-- KEYS: player hash, then the heartbeats hash of each node passed (keys.ts)
-- ARGV: userId, nodeId... (the nodes of those heartbeats hashes, in order)
-- Returns { 'fields', { field, value, ... }, 'beats', { heartbeat, ... } }, or { 'retry', 1 }
local player, userId = KEYS[1], ARGV[1]
local passed = {}
for i = 2, #ARGV do passed[ARGV[i]] = KEYS[i] end
local fields = redis.call('HGETALL', player)
local beats = {}
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'n:' then
    local key = passed[string.sub(fields[i], 3)]
    if not key then return { 'retry', 1 } end
    local beat = redis.call('HGET', key, userId)
    if beat then beats[#beats + 1] = beat end
  end
end
return { 'fields', fields, 'beats', beats }

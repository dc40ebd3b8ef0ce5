-- One batch of the crash cleanup of a dead node (see lib/reap-batch.lua). Refuses to touch a node
-- whose lease is newer than `at` (it renewed or registered again since the reaper saw it dead).
-- When the node's players set is empty its heartbeats hash and lease go too.
-- KEYS: nodes zset, online set, online index, pending zset, pending data hash, node players set,
--       node heartbeats hash
-- ARGV: key prefix, nodeId, at (ms), limit
-- Returns { 'records', { recordJson, ... }, 'remaining', n, 'alive', 0/1 } (named fields, redis-online-codec.ts)
local nodes, online, index, pending, pendingData, nodePlayers, nodeBeats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, nodeId, at, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])

local lease = redis.call('ZSCORE', nodes, nodeId)
if lease and tonumber(lease) > tonumber(at) then return { 'records', {}, 'remaining', 0, 'alive', 1 } end
local records = reapBatch(prefix, online, index, pending, pendingData, nodePlayers, nodeBeats, nodeId, at, limit)
local remaining = redis.call('SCARD', nodePlayers)
if remaining == 0 then
  redis.call('DEL', nodeBeats)
  redis.call('ZREM', nodes, nodeId)
end
return { 'records', records, 'remaining', remaining, 'alive', 0 }

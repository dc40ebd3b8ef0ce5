-- Takes a node id at startup. A live lease (newer than now - deadAfterMs) means another process
-- runs with this id: refused. A dead holder's users are reaped first (lib/reap-batch.lua, at =
-- its last lease, or now without one), at most `limit` per call: the new process never adopts
-- them. The lease is set only once none is left, in the same step as the last batch.
-- KEYS: nodes zset, online set, online index, pending zset, pending data hash, node players set,
--       node heartbeats hash
-- ARGV: key prefix, nodeId, now (ms), deadAfterMs, limit
-- Returns { 'state', 0 in use / 1 more to reap: call again / 2 registered, 'records', { recordJson, ... },
--   'remaining', n } (named fields, redis-online-codec.ts)
local nodes, online, index, pending, pendingData, nodePlayers, nodeBeats =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local prefix, nodeId, now, deadAfter, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])

local lease = redis.call('ZSCORE', nodes, nodeId)
if lease and tonumber(lease) > tonumber(now) - deadAfter then return { 'state', 0, 'records', {}, 'remaining', 0 } end
local at = lease or now
local records = reapBatch(prefix, online, index, pending, pendingData, nodePlayers, nodeBeats, nodeId, at, limit)
local remaining = redis.call('SCARD', nodePlayers)
if remaining > 0 then return { 'state', 1, 'records', records, 'remaining', remaining } end
-- Heartbeats of the previous holder are garbage for the new one.
redis.call('DEL', nodeBeats)
redis.call('ZADD', nodes, now, nodeId)
return { 'state', 2, 'records', records, 'remaining', 0 }

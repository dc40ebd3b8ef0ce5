-- Phase 2 of one batch of reaping a dead node (phase 1: reap-claim.lua): subtracts the node's
-- connections from each claimed user. A user is handled only by the reaper that removes their
-- claim (HDEL == 1), so a claim taken again after a stall is never reaped twice. Only what
-- `n:<nodeId>` holds is subtracted, and the field goes in the same step. A user left with no
-- connection goes offline exactly like endSession (reason node_lost, at); one still connected
-- elsewhere keeps their logical session.
-- A lease newer than `liveAfter` (the node renewed, or the id was registered, since phase 1):
-- nothing is reaped, and the users this batch still holds go back to the players set if they
-- are still connected there (one who disconnected meanwhile was already removed by endSession).
-- When the players set and the claims are both empty the node is finished (lib/finish-node.lua).
-- KEYS: nodes zset, online set, online index, pending zset, pending data hash, node players set,
--       node claim hash, node heartbeats hash, node fence hash, then the player hash of each
--       claimed user (ARGV order)
-- ARGV: nodeId, liveAfter (ms), at (ms; '' = the node's lease, or `register` without one),
--       register ('' for reapNode, else now in ms), generation of the registering process ('' for
--       reapNode), userId...
-- Returns { 'live', 0/1, 'records', { recordJson, ... }, 'remaining', n } (named fields,
--   redis-online-codec.ts)
local nodes, online, index, pending, pendingData, nodePlayers, claims, nodeBeats, fence =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local nodeId, liveAfter, at, register, gen = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
-- Player keys start at KEYS[FIRST_USER + 4], one per userId ARGV[i]: KEYS[i + 4].
local FIRST_USER = 6

local lease = redis.call('ZSCORE', nodes, nodeId)
if lease and tonumber(lease) > liveAfter then
  for i = FIRST_USER, #ARGV do
    if redis.call('HDEL', claims, ARGV[i]) == 1 and (tonumber(redis.call('HGET', KEYS[i + 4], 'n:' .. nodeId)) or 0) > 0 then
      redis.call('SADD', nodePlayers, ARGV[i])
    end
  end
  return { 'live', 1, 'records', {}, 'remaining', 0 }
end
if at == '' then at = lease or register end

local records = {}
for i = FIRST_USER, #ARGV do
  local userId = ARGV[i]
  if redis.call('HDEL', claims, userId) == 1 then
    local record = dropNodeShare(KEYS[i + 4], online, index, pending, pendingData, nodeBeats, userId, nodeId, at)
    if record then records[#records + 1] = record end
  end
end
local remaining = redis.call('SCARD', nodePlayers) + redis.call('HLEN', claims)
if remaining == 0 then finishNode(nodes, nodeBeats, fence, nodeId, register, gen) end
return { 'live', 0, 'records', records, 'remaining', remaining }

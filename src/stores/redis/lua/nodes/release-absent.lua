-- Ends a live node's share of users it does not hold (NodeRegistry.releaseAbsent): after the
-- store went back in time (a restored snapshot, a promoted replica behind the primary), users
-- who left this node are recorded on it again. Per user, like reap-claimed.lua without the
-- claims (lib/drop-node-share.lua). The node's lease is not touched (the node is alive).
-- KEYS: online set, online index, pending zset, pending data hash, node players set, node
--       heartbeats hash, then the player hash of each user (ARGV order)
-- ARGV: nodeId, at (ms), userId...
-- Returns { recordJson, ... }
local online, index, pending, pendingData, nodePlayers, nodeBeats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local nodeId, at = ARGV[1], ARGV[2]
local records = {}
for i = 3, #ARGV do
  local userId = ARGV[i]
  if redis.call('SREM', nodePlayers, userId) == 1 then
    local record = dropNodeShare(KEYS[i + 4], online, index, pending, pendingData, nodeBeats, userId, nodeId, at)
    if record then records[#records + 1] = record end
  end
end
return records

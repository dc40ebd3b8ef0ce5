-- Ends a live node's share of users it does not hold (NodeRegistry.releaseAbsent): after the
-- store went back in time (a restored snapshot, a promoted replica behind the primary), users
-- who left this node are recorded on it again. Per user, like reap-claimed.lua without the
-- claims: only what `n:<nodeId>` holds is subtracted and the field goes in the same step; a user
-- left with no connection goes offline (reason node_lost, at); one connected elsewhere keeps
-- their logical session. The node's lease is not touched (the node is alive).
-- KEYS: online set, online index, pending zset, pending data hash, node players set, node
--       heartbeats hash, then the player hash of each user (ARGV order)
-- ARGV: nodeId, at (ms), userId...
-- Returns { recordJson, ... }
local online, index, pending, pendingData, nodePlayers, nodeBeats = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local nodeId, at = ARGV[1], ARGV[2]
local field, connField = 'n:' .. nodeId, 'c:' .. nodeId
local records = {}
for i = 3, #ARGV do
  local userId, player = ARGV[i], KEYS[i + 4]
  if redis.call('SREM', nodePlayers, userId) == 1 then
    redis.call('HDEL', nodeBeats, userId)
    local f = redis.call('HMGET', player, 'status', 'sessions', field)
    local count = tonumber(f[3]) or 0
    redis.call('HDEL', player, field, connField)
    if count > 0 and f[1] == 'online' then
      local sessions = math.max(0, (tonumber(f[2]) or 0) - count)
      if sessions > 0 then
        redis.call('HSET', player, 'sessions', sessions)
      else
        records[#records + 1] = goOffline(player, online, index, pending, pendingData, userId, nodeId, 'node_lost', at)
      end
    end
  end
end
return records

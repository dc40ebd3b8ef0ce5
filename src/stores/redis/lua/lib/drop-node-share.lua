-- Shared prelude (prepended by scripts.ts): removes one node's connections from a user (a dead
-- node reaped, reap-claimed.lua; a live node's absent user released, release-absent.lua). Only
-- what `n:<nodeId>` holds is subtracted and the field goes in the same step; a user left with no
-- connection goes offline (reason node_lost, at) and the LogoutRecord JSON is returned; one
-- connected elsewhere keeps their logical session (nil).
local function dropNodeShare(player, online, index, pending, pendingData, nodeBeats, userId, nodeId, at)
  redis.call('HDEL', nodeBeats, userId)
  local field = 'n:' .. nodeId
  local f = redis.call('HMGET', player, 'status', 'sessions', field)
  local count = tonumber(f[3]) or 0
  redis.call('HDEL', player, field, 'c:' .. nodeId)
  if count <= 0 or f[1] ~= 'online' then return nil end
  local sessions = math.max(0, (tonumber(f[2]) or 0) - count)
  if sessions > 0 then
    redis.call('HSET', player, 'sessions', sessions)
    return nil
  end
  return goOffline(player, online, index, pending, pendingData, userId, nodeId, 'node_lost', at)
end

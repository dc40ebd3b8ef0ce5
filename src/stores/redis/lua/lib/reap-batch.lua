-- Shared prelude (prepended after go-offline by scripts.ts): takes up to `limit`
-- users off a dead node's players set and subtracts that node's connections from each. Only what
-- `n:<nodeId>` holds is subtracted, and the field goes in the same step, so a second reaper (or a
-- repeated batch) finds nothing left to subtract: nothing is decremented or queued twice.
-- A user left with no connection goes offline exactly like endSession (reason node_lost, at);
-- one still connected elsewhere keeps their logical session.
-- Player keys come from set members, so they are built here from the prefix, exactly as
-- keys.ts (RedisKeys) builds them.
-- Returns the JSON records of the users taken offline.
local function reapBatch(prefix, online, index, pending, pendingData, nodePlayers, nodeBeats, nodeId, at, limit)
  local records = {}
  local field, connField = 'n:' .. nodeId, 'c:' .. nodeId
  for _, userId in ipairs(redis.call('SPOP', nodePlayers, limit)) do
    local player = prefix .. 'player:online:' .. userId
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
  return records
end

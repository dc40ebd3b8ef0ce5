-- Shared prelude (prepended by scripts.ts): the optional connection ids of a user's
-- connections on one node, kept as a JSON array in the `c:<nodeId>` field next to the `n:<nodeId>`
-- count, so that ending the same connection twice is recognised instead of taking another
-- connection's count. Absent when the caller does not pass connection ids.
local function readConnectionIds(player, nodeId)
  local raw = redis.call('HGET', player, 'c:' .. nodeId)
  if not raw then return nil end
  return cjson.decode(raw)
end

local function writeConnectionIds(player, nodeId, ids)
  if #ids == 0 then
    redis.call('HDEL', player, 'c:' .. nodeId)
  else
    redis.call('HSET', player, 'c:' .. nodeId, cjson.encode(ids))
  end
end

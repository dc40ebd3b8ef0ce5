-- dropNode(prefix, room, nodeId): removes the node's whole share of one room; the room leaves the
-- index when no node is left in it.
local function dropNode(prefix, room, nodeId)
  local base = prefix .. 'room:{' .. room .. '}:'
  local users = base .. 'node:' .. nodeId
  local members = base .. 'members'
  for _, userId in ipairs(redis.call('HKEYS', users)) do
    redis.call('ZREM', members, userId .. '|' .. nodeId)
  end
  redis.call('DEL', users)
  redis.call('HDEL', base .. 'nodes', nodeId)
  redis.call('SREM', prefix .. 'rooms:node:' .. nodeId, room)
  if redis.call('HLEN', base .. 'nodes') == 0 then
    redis.call('DEL', members)
    redis.call('ZREM', prefix .. 'rooms:index', room)
  end
end

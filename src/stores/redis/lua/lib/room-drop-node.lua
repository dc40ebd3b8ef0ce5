-- Shared prelude (prepended by scripts.ts): dropNode removes a node's whole share of one room;
-- the room leaves the index when no node is left in it. Every key comes from KEYS (keys.ts):
-- the room's nodes hash, the node's users hash, the members zset, the node's rooms set and the
-- rooms index.
local function dropNode(room, nodeId, nodes, users, members, nodeRooms, index)
  for _, userId in ipairs(redis.call('HKEYS', users)) do
    redis.call('ZREM', members, userId .. '|' .. nodeId)
  end
  redis.call('DEL', users)
  redis.call('HDEL', nodes, nodeId)
  redis.call('SREM', nodeRooms, room)
  if redis.call('HLEN', nodes) == 0 then
    redis.call('DEL', members)
    redis.call('ZREM', index, room)
  end
end

-- One member session less of a user for each room, on one node.
-- KEYS: rooms index, node rooms set, then per room: room nodes hash, room node users hash,
--       room members zset (keys.ts)
-- ARGV: nodeId, userId, room...
local index, nodeRooms = KEYS[1], KEYS[2]
local nodeId, userId = ARGV[1], ARGV[2]
local k = 3
for i = 3, #ARGV do
  local room = ARGV[i]
  local nodes, users, members = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  k = k + 3
  if redis.call('HINCRBY', users, userId, -1) <= 0 then
    redis.call('HDEL', users, userId)
    redis.call('ZREM', members, userId .. '|' .. nodeId)
  end
  if redis.call('HINCRBY', nodes, nodeId, -1) <= 0 then dropNode(room, nodeId, nodes, users, members, nodeRooms, index) end
end
return 1

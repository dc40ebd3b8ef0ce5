-- Removes up to `limit` rooms of a node's share. Returns how many rooms of the node are left.
-- ARGV: prefix, nodeId, limit
local prefix, nodeId, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local nodeRooms = prefix .. 'rooms:node:' .. nodeId
for _, room in ipairs(redis.call('SRANDMEMBER', nodeRooms, limit)) do
  dropNode(prefix, room, nodeId)
end
return redis.call('SCARD', nodeRooms)

-- Removes rooms of a node's share: the caller read them (SRANDMEMBER of the node's rooms set)
-- and passes their keys; a room no longer in the set (purged meanwhile) is skipped.
-- KEYS: rooms index, node rooms set, then per room: room nodes hash, room node users hash,
--       room members zset (keys.ts)
-- ARGV: nodeId, room...
-- Returns how many rooms of the node are left.
local index, nodeRooms, nodeId = KEYS[1], KEYS[2], ARGV[1]
local k = 3
for i = 2, #ARGV do
  local room = ARGV[i]
  if redis.call('SISMEMBER', nodeRooms, room) == 1 then
    dropNode(room, nodeId, KEYS[k], KEYS[k + 1], KEYS[k + 2], nodeRooms, index)
  end
  k = k + 3
end
return redis.call('SCARD', nodeRooms)

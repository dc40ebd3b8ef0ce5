-- Applies membership changes of one node, in order: a flush of its batched joins and leaves, or
-- a chunk of a node re-sync. A positive count adds member sessions, a negative one removes them.
-- Only a user's first session on the node writes the members zset, and only the node's first
-- session in the room writes the rooms index and the node's rooms set: a join into a room the
-- node already has is two HINCRBYs.
-- KEYS: rooms index, node rooms set, then per change: room nodes hash, room node users hash,
--       room members zset (keys.ts)
-- ARGV: nodeId, then triples room, userId, sessions (non-zero)
local index, nodeRooms, nodeId = KEYS[1], KEYS[2], ARGV[1]
local k = 3
for i = 2, #ARGV, 3 do
  local room, userId, sessions = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local nodes, users, members = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  k = k + 3
  if sessions > 0 then
    if redis.call('HINCRBY', users, userId, sessions) <= sessions then
      redis.call('ZADD', members, 0, userId .. '|' .. nodeId)
    end
    if redis.call('HINCRBY', nodes, nodeId, sessions) <= sessions then
      redis.call('ZADD', index, 0, room)
      redis.call('SADD', nodeRooms, room)
    end
  elseif sessions < 0 then
    -- The node's last session in the room: dropNode clears the users hash and members too.
    if redis.call('HINCRBY', nodes, nodeId, sessions) <= 0 then
      dropNode(room, nodeId, nodes, users, members, nodeRooms, index)
    elseif redis.call('HINCRBY', users, userId, sessions) <= 0 then
      redis.call('HDEL', users, userId)
      redis.call('ZREM', members, userId .. '|' .. nodeId)
    end
  end
end
return 1

-- Adds member sessions to rooms for one node (a join, or a batch of a node re-sync).
-- KEYS: rooms index, node rooms set, then per triple: room nodes hash, room node users hash,
--       room members zset (keys.ts)
-- ARGV: nodeId, then triples room, userId, sessions (> 0)
local index, nodeRooms, nodeId = KEYS[1], KEYS[2], ARGV[1]
local k = 3
for i = 2, #ARGV, 3 do
  local room, userId, sessions = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local nodes, users, members = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  k = k + 3
  redis.call('HINCRBY', nodes, nodeId, sessions)
  redis.call('HINCRBY', users, userId, sessions)
  redis.call('ZADD', members, 0, userId .. '|' .. nodeId)
  redis.call('ZADD', index, 0, room)
  redis.call('SADD', nodeRooms, room)
end
return 1

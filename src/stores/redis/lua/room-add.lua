-- Adds member sessions to rooms for one node (a join, or a batch of a node re-sync).
-- KEYS: none (rooms are data: the keys are built from the prefix, as redis-room-directory.ts does)
-- ARGV: prefix, nodeId, then triples room, userId, sessions (> 0)
local prefix, nodeId = ARGV[1], ARGV[2]
local index, nodeRooms = prefix .. 'rooms:index', prefix .. 'rooms:node:' .. nodeId
for i = 3, #ARGV, 3 do
  local room, userId, sessions = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local base = prefix .. 'room:{' .. room .. '}:'
  redis.call('HINCRBY', base .. 'nodes', nodeId, sessions)
  redis.call('HINCRBY', base .. 'node:' .. nodeId, userId, sessions)
  redis.call('ZADD', base .. 'members', 0, userId .. '|' .. nodeId)
  redis.call('ZADD', index, 0, room)
  redis.call('SADD', nodeRooms, room)
end
return 1

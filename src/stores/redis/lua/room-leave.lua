-- One member session less of a user for each room, on one node.
-- ARGV: prefix, nodeId, userId, room...
local prefix, nodeId, userId = ARGV[1], ARGV[2], ARGV[3]
for i = 4, #ARGV do
  local room = ARGV[i]
  local base = prefix .. 'room:{' .. room .. '}:'
  local users = base .. 'node:' .. nodeId
  if redis.call('HINCRBY', users, userId, -1) <= 0 then
    redis.call('HDEL', users, userId)
    redis.call('ZREM', base .. 'members', userId .. '|' .. nodeId)
  end
  if redis.call('HINCRBY', base .. 'nodes', nodeId, -1) <= 0 then dropNode(prefix, room, nodeId) end
end
return 1

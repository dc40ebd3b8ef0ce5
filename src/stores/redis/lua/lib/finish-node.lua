-- Shared prelude (prepended by scripts.ts): the end of reaping a node, once its players set and
-- its claim hash are both empty. Its heartbeats go (garbage for a new holder of the id); its
-- lease is removed (reapNode, `register` = '') or set to `register` (registerNode: the new
-- holder's lease, set in the same step as the last batch, with its generation `gen`). The fence
-- mark of a reaped generation stays, so a frozen process that wakes up learns it was reaped.
local function finishNode(nodes, nodeBeats, fence, nodeId, register, gen)
  redis.call('DEL', nodeBeats)
  if register == '' then
    redis.call('ZREM', nodes, nodeId)
  else
    redis.call('ZADD', nodes, register, nodeId)
    redis.call('HSET', fence, 'gen', gen)
    redis.call('PERSIST', fence)
  end
end

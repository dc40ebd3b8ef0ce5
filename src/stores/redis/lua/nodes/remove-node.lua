-- Graceful shutdown: drops the node's lease, heartbeats and lease generation once its players set
-- is empty. With users left, nothing changes: the lease stays, expires, and a reaper ends them
-- (node_lost), instead of leaving them online under a node nobody looks at any more.
-- KEYS: nodes zset, node players set, node heartbeats hash, node fence hash
-- ARGV: nodeId
-- Returns 1 removed, 0 users left
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[1], ARGV[1])
return 1

-- Releases a lock only for its owner (compare-and-delete).
-- KEYS: lock hash
-- ARGV: owner
-- Returns 1 released, 0 not held by this owner
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1

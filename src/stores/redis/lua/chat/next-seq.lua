-- Hands out the next seq of a stored conversation (a message is numbered before it is stored, so
-- it can be delivered at once). The counter starts from the database's last_seq: without it the
-- caller gets -1, reads last_seq, and calls again with it as the seed (SET only if still missing:
-- a concurrent seeder's counter is kept, never moved back).
-- KEYS: counter (string)
-- ARGV: ttlMs (collects the counter of a conversation idle that long), seed ('' = none)
-- Returns the seq, or -1 when the counter is missing and no seed was given
local counter, ttl, seed = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', counter) == 0 then
  if seed == '' then return -1 end
  redis.call('SET', counter, seed)
end
local seq = redis.call('INCR', counter)
redis.call('PEXPIRE', counter, ttl)
return seq

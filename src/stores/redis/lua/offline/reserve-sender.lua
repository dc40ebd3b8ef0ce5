-- Counts one player message in its sender's window before it is pushed, where the sender's
-- window and the recipient's queue are in different buckets (REDIS_BUCKETS > 1: different slots,
-- so push.lua cannot check both in one step). A push refused afterwards gives it back
-- (release-sender.lua); a caller that stops in between leaves the window counting one message
-- too many until it expires, which only ever refuses early.
-- KEYS: sender (websocket:queue-sender:<from>)
-- ARGV: bytes, senderMax, senderMaxBytes, window ttl ms
-- Returns 1 when counted, 0 when the window is full (nothing changes).
local sender = KEYS[1]
local bytes, senderMax, senderMaxBytes, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local w = redis.call('HMGET', sender, 'c', 'b')
if (tonumber(w[1]) or 0) + 1 > senderMax or (tonumber(w[2]) or 0) + bytes > senderMaxBytes then return 0 end
-- A fixed window: it opens with the sender's first queued message and is never extended.
local fresh = redis.call('EXISTS', sender) == 0
redis.call('HINCRBY', sender, 'c', 1)
redis.call('HINCRBY', sender, 'b', bytes)
if fresh then redis.call('PEXPIRE', sender, ttl) end
return 1

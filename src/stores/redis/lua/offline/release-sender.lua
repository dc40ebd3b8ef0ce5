-- Gives back a message reserve-sender.lua counted, once its push was refused. Never below zero;
-- a window that expired meanwhile is not created again.
-- KEYS: sender (websocket:queue-sender:<from>)
-- ARGV: bytes
local sender, bytes = KEYS[1], tonumber(ARGV[1])
if redis.call('EXISTS', sender) == 0 then return 0 end
local w = redis.call('HMGET', sender, 'c', 'b')
local c, b = (tonumber(w[1]) or 0) - 1, (tonumber(w[2]) or 0) - bytes
redis.call('HSET', sender, 'c', c < 0 and 0 or c, 'b', b < 0 and 0 or b)
return 1

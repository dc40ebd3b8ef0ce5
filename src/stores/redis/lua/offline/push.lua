-- Appends one offline entry, keeps the newest `max`, (re)sets the queue's expiry.
-- KEYS: queue (websocket:queue:<userId>)
-- ARGV: encoded entry ('<id> <queuedAt> <frame>'), max (>= 1), ttl in ms
-- Returns the queue length afterwards.
local queue = KEYS[1]
local max = tonumber(ARGV[2])
local length = redis.call('RPUSH', queue, ARGV[1])
if length > max then
  redis.call('LTRIM', queue, -max, -1)
  length = max
end
redis.call('PEXPIRE', queue, ARGV[3])
return length

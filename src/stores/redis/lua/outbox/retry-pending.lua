-- Puts logouts back in the queue, due at retryAt, with attempts + 1. Unknown ids are ignored.
-- KEYS: pending zset, pending data hash
-- ARGV: retryAt (ms), ids...
local pending, pendingData, retryAt = KEYS[1], KEYS[2], ARGV[1]
for i = 2, #ARGV do
  local id = ARGV[i]
  local data = redis.call('HGET', pendingData, id)
  if data and redis.call('ZSCORE', pending, id) then
    local item = cjson.decode(data)
    item.attempts = (tonumber(item.attempts) or 0) + 1
    redis.call('ZADD', pending, retryAt, id)
    redis.call('HSET', pendingData, id, cjson.encode(item))
  end
end
return 1

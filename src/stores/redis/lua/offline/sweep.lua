-- Reconciles the total with queues that expired as a whole (their bytes never went through
-- a script): for each userId whose queue key is gone, its field of bytes leaves the total.
-- KEYS: total, bytes, queue of each userId (websocket:queue:<userId>, in ARGV order)
-- ARGV: userIds
-- Returns { bytes subtracted, total afterwards }.
local total, bytesHash = KEYS[1], KEYS[2]
local gone = 0
for i, userId in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 2]) == 0 then
    local held = tonumber(redis.call('HGET', bytesHash, userId) or '0')
    redis.call('HDEL', bytesHash, userId)
    gone = gone + held
  end
end
if gone > 0 then
  local left = redis.call('DECRBY', total, gone)
  if left < 0 then redis.call('SET', total, 0) end
end
return { gone, tonumber(redis.call('GET', total) or '0') }

-- Cumulative acknowledgement: removes the entry with the id and every entry before it.
-- KEYS: queue
-- ARGV: id
-- Returns how many entries were removed (0 when the id is not queued: nothing changes).
local queue = KEYS[1]
local prefix = ARGV[1] .. ' '
local items = redis.call('LRANGE', queue, 0, -1)
for i, item in ipairs(items) do
  if string.sub(item, 1, #prefix) == prefix then
    redis.call('LTRIM', queue, i, -1)
    return i
  end
end
return 0

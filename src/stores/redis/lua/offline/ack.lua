-- Cumulative acknowledgement: removes the entry with the id and every entry before it (both lanes).
-- KEYS: queue, meta, total, bytes (as push.lua)
-- ARGV: userId, id
-- Returns how many entries were removed (0 when the id is not queued: nothing changes).
local queue, meta, total, bytesHash = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local userId = ARGV[1]
local prefix = ARGV[2] .. ' '
local items = redis.call('LRANGE', queue, 0, -1)
for i, item in ipairs(items) do
  if string.sub(item, 1, #prefix) == prefix then
    local removed = {}
    for j = 1, i do removed[j] = items[j] end
    redis.call('LTRIM', queue, i, -1)
    offlineUncount(meta, total, bytesHash, userId, removed)
    offlineForgetIfEmpty(queue, meta, total, bytesHash, userId)
    return i
  end
end
return 0

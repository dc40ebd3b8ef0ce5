-- The unexpired entries of an offline queue, oldest first; removes the expired prefix.
-- KEYS: queue
-- ARGV: cutoff ms (entries queued at or before it are expired)
-- Entries are '<id> <queuedAt> <frame>'. memory-offline-queue.ts walks the same way.
local queue = KEYS[1]
local cutoff = tonumber(ARGV[1])
local items = redis.call('LRANGE', queue, 0, -1)
local out, head = {}, 0
for i, item in ipairs(items) do
  local a = string.find(item, ' ', 1, true)
  local b = a and string.find(item, ' ', a + 1, true)
  local at = b and tonumber(string.sub(item, a + 1, b - 1)) or 0
  if at > cutoff then
    out[#out + 1] = item
  elseif #out == 0 then
    head = i
  end
end
if head > 0 then redis.call('LTRIM', queue, head, -1) end
return out

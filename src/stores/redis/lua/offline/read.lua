-- The unexpired entries of an offline queue, oldest first; removes the expired prefix.
-- KEYS: queue, meta, total, bytes (as push.lua)
-- ARGV: userId, cutoff ms (entries queued at or before it are expired)
-- memory-offline-queue.ts walks the same way.
local queue, meta, total, bytesHash = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local userId, cutoff = ARGV[1], tonumber(ARGV[2])
local items = redis.call('LRANGE', queue, 0, -1)
local out, head = {}, 0
for i, item in ipairs(items) do
  if offlineQueuedAt(item) > cutoff then
    out[#out + 1] = item
  elseif #out == 0 then
    head = i
  end
end
if head > 0 then
  local removed = {}
  for i = 1, head do removed[i] = items[i] end
  redis.call('LTRIM', queue, head, -1)
  offlineUncount(meta, total, bytesHash, userId, removed)
  offlineForgetIfEmpty(queue, meta, total, bytesHash, userId)
end
return out

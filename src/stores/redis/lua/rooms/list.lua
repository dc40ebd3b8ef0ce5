-- The per-node member sessions of a page of rooms the caller read from the rooms index
-- (ZRANGEBYLEX); a room that left the index meanwhile is reported with no nodes (skipped).
-- KEYS: rooms index, then per room: room nodes hash (keys.ts)
-- ARGV: room...
-- Returns { 'room', room, 'nodes', { nodeId, count, ... } or false, ... }
local out = {}
for i = 1, #ARGV do
  local room = ARGV[i]
  out[#out + 1] = room
  if redis.call('ZSCORE', KEYS[1], room) then
    out[#out + 1] = redis.call('HGETALL', KEYS[i + 1])
  else
    out[#out + 1] = false
  end
end
return out

-- One page of rooms in name (byte) order with their per-node member sessions.
-- ARGV: prefix, start ('-' or '(' .. last room), limit
-- Returns { more 0/1, { { room, { nodeId, count, ... } }, ... } }
local prefix, start, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local rooms = redis.call('ZRANGEBYLEX', prefix .. 'rooms:index', start, '+', 'LIMIT', 0, limit + 1)
local out, more = {}, 0
for i, room in ipairs(rooms) do
  if i > limit then
    more = 1
    break
  end
  out[#out + 1] = { room, redis.call('HGETALL', prefix .. 'room:{' .. room .. '}:nodes') }
end
return { more, out }

-- One page of a room's members (`userId|nodeId`, byte order) with their session counts.
-- ARGV: prefix, room, start ('-' or '(' .. last member), limit
-- Returns { more 0/1, { member, sessions, member, sessions, ... } }
local prefix, room, start, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local base = prefix .. 'room:{' .. room .. '}:'
local members = redis.call('ZRANGEBYLEX', base .. 'members', start, '+', 'LIMIT', 0, limit + 1)
local out, more = {}, 0
for i, member in ipairs(members) do
  if i > limit then
    more = 1
    break
  end
  local bar = string.find(member, '|', 1, true)
  local userId, nodeId = string.sub(member, 1, bar - 1), string.sub(member, bar + 1)
  out[#out + 1] = member
  out[#out + 1] = redis.call('HGET', base .. 'node:' .. nodeId, userId) or '0'
end
return { more, out }

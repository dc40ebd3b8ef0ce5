-- The session counts of a page of a room's members the caller read from the members zset
-- (ZRANGEBYLEX, `userId|nodeId`); a member that left meanwhile is reported as false (skipped).
-- KEYS: room members zset, then per member: room node users hash of its node (keys.ts)
-- ARGV: member...
-- Returns { member, sessions or false, ... }
local out = {}
for i = 1, #ARGV do
  local member = ARGV[i]
  out[#out + 1] = member
  if redis.call('ZSCORE', KEYS[1], member) then
    local userId = string.sub(member, 1, string.find(member, '|', 1, true) - 1)
    out[#out + 1] = redis.call('HGET', KEYS[i + 1], userId) or '0'
  else
    out[#out + 1] = false
  end
end
return out

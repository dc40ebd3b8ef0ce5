-- One page of online players in userId (byte) order from the online index.
-- KEYS: online index
-- ARGV: key prefix, start ('-', '(' .. last userId, or '[' .. userId prefix), stop ('+', or
--       '(' .. the successor of the userId prefix), limit, scan budget, filter '1'/'0', nodeId
-- Player keys (prefix .. 'player:online:' .. userId) come from index members, so they are built
-- here from the prefix, exactly as keys.ts builds them.
-- Examines at most `budget` index entries and looks one entry further to know whether the
-- iteration is complete: memory-presence-store.ts walks the same way. The peek stays within
-- [start, stop], so the page that reaches the end of a prefix range knows it is the last one.
-- Returns { 'more', 0/1, 'last', last examined userId or '', 'players',
--   { { 'userId', userId, 'presence', readPresence reply }, ... } } (named fields, redis-online-codec.ts)
local index = KEYS[1]
local prefix, start, stop = ARGV[1], ARGV[2], ARGV[3]
local limit, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local filtered, field = ARGV[6] == '1', 'n:' .. ARGV[7]

local players, last, more = {}, '', 0
while true do
  -- Fetch what the page can still use (at least a small batch when filtering) plus one to peek.
  local want = math.min(budget, math.max(limit - #players, 64)) + 1
  local members = redis.call('ZRANGEBYLEX', index, start, stop, 'LIMIT', 0, want)
  for _, userId in ipairs(members) do
    if budget == 0 or #players == limit then
      more = 1
      break
    end
    budget = budget - 1
    last = userId
    local player = prefix .. 'player:online:' .. userId
    local f = redis.call('HMGET', player, 'status', field)
    if (f[1] == 'online' or f[1] == 'reconnecting') and (not filtered or (tonumber(f[2]) or 0) > 0) then
      local p = readPresence(prefix, player, userId)
      players[#players + 1] = { 'userId', userId, 'presence', p }
    end
  end
  if more == 1 or #members < want then break end
  start = '(' .. last
end
return { 'more', more, 'last', last, 'players', players }

-- One page of online players, from the userIds the caller read off the online index (one
-- ZRANGEBYLEX of at most `budget` + 1 entries within the page's range, in userId byte order).
-- Examines at most `budget` of them, and uses the entry after the last one examined only as a
-- peek to know whether the iteration is complete: memory-presence-store.ts walks the same way.
-- The heartbeats of the players returned are read by the caller afterwards (their nodes come
-- from the `n:<nodeId>` fields of each hash).
-- KEYS: the player hash of each userId, in ARGV order
-- ARGV: limit, budget, filter '1'/'0', nodeId, userId...
-- Returns { 'more', 0/1, 'last', last examined userId or '', 'players',
--   { { 'userId', userId, 'fields', { field, value, ... } }, ... } } (named fields, redis-online-codec.ts)
local limit, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local filtered, field = ARGV[3] == '1', 'n:' .. ARGV[4]
local FIRST_USER = 5

local players, last, more = {}, '', 0
for i = FIRST_USER, #ARGV do
  if budget == 0 or #players == limit then
    more = 1
    break
  end
  budget = budget - 1
  local userId, player = ARGV[i], KEYS[i - FIRST_USER + 1]
  last = userId
  local f = redis.call('HMGET', player, 'status', field)
  if (f[1] == 'online' or f[1] == 'reconnecting') and (not filtered or (tonumber(f[2]) or 0) > 0) then
    players[#players + 1] = { 'userId', userId, 'fields', redis.call('HGETALL', player) }
  end
end
return { 'more', more, 'last', last, 'players', players }

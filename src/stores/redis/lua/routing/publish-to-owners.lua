-- Looks up a user's owning nodes and PUBLISHes one envelope to each, in one round trip (the
-- lookup-then-publish of LookupOwnerPublisher, atomically).
-- KEYS: player hash (player:online:<userId>)
-- ARGV: node channel prefix ("<prefix>gateway:"), node to skip (the sender's), envelope
-- Returns { 'online', 0/1, 'owners', n, 'reached', n } (named fields, redis-online-codec.ts): publishes made,
-- and those some subscriber received.
local fields = redis.call('HGETALL', KEYS[1])
local online = false
for i = 1, #fields, 2 do
  if fields[i] == 'status' then online = fields[i + 1] == 'online' end
end
if not online then return { 'online', 0, 'owners', 0, 'reached', 0 } end
local owners, reached = 0, 0
for i = 1, #fields, 2 do
  local name = fields[i]
  if string.sub(name, 1, 2) == 'n:' and (tonumber(fields[i + 1]) or 0) > 0 then
    local node = string.sub(name, 3)
    if node ~= ARGV[2] then
      owners = owners + 1
      if redis.call('PUBLISH', ARGV[1] .. node, ARGV[3]) > 0 then reached = reached + 1 end
    end
  end
end
return { 'online', 1, 'owners', owners, 'reached', reached }

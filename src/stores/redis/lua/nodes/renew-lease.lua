-- Renews a node's lease and tells the previous one, so the node learns in the same round trip
-- that its lease was gone (Redis lost its data, or the node was removed) or had expired (a
-- reaper may have ended some of its users): then it re-asserts its sessions.
-- Fencing: a lease whose generation a reaper fenced (reap-claim.lua), or whose id another
-- registration took over (another `gen`), is not renewed: the caller was reaped (it froze, was
-- cut off from Redis, or stalled) and must start again with a fresh registration rather than
-- re-assert sessions the reaper already logged out. A missing fence hash (Redis lost its data,
-- or removeNode) is not a fence: the lease is recreated under the caller's generation.
-- Times: `now` is the caller's cluster clock (Redis TIME sampled at every renewal, see
-- cluster/cluster-clock.ts), the clock every lease, lock and grace comparison uses.
-- Lapses are recorded in the store (`lapsedAt` in the fence hash) when `lapseAfter` is given: a
-- renewal that finds the previous lease missing or older than that stamps it, and every renewal
-- returns it, so the node learns of a lapse whichever of its renewers (the keeper's thread, the
-- main loop) happened to see it first.
-- KEYS: nodes zset, node fence hash
-- ARGV: nodeId, now (ms), generation, lapseAfter (ms, or '' for no lapse record)
-- Returns { 'fenced', 0/1, 'previous', lease (ms) or '', 'lapsedAt', ms or '' } (named fields,
--   redis-online-codec.ts; lapsedAt only with lapseAfter)
-- An earlier generation of the caller's own process (`<incarnation>/<n>` with a lower n) is no
-- takeover but a store that went back in time: it is replaced (cluster/lease-generation.ts).
local nodes, fence = KEYS[1], KEYS[2]
local nodeId, now, gen, lapseAfter = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local function supersedes(mine, stored)
  local mi, mn = string.match(mine, '^(.*)/(%d+)$')
  local si, sn = string.match(stored, '^(.*)/(%d+)$')
  return mi ~= nil and si ~= nil and mi == si and tonumber(mn) > tonumber(sn)
end

local previous = redis.call('ZSCORE', nodes, nodeId) or ''
local f = redis.call('HMGET', fence, 'gen', 'fenced')
if f[2] == gen or (f[1] and f[1] ~= gen and not supersedes(gen, f[1])) then return { 'fenced', 1, 'previous', previous } end
redis.call('ZADD', nodes, now, nodeId)
if f[1] ~= gen then redis.call('HSET', fence, 'gen', gen) end
if lapseAfter == '' then return { 'fenced', 0, 'previous', previous } end
if previous == '' or tonumber(now) - tonumber(previous) > tonumber(lapseAfter) then redis.call('HSET', fence, 'lapsedAt', now) end
return { 'fenced', 0, 'previous', previous, 'lapsedAt', redis.call('HGET', fence, 'lapsedAt') or '' }

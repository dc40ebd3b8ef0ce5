-- Phase 1 of one batch of reaping a dead node (reapNode; registerNode for a dead previous holder
-- of its id). Only per-node keys: it moves up to `limit` users from the node's players set into
-- its claim hash (userId -> claim time), first taking again the claims older than the claim TTL
-- (a reaper that stopped between the phases loses nobody). Racing reapers claim disjoint
-- batches. Phase 2 (reap-claimed.lua) then receives the claimed users' keys in KEYS.
-- Claim times come from the Redis clock (TIME): they are stamped and compared here only, so they
-- need no caller clock (every other time is the callers' cluster clock, see renew-lease.lua).
-- Fencing: once the node is judged dead here, the generation of its lease is marked fenced, so
-- the process, if it was only frozen or cut off, can never renew it again: it learns it was
-- reaped and starts over (a fresh registration) instead of serving ghosts. The mark expires 7
-- days later (a process frozen longer re-asserts as after a data loss and finds its sessions
-- ended).
-- A lease newer than `liveAfter` means the node is alive (reapNode: it renewed since the reaper
-- saw it dead) or the id is in use (registerNode): nothing is claimed. With nothing claimed and
-- nothing left the node is finished here (lib/finish-node.lua).
-- KEYS: nodes zset, node players set, node claim hash, node heartbeats hash, node fence hash
-- ARGV: nodeId, liveAfter (ms), claim TTL (ms), limit, register ('' for reapNode, else now in ms),
--       generation of the registering process ('' for reapNode)
-- Returns { 'live', 0/1, 'claimed', { userId, ... }, 'remaining', n } (named fields,
--   redis-online-codec.ts); remaining = players set + unfinished claims, this batch included
local nodes, nodePlayers, claims, nodeBeats, fence = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local nodeId, liveAfter, ttl, limit, register, gen = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local FENCE_TTL_MS = 7 * 86400000

local lease = redis.call('ZSCORE', nodes, nodeId)
if lease and tonumber(lease) > liveAfter then return { 'live', 1, 'claimed', {}, 'remaining', 0 } end
local current = redis.call('HGET', fence, 'gen')
if current and current ~= gen then
  redis.call('HSET', fence, 'fenced', current)
  redis.call('PEXPIRE', fence, FENCE_TTL_MS)
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local claimed = {}
local entries = redis.call('HGETALL', claims)
for i = 1, #entries, 2 do
  if #claimed == limit then break end
  if tonumber(entries[i + 1]) <= now - ttl then claimed[#claimed + 1] = entries[i] end
end
if #claimed < limit then
  for _, userId in ipairs(redis.call('SPOP', nodePlayers, limit - #claimed)) do claimed[#claimed + 1] = userId end
end
for _, userId in ipairs(claimed) do redis.call('HSET', claims, userId, now) end
local remaining = redis.call('SCARD', nodePlayers) + redis.call('HLEN', claims)
if remaining == 0 then finishNode(nodes, nodeBeats, fence, nodeId, register, gen) end
return { 'live', 0, 'claimed', claimed, 'remaining', remaining }

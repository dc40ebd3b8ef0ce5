-- Appends one offline entry to its lane if the quotas let it in (offline-queue.ts, the model).
-- KEYS: queue (websocket:queue:<userId>), meta (websocket:queue-meta:<userId>),
--       total (websocket:queue-total), bytes (websocket:queue-bytes) of the user's bucket,
--       [sender (websocket:queue-sender:<from>): player lane, when in the same bucket]
-- ARGV: userId, element ('<id> <queuedAt> <origin> <frame>'), max, maxBytes, ttl ms,
--       cutoff ms (entries queued at or before it are expired), senderMax, senderMaxBytes,
--       totalMaxBytes (of the bucket), lane ('player' without a sender key: the sender's window
--       already counted it, reserve-sender.lua; '' otherwise)
-- Returns { length, total } when queued, { 'recipient' | 'sender' | 'cluster', total } when
-- refused (nothing stored, no expiry moved).
local queue, meta, total, bytesHash, sender = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local userId, item = ARGV[1], ARGV[2]
local max, maxBytes, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local cutoff = tonumber(ARGV[6])
local senderMax, senderMaxBytes, totalMax = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local playerLane = sender ~= nil or ARGV[10] == 'player'

-- A queue that expired as a whole left its share in the total: settle it before starting anew.
offlineForgetIfEmpty(queue, meta, total, bytesHash, userId)
offlineDropExpiredHead(queue, meta, total, bytesHash, userId, cutoff)
offlineForgetIfEmpty(queue, meta, total, bytesHash, userId)
local bytes = #item + OFFLINE_OVERHEAD
local held = tonumber(redis.call('GET', total) or '0')
local function refuse(quota)
  return { quota, held }
end

local m = redis.call('HMGET', meta, 'pc', 'pb', 'sc', 'sb')
local pc, pb, sc, sb = tonumber(m[1]) or 0, tonumber(m[2]) or 0, tonumber(m[3]) or 0, tonumber(m[4]) or 0
if playerLane then
  if pc + 1 > max or pb + bytes > maxBytes then return refuse('recipient') end
  local w = sender and redis.call('HMGET', sender, 'c', 'b') or {}
  if sender and ((tonumber(w[1]) or 0) + 1 > senderMax or (tonumber(w[2]) or 0) + bytes > senderMaxBytes) then return refuse('sender') end
  if held + bytes > totalMax then return refuse('cluster') end
  if sender then
    -- A fixed window: it opens with the sender's first queued message and is never extended.
    local fresh = redis.call('EXISTS', sender) == 0
    redis.call('HINCRBY', sender, 'c', 1)
    redis.call('HINCRBY', sender, 'b', bytes)
    if fresh then redis.call('PEXPIRE', sender, ttl) end
  end
  redis.call('HSET', meta, 'pc', pc + 1, 'pb', pb + bytes)
else
  if bytes > maxBytes then return refuse('recipient') end
  sc, sb = sc + 1, sb + bytes
  redis.call('HSET', meta, 'sc', sc, 'sb', sb)
end
local length = redis.call('RPUSH', queue, item)
redis.call('HINCRBY', bytesHash, userId, bytes)
held = redis.call('INCRBY', total, bytes)

-- The server lane keeps its newest pushes: its oldest go, never a player's message.
if sc > max or sb > maxBytes then
  local evicted = {}
  local items = redis.call('LRANGE', queue, 0, -1)
  for _, it in ipairs(items) do
    if sc <= max and sb <= maxBytes then break end
    if not offlineIsPlayer(it) then
      evicted[#evicted + 1] = it
      sc, sb = sc - 1, sb - (#it + OFFLINE_OVERHEAD)
    end
  end
  for _, it in ipairs(evicted) do redis.call('LREM', queue, 1, it) end
  offlineUncount(meta, total, bytesHash, userId, evicted)
  length = length - #evicted
  held = tonumber(redis.call('GET', total) or '0')
end

redis.call('PEXPIRE', queue, ttl)
redis.call('PEXPIRE', meta, ttl)
return { length, held }

-- Shared prelude (prepended by scripts.ts): the bookkeeping of an offline queue's lanes.
-- Elements are '<id> <queuedAt> <origin> <frame>', origin '@<from>' (player lane) or '!'
-- (server lane); an element written before the lanes ('<id> <queuedAt> <frame>') is a server
-- entry. An entry counts #element + overhead bytes (offlineEntryBytes in offline-queue.ts).
-- meta (websocket:queue-meta:<userId>): pc/pb player count/bytes, sc/sb server count/bytes.
-- total (websocket:queue-total) and field <userId> of bytes (websocket:queue-bytes): the bytes
-- of every queue together and of this one (what the sweep subtracts once the queue expired).
local OFFLINE_OVERHEAD = 64

-- The queuedAt of an element (0 when unreadable: treated as expired).
local function offlineQueuedAt(item)
  local a = string.find(item, ' ', 1, true)
  local b = a and string.find(item, ' ', a + 1, true)
  return b and tonumber(string.sub(item, a + 1, b - 1)) or 0
end

-- True for a player-lane element.
local function offlineIsPlayer(item)
  local a = string.find(item, ' ', 1, true)
  local b = a and string.find(item, ' ', a + 1, true)
  return b ~= nil and string.sub(item, b + 1, b + 1) == '@'
end

-- Takes the removed elements out of the lane counters and the totals. Never below zero (an
-- element written before the lanes was never counted).
local function offlineUncount(meta, total, bytesHash, userId, removed)
  local pc, pb, sc, sb = 0, 0, 0, 0
  for _, item in ipairs(removed) do
    if offlineIsPlayer(item) then
      pc, pb = pc + 1, pb + #item + OFFLINE_OVERHEAD
    else
      sc, sb = sc + 1, sb + #item + OFFLINE_OVERHEAD
    end
  end
  if pc + sc == 0 then return end
  -- No meta (only elements written before the lanes): nothing to take back, and creating it
  -- here would leave a key without expiry.
  if redis.call('EXISTS', meta) == 1 then
    local m = redis.call('HMGET', meta, 'pc', 'pb', 'sc', 'sb')
    local function left(value, by)
      local n = (tonumber(value) or 0) - by
      return n < 0 and 0 or n
    end
    redis.call('HSET', meta, 'pc', left(m[1], pc), 'pb', left(m[2], pb), 'sc', left(m[3], sc), 'sb', left(m[4], sb))
  end
  local held = tonumber(redis.call('HGET', bytesHash, userId) or '0')
  local gone = pb + sb
  if gone > held then gone = held end
  if held - gone <= 0 then
    redis.call('HDEL', bytesHash, userId)
  else
    redis.call('HSET', bytesHash, userId, held - gone)
  end
  if gone > 0 then
    local left = redis.call('DECRBY', total, gone)
    if left < 0 then redis.call('SET', total, 0) end
  end
end

-- Once the list is gone (its last element removed, or the key expired) its bookkeeping goes too:
-- whatever its share of the total still says was never removed by a script (a queue that expired
-- and was created again before the sweep saw it), so it leaves the total as the sweep would.
local function offlineForgetIfEmpty(queue, meta, total, bytesHash, userId)
  if redis.call('EXISTS', queue) == 0 then
    redis.call('DEL', meta)
    local stale = tonumber(redis.call('HGET', bytesHash, userId) or '0')
    redis.call('HDEL', bytesHash, userId)
    if stale > 0 then
      local left = redis.call('DECRBY', total, stale)
      if left < 0 then redis.call('SET', total, 0) end
    end
  end
end

-- Removes the expired head (queued at or before cutoff); returns how many went.
local function offlineDropExpiredHead(queue, meta, total, bytesHash, userId, cutoff)
  local removed = {}
  while true do
    local head = redis.call('LINDEX', queue, 0)
    if not head or offlineQueuedAt(head) > cutoff then break end
    redis.call('LPOP', queue)
    removed[#removed + 1] = head
  end
  offlineUncount(meta, total, bytesHash, userId, removed)
  return #removed
end

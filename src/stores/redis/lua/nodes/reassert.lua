-- Re-asserts a node's live sessions, after Redis lost data (restarted empty or from an older
-- snapshot) or after the node's lease was gone. Per user:
-- - no hash: recreate the logical session online with the node's data (sessions = n:<nodeId>
--   = connections) and its set/index memberships;
-- - same logical session, online: the node is authoritative for its own count: n:<nodeId> is set
--   to `connections`, `sessions` moves by the difference; missing memberships are re-added;
-- - offline in an older logical session (a lower epoch than the node's): the store never saw the
--   node's login (lost in a failover to a replica behind the primary, or the store went back in
--   time), so it is recreated as for a missing hash;
-- - otherwise (another logical session, or this one already ended): untouched and reported stale,
--   so the node closes those connections.
-- The epoch never moves backwards. The node's lease is set to now.
-- KEYS: nodes zset, online set, online index, node players set, player hash per entry...
-- ARGV: nodeId, now (ms), then per entry: userId, username, logicalSessionId, epoch, connectedAt,
--       connections, connection ids (JSON array, or '' when not tracked)
-- Returns { 'restored', n, 'stale', { userId, ... } } (named fields, redis-online-codec.ts)
local nodes, online, index, nodePlayers = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local nodeId, now = ARGV[1], ARGV[2]
local field = 'n:' .. nodeId
local FIELDS = 7

redis.call('ZADD', nodes, now, nodeId)
local restored, stale = 0, {}
for i = 0, (#ARGV - 2) / FIELDS - 1 do
  local a = 2 + i * FIELDS
  local player = KEYS[5 + i]
  local userId, username, sid, epoch, connectedAt, connections, ids =
    ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], tonumber(ARGV[a + 6]), ARGV[a + 7]
  local changed, isStale = false, false
  local f = redis.call('HMGET', player, 'status', 'sid', 'epoch', 'sessions', field)
  if storeMissed(f, sid, epoch) then
    redis.call('PERSIST', player)
    redis.call('HDEL', player, 'logoutTime', 'logoutReason')
    redis.call('HSET', player, 'status', 'online', 'username', username, 'nodeId', nodeId, 'epoch', epoch,
      'sessions', connections, 'sid', sid, 'connectedAt', connectedAt, 'lastHeartbeat', now, field, connections)
    if ids ~= '' then redis.call('HSET', player, 'c:' .. nodeId, ids) end
    changed = true
  else
    if f[1] == 'online' and f[2] == sid then
      local count = tonumber(f[5]) or 0
      if count ~= connections then
        redis.call('HSET', player, field, connections, 'sessions', math.max(0, (tonumber(f[4]) or 0) + connections - count))
        changed = true
      end
      if (tonumber(f[3]) or 0) < tonumber(epoch) then redis.call('HSET', player, 'epoch', epoch) end
      if ids ~= '' then redis.call('HSET', player, 'c:' .. nodeId, ids) end
    else
      isStale = true
      stale[#stale + 1] = userId
    end
  end
  if not isStale then
    -- Memberships lost on their own (a partial restore) are repaired too.
    local added = redis.call('SADD', online, userId) + redis.call('ZADD', index, 0, userId) + redis.call('SADD', nodePlayers, userId)
    if changed or added > 0 then restored = restored + 1 end
  end
end
return { 'restored', restored, 'stale', stale }

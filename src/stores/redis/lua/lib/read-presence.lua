-- Shared prelude (prepended by scripts.ts): a player's hash plus their heartbeat in
-- the heartbeats hash of each node they are live on (server:node:<nodeId>:heartbeats, built
-- here from the prefix exactly as keys.ts builds it).
local function readPresence(prefix, player, userId)
  local fields = redis.call('HGETALL', player)
  local beats = {}
  for i = 1, #fields, 2 do
    if string.sub(fields[i], 1, 2) == 'n:' then
      local beat = redis.call('HGET', prefix .. 'server:node:' .. string.sub(fields[i], 3) .. ':heartbeats', userId)
      if beat then beats[#beats + 1] = beat end
    end
  end
  return { 'fields', fields, 'beats', beats }
end

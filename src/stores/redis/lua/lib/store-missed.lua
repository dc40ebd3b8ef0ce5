-- Shared prelude (prepended by scripts.ts): whether the store does not know a node's logical
-- session `sid` of `epoch`, given the player hash's HMGET of status, sid, epoch: no hash, or
-- offline in an older logical session with a lower epoch (the node's login was lost: a failover
-- to a replica behind the primary, or the store went back in time).
local function storeMissed(f, sid, epoch)
  return not f[1] or (f[1] == 'offline' and f[2] ~= sid and (tonumber(f[3]) or 0) < tonumber(epoch))
end

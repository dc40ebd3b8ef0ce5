-- Takes (or, for its owner, extends) a named lock until now + ttlMs. Expiry is judged on the
-- callers' `now` (as in the memory store); PEXPIRE only collects the key once it is long dead.
-- KEYS: lock hash { owner, expiresAt }
-- ARGV: owner, ttlMs, now (ms), expiresAt = now + ttlMs (computed by the caller: Lua would print a
--       large sum with 14 significant digits only)
-- Returns 1 taken, 0 held by another owner
local lock, owner, ttl, now, expiresAt = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local f = redis.call('HMGET', lock, 'owner', 'expiresAt')
if f[1] and f[1] ~= owner and (tonumber(f[2]) or 0) > now then return 0 end
redis.call('HSET', lock, 'owner', owner, 'expiresAt', expiresAt)
redis.call('PEXPIRE', lock, ttl)
return 1

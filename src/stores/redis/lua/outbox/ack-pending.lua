-- Removes written logouts (queue member and data together).
-- KEYS: pending zset, pending data hash
-- ARGV: ids
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
end
return #ARGV

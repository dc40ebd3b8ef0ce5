-- One player's hash and live-node heartbeats, read in one consistent step.
-- KEYS: player hash
-- ARGV: key prefix (for the node heartbeats keys, see read-presence), userId
-- Returns { 'fields', { field, value, ... }, 'beats', { heartbeat, ... } }
return readPresence(ARGV[1], KEYS[1], ARGV[2])

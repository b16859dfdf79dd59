-- A semantic-cache store on plain Redis.
-- KEYS: the partition's sorted set (id -> expiry, µs), vector hash, entry hash.
-- ARGV: id, expiry (µs, the gateway's clock), vector bytes, entry bytes,
-- the most entries a partition keeps, the keys' real-time TTL (ms).
-- A full partition drops the entries that expire first.
local id, expires, most, ttl = ARGV[1], ARGV[2], tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZADD', KEYS[1], expires, id)
redis.call('HSET', KEYS[2], id, ARGV[3])
redis.call('HSET', KEYS[3], id, ARGV[4])
local n = redis.call('ZCARD', KEYS[1])
if n > most then
  local old = redis.call('ZRANGE', KEYS[1], 0, math.min(n - most, 1000) - 1)
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('HDEL', KEYS[2], unpack(old))
  redis.call('HDEL', KEYS[3], unpack(old))
end
if redis.call('PTTL', KEYS[1]) < ttl then
  for _, k in ipairs(KEYS) do
    redis.call('PEXPIRE', k, ttl)
  end
end
return n

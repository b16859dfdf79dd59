-- A semantic-cache lookup on plain Redis.
-- KEYS: the partition's sorted set (id -> expiry, µs), vector hash, entry hash.
-- ARGV: now (µs, the gateway's clock), the most candidates to return.
-- Drops up to 1000 expired entries, then returns id, vector, id, vector, …
-- of the newest live entries (latest expiry first).
local now, limit = ARGV[1], tonumber(ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
if #dead > 0 then
  redis.call('ZREM', KEYS[1], unpack(dead))
  redis.call('HDEL', KEYS[2], unpack(dead))
  redis.call('HDEL', KEYS[3], unpack(dead))
end
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. now, 'LIMIT', 0, limit)
if #ids == 0 then
  return {}
end
local vecs = redis.call('HMGET', KEYS[2], unpack(ids))
local out = {}
for i, id in ipairs(ids) do
  if vecs[i] then
    out[#out + 1] = id
    out[#out + 1] = vecs[i]
  end
end
return out

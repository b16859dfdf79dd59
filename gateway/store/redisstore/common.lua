-- aiload counter store: helpers shared by reserve.lua and settle.lua, which
-- are each sent to Redis with this file in front. ARGV[1] is now in both.

local now = tonumber(ARGV[1])

-- expire drops the charges that have left the window (a charge made at t
-- leaves it when now >= t + span) and returns the tokens still in it.
local function expire(z, h, span)
  local cutoff = now - span
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', cutoff)
  if #old > 0 then
    local dec = 0
    for i = 1, #old, 500 do
      local chunk = {}
      for j = i, math.min(i + 499, #old) do chunk[#chunk + 1] = old[j] end
      local toks = redis.call('HMGET', h, unpack(chunk))
      for j = 1, #toks do dec = dec + (tonumber(toks[j]) or 0) end
      redis.call('HDEL', h, unpack(chunk))
    end
    redis.call('ZREMRANGEBYSCORE', z, '-inf', cutoff)
    redis.call('HINCRBY', h, 'used', -dec)
  end
  return tonumber(redis.call('HGET', h, 'used') or '0')
end

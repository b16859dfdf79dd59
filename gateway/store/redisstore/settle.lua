-- aiload counter store: Settle, replacing reservations by actual usage.
-- Times are integer microseconds since the Unix epoch.
--
-- KEYS as for reserve.lua (a period check's key is the period holding now).
-- ARGV[1] now (µs), ARGV[2] reservedAt (µs, the member name of the
--   reservation), ARGV[3] actual tokens, ARGV[4] n; then five values per
--   check: kind ("w" or "p"), limit, reserve, span (w, µs) or 1 when the
--   reservation's period is the current one (p), ttl (ms).
-- Returns the remaining tokens per check.

local actual = tonumber(ARGV[3])
local n = tonumber(ARGV[4])

local function add(z, h, at, member, tokens, ttl)
  if tokens <= 0 then return end
  redis.call('ZADD', z, at, member)
  redis.call('HINCRBY', h, member, tokens)
  redis.call('HINCRBY', h, 'used', tokens)
  redis.call('PEXPIRE', z, ttl)
  redis.call('PEXPIRE', h, ttl)
end

local out = {}
local ki, ai = 1, 5
for i = 1, n do
  local kind, limit, reserve = ARGV[ai], tonumber(ARGV[ai + 1]), tonumber(ARGV[ai + 2])
  local x, ttl = tonumber(ARGV[ai + 3]), tonumber(ARGV[ai + 4])
  ai = ai + 5
  if kind == 'w' then
    local z, h = KEYS[ki], KEYS[ki + 1]
    ki = ki + 2
    if reserve > 0 then
      local delta = actual - reserve
      if delta > 0 then
        add(z, h, tonumber(ARGV[2]), ARGV[2], delta, ttl)
      elseif delta < 0 then
        local t = tonumber(redis.call('HGET', h, ARGV[2]) or '')
        if t then
          local dec = math.min(-delta, t)
          redis.call('HINCRBY', h, ARGV[2], -dec)
          redis.call('HINCRBY', h, 'used', -dec)
        end
      end
    else
      add(z, h, now, ARGV[1], actual, ttl)
    end
    out[i] = math.max(0, limit - expire(z, h, x))
  else
    local q = KEYS[ki]
    ki = ki + 1
    local used = tonumber(redis.call('GET', q) or '0')
    if x == 1 then
      local delta = actual
      if reserve > 0 then delta = actual - reserve end
      used = math.max(0, used + delta)
      redis.call('SET', q, used, 'PX', ttl)
    end
    out[i] = math.max(0, limit - used)
  end
end
return out

-- aiload counter store: Reserve, one atomic decision over several counters.
-- Times are integer microseconds since the Unix epoch.
--
-- KEYS, per check in order: a window uses two keys (zset of charge instants,
--   hash instant -> tokens plus field "used"), a period quota one (a counter).
-- ARGV[1] now (µs, also the member name of a charge made now), ARGV[2] n;
--   then six values per check: kind ("w" or "p"), limit, need, reserve,
--   span (w, µs) or period end (p, µs), ttl (ms).
-- Returns {allowed (0/1), denied index (0-based, -1), retry (µs), remaining...}.

local n = tonumber(ARGV[2])

-- time until the window's used tokens fall to at most target
local function wait_below(z, h, used, target, span)
  local members = redis.call('ZRANGE', z, 0, -1)
  for j = 1, #members do
    if used <= target then break end
    used = used - (tonumber(redis.call('HGET', h, members[j])) or 0)
    if used <= target then return tonumber(members[j]) + span - now end
  end
  return 0
end

local checks = {}
local ki, ai = 1, 3
for i = 1, n do
  local c = {kind = ARGV[ai], limit = tonumber(ARGV[ai + 1]), need = tonumber(ARGV[ai + 2]),
             reserve = tonumber(ARGV[ai + 3]), x = tonumber(ARGV[ai + 4]), ttl = tonumber(ARGV[ai + 5])}
  ai = ai + 6
  if c.kind == 'w' then
    c.z, c.h = KEYS[ki], KEYS[ki + 1]
    ki = ki + 2
  else
    c.q = KEYS[ki]
    ki = ki + 1
  end
  checks[i] = c
end

local allowed, denied, retry = 1, -1, 0
local rem = {}
for i, c in ipairs(checks) do
  local ok, r = false, 0
  if c.kind == 'w' then
    c.used = expire(c.z, c.h, c.x)
    if c.used + c.need <= c.limit then ok = true
    elseif c.need > c.limit then r = c.x
    else r = wait_below(c.z, c.h, c.used, c.limit - c.need, c.x) end
  else
    c.used = tonumber(redis.call('GET', c.q) or '0')
    if c.used + c.need <= c.limit then ok = true else r = c.x - now end
  end
  rem[i] = math.max(0, c.limit - c.used)
  -- a quota refusal (403) wins over a tokens-per-minute refusal (429)
  if not ok and (denied < 0 or (checks[denied + 1].kind ~= 'p' and c.kind == 'p')) then
    allowed, denied, retry = 0, i - 1, r
  end
end

if allowed == 1 then
  for i, c in ipairs(checks) do
    if c.reserve > 0 then
      if c.kind == 'w' then
        redis.call('ZADD', c.z, now, ARGV[1])
        redis.call('HINCRBY', c.h, ARGV[1], c.reserve)
        redis.call('HINCRBY', c.h, 'used', c.reserve)
        redis.call('PEXPIRE', c.z, c.ttl)
        redis.call('PEXPIRE', c.h, c.ttl)
      else
        redis.call('INCRBY', c.q, c.reserve)
        redis.call('PEXPIRE', c.q, c.ttl)
      end
      c.used = c.used + c.reserve
    end
    rem[i] = math.max(0, c.limit - c.used)
  end
end

local out = {allowed, denied, retry}
for i = 1, n do out[#out + 1] = rem[i] end
return out

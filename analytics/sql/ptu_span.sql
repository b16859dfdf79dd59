-- The time span of the requests the gateway forwarded (see
-- ptu_steps.sql), in Unix seconds, for PTU planning.
--   $1 model ('' = all), $2, $3 range [from, to) or NULL
SELECT epoch_us(min(ts)) // 1000000, epoch_us(max(ts)) // 1000000
FROM records
WHERE outcome IN ('ok', 'backend_throttled')
  AND ($1 = '' OR model = $1)
  AND ($2::TIMESTAMPTZ IS NULL OR ts >= $2::TIMESTAMPTZ)
  AND ($3::TIMESTAMPTZ IS NULL OR ts < $3::TIMESTAMPTZ);

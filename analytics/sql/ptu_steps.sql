-- Demand at the backends per model and time step, for PTU planning: the
-- requests the gateway forwarded (answered 'ok', or refused by every
-- backend: 'backend_throttled'), any attempt, with uncached input, cached
-- input and output tokens and the request count. Only steps with requests
-- are returned; a step is Unix seconds // $4.
--   $1 model ('' = all), $2, $3 range [from, to) or NULL, $4 step in seconds
SELECT coalesce(model, '') AS model, epoch_us(ts) // (1000000 * $4::BIGINT) AS step,
       -- a record with only total_tokens counts them as input
       -- BIGINT sums: DuckDB's HUGEINT sums scan into Go through math/big
       sum(CASE WHEN coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) = 0 THEN coalesce(total_tokens, 0)
                ELSE greatest(coalesce(prompt_tokens, 0) - coalesce(cached_tokens, 0), 0) END)::BIGINT AS uncached,
       sum(least(coalesce(cached_tokens, 0), coalesce(prompt_tokens, 0)))::BIGINT AS cached,
       sum(coalesce(completion_tokens, 0))::BIGINT AS output,
       count(*) AS requests
FROM records
WHERE outcome IN ('ok', 'backend_throttled')
  AND ($1 = '' OR model = $1)
  AND ($2::TIMESTAMPTZ IS NULL OR ts >= $2::TIMESTAMPTZ)
  AND ($3::TIMESTAMPTZ IS NULL OR ts < $3::TIMESTAMPTZ)
GROUP BY ALL
ORDER BY model, step;

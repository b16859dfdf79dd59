-- Per-minute demand per model, zero-filled over the range, for PTU
-- planning: uncached input (prompt - cached), cached input and output
-- tokens, and requests, of first attempts that reached the limit
-- (is_demand). Throttled requests count with the tokens they asked for.
-- Minutes are Unix minutes (see demand_minutes.sql).
--   $1 model ('' = all), $2, $3 range [from, to) or NULL
WITH sel AS MATERIALIZED (
    SELECT coalesce(model, '') AS model, epoch_us(ts) // 60000000 AS minute,
           -- a record with only total_tokens counts them as input
           CASE WHEN coalesce(prompt_tokens, 0) + coalesce(completion_tokens, 0) = 0 THEN coalesce(total_tokens, 0)
                ELSE greatest(coalesce(prompt_tokens, 0) - coalesce(cached_tokens, 0), 0) END AS uncached,
           least(coalesce(cached_tokens, 0), coalesce(prompt_tokens, 0)) AS cached,
           coalesce(completion_tokens, 0) AS output
    FROM records
    WHERE is_demand(attempt, outcome)
      AND ($1 = '' OR model = $1)
      AND ($2::TIMESTAMPTZ IS NULL OR ts >= $2::TIMESTAMPTZ)
      AND ($3::TIMESTAMPTZ IS NULL OR ts < $3::TIMESTAMPTZ)
), agg AS (
    SELECT model, minute, sum(uncached) AS uncached, sum(cached) AS cached, sum(output) AS output,
           count(*) AS requests
    FROM sel GROUP BY ALL
), span AS (
    SELECT coalesce(epoch_us($2::TIMESTAMPTZ) // 60000000, min(minute)) AS lo,
           coalesce((epoch_us($3::TIMESTAMPTZ) - 1) // 60000000, max(minute)) AS hi
    FROM agg
), grid AS (
    SELECT m.model, g.range AS minute
    FROM (SELECT DISTINCT model FROM agg) m, span, range(span.lo, span.hi + 1) g
)
SELECT g.model, g.minute, coalesce(a.uncached, 0), coalesce(a.cached, 0), coalesce(a.output, 0),
       coalesce(a.requests, 0)
FROM grid g LEFT JOIN agg a USING (model, minute)
ORDER BY g.model, g.minute;

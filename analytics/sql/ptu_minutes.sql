-- Per-minute demand per model, zero-filled over the range, for PTU
-- planning: uncached input (prompt - cached), cached input and output
-- tokens, and requests, of first attempts that reached the limit
-- (is_demand). Throttled requests count with the tokens they asked for.
--   $1 model ('' = all), $2, $3 range [from, to) or NULL
WITH sel AS (
    SELECT coalesce(model, '') AS model, date_trunc('minute', ts) AS minute,
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
), span AS (
    SELECT coalesce(date_trunc('minute', $2::TIMESTAMPTZ), min(minute)) AS lo,
           coalesce(date_trunc('minute', $3::TIMESTAMPTZ - INTERVAL 1 MICROSECOND), max(minute)) AS hi
    FROM sel
), agg AS (
    SELECT model, minute, sum(uncached) AS uncached, sum(cached) AS cached, sum(output) AS output,
           count(*) AS requests
    FROM sel GROUP BY ALL
), grid AS (
    SELECT m.model, g.range AS minute
    FROM (SELECT DISTINCT model FROM sel) m, span, range(span.lo, span.hi + INTERVAL 1 MINUTE, INTERVAL 1 MINUTE) g
)
SELECT g.model, g.minute, coalesce(a.uncached, 0), coalesce(a.cached, 0), coalesce(a.output, 0),
       coalesce(a.requests, 0)
FROM grid g LEFT JOIN agg a USING (model, minute)
ORDER BY g.model, g.minute;

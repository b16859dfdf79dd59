-- Per-minute demand statistics of every consumer over the zero-filled
-- minutes of the range (every consumer shares the range: the first to the
-- last minute with any demand, or [$3, $4) when given). Percentiles are
-- quantile_cont (linear interpolation between minutes).
--   $1 dimension (see dim_key), $2 model ('' = all), $3, $4 range or NULL
WITH sel AS (
    SELECT dim_key($1, counter_key, subscription_id, product, team, model) AS key,
           date_trunc('minute', ts) AS minute, coalesce(total_tokens, 0) AS tokens,
           team, product, limit_tpm
    FROM records
    WHERE is_demand(attempt, outcome)
      AND ($2 = '' OR model = $2)
      AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
      AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ)
), span AS (
    SELECT coalesce(date_trunc('minute', $3::TIMESTAMPTZ), min(minute)) AS lo,
           coalesce(date_trunc('minute', $4::TIMESTAMPTZ - INTERVAL 1 MICROSECOND), max(minute)) AS hi
    FROM sel
), minutes AS (
    SELECT key, minute, sum(tokens) AS tokens FROM sel GROUP BY ALL
), keys AS (
    SELECT key, mode(team) AS team, mode(product) AS product,
           max(coalesce(limit_tpm, 0)) AS limit_tpm, count(*) AS requests, sum(tokens) AS tokens
    FROM sel GROUP BY key
), grid AS (
    SELECT k.key, g.range AS minute FROM keys k, span, range(span.lo, span.hi + INTERVAL 1 MINUTE, INTERVAL 1 MINUTE) g
), filled AS (
    SELECT g.key, coalesce(m.tokens, 0) AS tokens
    FROM grid g LEFT JOIN minutes m ON m.key = g.key AND m.minute = g.minute
)
SELECT k.key, coalesce(k.team, ''), coalesce(k.product, ''), k.limit_tpm, k.requests, k.tokens,
       count(*) AS minutes,
       quantile_cont(f.tokens, 0.50), quantile_cont(f.tokens, 0.95), quantile_cont(f.tokens, 0.99),
       max(f.tokens), avg(f.tokens)
FROM keys k JOIN filled f USING (key)
GROUP BY ALL
ORDER BY k.key;

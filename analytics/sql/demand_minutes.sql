-- Zero-filled per-minute token series, one per value of a dimension.
--   $1 dimension: 'counter_key' | 'subscription' | 'product' | 'team' | 'model'
--   $2 model filter ('' = every model)
--   $3, $4 time range [from, to) (NULL = the data's first and last minute)
-- demand_tokens: tokens asked for by first attempts (attempt NULL, 0 or 1) of
--   every request that reached the token limit: served requests count their
--   usage, throttled ones (429/403) the tokens they asked for. Retries are left
--   out so a client that retries five times is one request of demand.
-- served_tokens: total_tokens of requests answered 'ok' (any attempt).
-- limit_tpm: the largest limit recorded for the key (0 when none).
WITH sel AS (
    SELECT date_trunc('minute', ts) AS minute,
           dim_key($1, counter_key, subscription_id, product, team, model) AS key,
           total_tokens, outcome, attempt, limit_tpm
    FROM records
    WHERE ($2 = '' OR model = $2)
      AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
      AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ)
      AND outcome NOT IN ('unauthorized', 'forbidden', 'bad_request')
), agg AS (
    SELECT key, minute,
           sum(total_tokens) FILTER (WHERE coalesce(attempt, 1) <= 1)      AS demand_tokens,
           sum(total_tokens) FILTER (WHERE outcome = 'ok')                 AS served_tokens,
           count(*) FILTER (WHERE coalesce(attempt, 1) <= 1)               AS requests,
           count(*) FILTER (WHERE outcome IN ('throttled', 'quota_exceeded')) AS throttled
    FROM sel GROUP BY ALL
), keys AS (
    SELECT key, max(coalesce(limit_tpm, 0)) AS limit_tpm FROM sel GROUP BY key
), span AS (
    SELECT coalesce(date_trunc('minute', $3::TIMESTAMPTZ), min(minute)) AS lo,
           coalesce(date_trunc('minute', $4::TIMESTAMPTZ - INTERVAL 1 MICROSECOND), max(minute)) AS hi
    FROM sel
), grid AS (
    SELECT k.key, k.limit_tpm, g.range AS minute
    FROM keys k, span, range(span.lo, span.hi + INTERVAL 1 MINUTE, INTERVAL 1 MINUTE) g
)
SELECT g.key, g.limit_tpm, g.minute,
       coalesce(a.demand_tokens, 0), coalesce(a.served_tokens, 0),
       coalesce(a.requests, 0), coalesce(a.throttled, 0)
FROM grid g LEFT JOIN agg a ON a.key = g.key AND a.minute = g.minute
ORDER BY g.key, g.minute;

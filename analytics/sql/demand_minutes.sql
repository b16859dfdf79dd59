-- Zero-filled per-minute token series, one per value of a dimension.
--   $1 dimension: 'counter_key' | 'subscription' | 'product' | 'team' | 'model'
--   $2 model filter ('' = every model)
--   $3, $4 time range [from, to) (NULL = the data's first and last minute)
--   $5, $6 a grouping (group_key's grp and dim_name) keying the series
--   instead of $1; $5 = '' for none
-- demand_tokens: tokens asked for by first attempts (attempt NULL, 0 or 1) of
--   every request that reached the token limit (is_demand): served requests
--   count their usage, throttled ones (429/403) the tokens they asked for.
--   Retries are left out so a client that retries five times is one request.
-- served_tokens: total_tokens of requests answered 'ok' (any attempt).
-- requests / throttled: first attempts, and those refused (429 or 403), so
--   throttled / requests is the share of requests whose first attempt was
--   refused; retries / retries_throttled: later attempts, and those refused.
-- refused_tokens: the tokens the refused first attempts asked for (part of
--   demand_tokens).
-- limit_tpm: the largest limit recorded for the key (0 when none).
-- Minutes are Unix minutes (epoch_us // 60,000,000): UTC, whatever the
-- session time zone, and cheaper than date_trunc on TIMESTAMPTZ.
WITH sel AS MATERIALIZED (
    SELECT epoch_us(ts) // 60000000 AS minute,
           CASE WHEN $5 = '' THEN dim_key($1, counter_key, subscription_id, product, team, model)
                ELSE group_key($5, $6, subscription_id, product, team, user_id, dims) END AS key,
           total_tokens, outcome, attempt, limit_tpm
    FROM records
    WHERE ($2 = '' OR model = $2)
      AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
      AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ)
      AND coalesce(outcome, '') NOT IN ('unauthorized', 'forbidden', 'bad_request')
), agg AS (
    SELECT key, minute,
           sum(total_tokens) FILTER (WHERE coalesce(attempt, 1) <= 1)      AS demand_tokens,
           sum(total_tokens) FILTER (WHERE outcome = 'ok')                 AS served_tokens,
           count(*) FILTER (WHERE coalesce(attempt, 1) <= 1)               AS requests,
           count(*) FILTER (WHERE coalesce(attempt, 1) <= 1
                              AND outcome IN ('throttled', 'quota_exceeded'))       AS throttled,
           sum(total_tokens) FILTER (WHERE coalesce(attempt, 1) <= 1
                              AND outcome IN ('throttled', 'quota_exceeded'))       AS refused_tokens,
           count(*) FILTER (WHERE attempt > 1)                             AS retries,
           count(*) FILTER (WHERE attempt > 1
                              AND outcome IN ('throttled', 'quota_exceeded'))       AS retries_throttled,
           max(coalesce(limit_tpm, 0))                                     AS limit_tpm
    FROM sel GROUP BY ALL
), keys AS (
    SELECT key, max(limit_tpm) AS limit_tpm FROM agg GROUP BY key
), span AS (
    SELECT coalesce(epoch_us($3::TIMESTAMPTZ) // 60000000, min(minute)) AS lo,
           coalesce((epoch_us($4::TIMESTAMPTZ) - 1) // 60000000, max(minute)) AS hi
    FROM agg
), grid AS (
    SELECT k.key, k.limit_tpm, g.range AS minute
    FROM keys k, span, range(span.lo, span.hi + 1) g
)
SELECT g.key, g.limit_tpm, g.minute,
       coalesce(a.demand_tokens, 0), coalesce(a.served_tokens, 0),
       coalesce(a.requests, 0), coalesce(a.throttled, 0),
       coalesce(a.retries, 0), coalesce(a.retries_throttled, 0), coalesce(a.refused_tokens, 0)
FROM grid g LEFT JOIN agg a ON a.key = g.key AND a.minute = g.minute
ORDER BY g.key, g.minute;

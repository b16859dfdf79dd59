-- Per consumer, the quantiles of requests per minute and of tokens per
-- minute (first attempts, demand: what was asked for, served or not) over
-- every minute of [$1, $2) (epoch seconds), zero-filled, and the tokens per
-- day. Consumers are as in fit_base.
WITH span AS (
    SELECT CAST($1 // 60 AS BIGINT) AS lo, CAST(($2 - 1) // 60 AS BIGINT) AS hi
), per AS (
    SELECT consumer, CAST(t // 60 AS BIGINT) AS minute, count(*) AS requests, sum(total_tokens) AS tokens
    FROM fit_base WHERE NOT is_retry GROUP BY ALL
), consumers AS (
    SELECT DISTINCT consumer FROM per
), grid AS (
    SELECT c.consumer, g.range AS minute FROM consumers c, span, range(span.lo, span.hi + 1) g
), filled AS (
    SELECT g.consumer, coalesce(p.requests, 0) AS requests, coalesce(p.tokens, 0) AS tokens
    FROM grid g LEFT JOIN per p USING (consumer, minute)
)
SELECT consumer,
    quantile_cont(requests, [0.5, 0.95, 0.99]) AS rpm,
    quantile_cont(tokens, [0.5, 0.95, 0.99]) AS tpm,
    sum(tokens) * 86400.0 / ($2 - $1) AS tokens_per_day
FROM filled
GROUP BY consumer
ORDER BY consumer;

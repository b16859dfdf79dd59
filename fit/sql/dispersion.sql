-- Each consumer's index of dispersion of arrivals per minute: the variance
-- of its requests per minute over their mean, each minute compared with
-- the mean of its shape bin (as in bins.sql: $1 origin, $2 bin width, $3
-- bins per day or 0), so the daily curve does not count as burstiness.
-- Minutes of [$4, $5) (epoch seconds) are zero-filled. 1 for a Poisson
-- process; for a renewal process it tends to the squared variation of the
-- gaps.
WITH span AS (
    SELECT CAST($4 // 60 AS BIGINT) AS lo, CAST(($5 - 1) // 60 AS BIGINT) AS hi
), per AS (
    SELECT consumer, CAST(t // 60 AS BIGINT) AS minute, count(*) AS n
    FROM fit_base WHERE NOT is_retry GROUP BY ALL
), grid AS (
    SELECT c.consumer, g.range AS minute
    FROM (SELECT DISTINCT consumer FROM per) c, span, range(span.lo, span.hi + 1) g
), binned AS (
    SELECT g.consumer, coalesce(p.n, 0) AS n,
        CASE WHEN $3 > 0 THEN CAST(floor((g.minute * 60 - $1) / $2) AS BIGINT) % $3
             ELSE CAST(floor((g.minute * 60 - $1) / $2) AS BIGINT) END AS bin
    FROM grid g LEFT JOIN per p USING (consumer, minute)
), stats AS (
    SELECT consumer, bin, avg(n) AS mu, var_pop(n) AS v, count(*) AS m FROM binned GROUP BY ALL
)
SELECT consumer, sum(v * m) / nullif(sum(mu * m), 0) AS dispersion
FROM stats GROUP BY consumer ORDER BY consumer;

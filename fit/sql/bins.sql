-- Arrivals (first attempts) per consumer and shape bin. $1 is the origin
-- of the bins (epoch seconds), $2 the bin width in seconds, $3 the number
-- of bins a day has (24) or 0 when the period is shorter than a day (bins
-- then split the period).
SELECT consumer,
    CASE WHEN $3 > 0 THEN CAST(floor((t - $1) / $2) AS BIGINT) % $3
         ELSE CAST(floor((t - $1) / $2) AS BIGINT) END AS bin,
    count(*) AS n
FROM fit_base WHERE NOT is_retry
GROUP BY ALL
ORDER BY consumer, bin;

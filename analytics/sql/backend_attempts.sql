-- Every backend attempt of the records with ts in [$1, $2) (either bound
-- NULL: open), per backend: the attempts, those refused with 429, those
-- that failed (5xx, or no answer: status 0), and of those refusals and
-- failures the ones tried again on the pool (not the request's last
-- attempt): spill-over.
WITH att AS (
    SELECT backend_attempts[i] AS a, i, len(backend_attempts) AS n
    FROM (
        SELECT backend_attempts, generate_subscripts(backend_attempts, 1) AS i
        FROM records
        WHERE backend_attempts IS NOT NULL
          AND ($1::TIMESTAMPTZ IS NULL OR ts >= $1::TIMESTAMPTZ)
          AND ($2::TIMESTAMPTZ IS NULL OR ts < $2::TIMESTAMPTZ)
    )
)
SELECT a.backend,
       count(*) AS attempts,
       count(*) FILTER (WHERE a.status = 429) AS refused,
       count(*) FILTER (WHERE a.status = 0 OR a.status >= 500) AS failed,
       count(*) FILTER (WHERE i < n AND (a.status = 429 OR a.status = 0 OR a.status >= 500)) AS retried
FROM att
GROUP BY a.backend
ORDER BY a.backend;

-- The utilization provisioned backends reported with their answers
-- (utilization_pct, from azure-openai-deployment-utilization), records
-- with ts in [$1, $2) (either bound NULL: open): per backend, the answers
-- that carried it, their average and 95th percentile (nearest rank), in
-- percent.
SELECT backend, count(*) AS answers, avg(utilization_pct) AS avg_pct,
       quantile_disc(utilization_pct, 0.95) AS p95_pct
FROM records
WHERE utilization_pct IS NOT NULL AND coalesce(backend, '') <> ''
  AND ($1::TIMESTAMPTZ IS NULL OR ts >= $1::TIMESTAMPTZ)
  AND ($2::TIMESTAMPTZ IS NULL OR ts < $2::TIMESTAMPTZ)
GROUP BY backend
ORDER BY backend;

-- The dimension names (dims keys) of the requests answered ok in a period,
-- sorted: what a grouping by a dimension may name.
--   $1, $2 period [start, end)
SELECT DISTINCT k
FROM (SELECT unnest(map_keys(dims)) AS k
      FROM records
      WHERE outcome = 'ok' AND ts >= $1 AND ts < $2 AND dims IS NOT NULL)
ORDER BY k;

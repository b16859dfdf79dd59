-- The consumers of a recommendation: every value of the dimension among
-- demand records (is_demand), with its hash (to match replay_events.sql),
-- the most frequent team and product, the largest recorded limit, the
-- number of its demand events, and the range of minutes shared by all
-- consumers ([$3, $4) when given, else the first to the last minute with
-- demand), as Unix minutes.
--   $1 dimension (see dim_key), $2 model ('' = all), $3, $4 range or NULL
WITH sel AS (
    SELECT dim_key($1, counter_key, subscription_id, product, team, model) AS key,
           ts, team, product, limit_tpm
    FROM records
    WHERE is_demand(attempt, outcome)
      AND ($2 = '' OR model = $2)
      AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
      AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ)
), keys AS (
    SELECT key, hash(key) AS h, coalesce(mode(team), '') AS team, coalesce(mode(product), '') AS product,
           max(coalesce(limit_tpm, 0)) AS limit_tpm, count(*) AS events, min(ts) AS first, max(ts) AS last
    FROM sel GROUP BY key
)
SELECT key, h, team, product, limit_tpm, events,
       coalesce(epoch_us($3::TIMESTAMPTZ) // 60000000, epoch_us(min(first) OVER ()) // 60000000) AS lo_minute,
       coalesce((epoch_us($4::TIMESTAMPTZ) - 1) // 60000000, epoch_us(max(last) OVER ()) // 60000000) AS hi_minute
FROM keys
ORDER BY key;

-- How each persona's callers reacted to 429s, from the attempts logged
-- (records of an aiload run carry persona and attempt), among the records
-- of model $1 ('' = all) in [$2, $3) (NULL = open). Per persona (with its
-- hash, as replay_events.sql computes it): first attempts refused with
-- 429, retries (attempt >= 2), the largest attempt, whether a refused
-- attempt at that largest number exists (it was not retried: the retry
-- budget is exact), and for the retries matched to the 429 they followed
-- (same run, persona, user and subscription, the previous attempt number,
-- the latest such 429 before it): the share sent the Retry-After after the
-- 429 answered (±100 ms or 5%), the mean wait of second attempts and the
-- largest wait (ms). Refusals and retries are few; each is read on its
-- own so the scan of every record reads three columns.
--   $1 model, $2, $3 range or NULL
WITH per AS (
    SELECT persona,
           count(*) FILTER (WHERE coalesce(attempt, 1) <= 1 AND status = 429) AS first_throttled,
           count(*) FILTER (WHERE attempt >= 2) AS retries,
           max(coalesce(attempt, 1)) AS max_attempt
    FROM records
    WHERE coalesce(persona, '') <> ''
      AND ($1 = '' OR model = $1)
      AND ($2::TIMESTAMPTZ IS NULL OR ts >= $2::TIMESTAMPTZ)
      AND ($3::TIMESTAMPTZ IS NULL OR ts < $3::TIMESTAMPTZ)
    GROUP BY persona
), attempts AS (
    SELECT persona, coalesce(run_id, '') AS run_id, coalesce(user_id, '') AS user_id,
           coalesce(subscription_id, '') AS sub, coalesce(attempt, 1) AS attempt, ts,
           epoch_us(ts) / 1000.0 + coalesce(latency_ms, 0) AS answered_ms,
           coalesce(retry_after_ms, 0) AS retry_after_ms, status
    FROM records
    WHERE coalesce(persona, '') <> '' AND (status = 429 OR attempt >= 2)
      AND ($1 = '' OR model = $1)
      AND ($2::TIMESTAMPTZ IS NULL OR ts >= $2::TIMESTAMPTZ)
      AND ($3::TIMESTAMPTZ IS NULL OR ts < $3::TIMESTAMPTZ)
), refused AS (
    SELECT * FROM attempts WHERE status = 429
), retries AS (
    SELECT * FROM attempts WHERE attempt >= 2
), matched AS (
    SELECT r.persona, r.attempt,
           epoch_us(r.ts) / 1000.0 - p.answered_ms AS gap_ms, p.retry_after_ms
    FROM retries r ASOF JOIN refused p
      ON r.persona = p.persona AND r.run_id = p.run_id AND r.user_id = p.user_id AND r.sub = p.sub
     AND r.attempt = p.attempt + 1 AND r.ts >= p.ts
), waits AS (
    SELECT persona,
           avg(CASE WHEN abs(gap_ms - retry_after_ms) <= greatest(100, 0.05 * retry_after_ms) THEN 1.0 ELSE 0.0 END) AS match_share,
           coalesce(avg(gap_ms) FILTER (WHERE attempt = 2), 0) AS mean_gap_ms,
           max(gap_ms) AS max_gap_ms
    FROM matched GROUP BY persona
), exhausted AS (
    SELECT DISTINCT x.persona FROM refused x JOIN per USING (persona)
    WHERE x.attempt = per.max_attempt AND x.attempt >= 2
)
SELECT per.persona, hash(per.persona) AS h, per.first_throttled, per.retries, per.max_attempt,
       e.persona IS NOT NULL AS exhausted,
       coalesce(w.match_share, 0), coalesce(w.mean_gap_ms, 0), coalesce(w.max_gap_ms, 0)
FROM per LEFT JOIN waits w USING (persona) LEFT JOIN exhausted e USING (persona)
ORDER BY per.persona;

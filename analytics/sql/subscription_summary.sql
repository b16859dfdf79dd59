-- Per-subscription summary of a run: counts by outcome (and of first
-- attempts and retries, refused or not: 429 or 403), served tokens, the
-- peak of served tokens in any sliding 60-second window (observed TPM)
-- against the limit, and latency percentiles of served requests (429s,
-- answered at once, would otherwise pull them to 0).
--
-- A token limit applies per counter key (the subscription, or a client IP,
-- a user…), so the peak is the busiest key's, against the limit that key's
-- records carried, with the number of keys the subscription used: four NAT
-- addresses under 10,000 TPM each show their busiest address against
-- 10,000, not the four together.
WITH served AS (
    SELECT subscription_id, coalesce(counter_key, '') AS counter_key, ts, total_tokens,
           sum(total_tokens) OVER (
               PARTITION BY subscription_id, coalesce(counter_key, '') ORDER BY ts
               RANGE BETWEEN INTERVAL '59.999999 seconds' PRECEDING AND CURRENT ROW) AS window_tokens
    FROM records
    WHERE outcome = 'ok'
), key_peaks AS (
    SELECT subscription_id, counter_key, max(window_tokens) AS peak_tpm FROM served GROUP BY ALL
), key_limits AS (
    SELECT subscription_id, coalesce(counter_key, '') AS counter_key, max(limit_tpm) AS limit_tpm
    FROM records GROUP BY ALL
), peaks AS (
    SELECT subscription_id,
           max(peak_tpm)                         AS peak_tpm,
           arg_max(counter_key, peak_tpm)        AS peak_key
    FROM key_peaks GROUP BY subscription_id
), keys AS (
    SELECT subscription_id, count(*) AS keys, max(limit_tpm) AS max_limit
    FROM key_limits GROUP BY subscription_id
)
SELECT r.subscription_id,
       any_value(r.team)                                          AS team,
       any_value(r.product)                                       AS product,
       count(*)                                                   AS requests,
       count(*) FILTER (WHERE r.outcome = 'ok')                   AS ok,
       count(*) FILTER (WHERE r.status = 429)                     AS throttled,
       count(*) FILTER (WHERE coalesce(r.attempt, 1) <= 1)        AS first_attempts,
       count(*) FILTER (WHERE coalesce(r.attempt, 1) <= 1
                          AND r.outcome IN ('throttled', 'quota_exceeded')) AS first_refused,
       count(*) FILTER (WHERE r.attempt > 1)                      AS retries,
       count(*) FILTER (WHERE r.attempt > 1
                          AND r.outcome IN ('throttled', 'quota_exceeded')) AS retries_refused,
       coalesce(sum(r.prompt_tokens) FILTER (WHERE r.outcome = 'ok'), 0)     AS prompt_tokens,
       coalesce(sum(r.completion_tokens) FILTER (WHERE r.outcome = 'ok'), 0) AS completion_tokens,
       coalesce(any_value(p.peak_tpm), 0)                         AS peak_tpm,
       coalesce(any_value(kl.limit_tpm), any_value(k.max_limit))  AS limit_tpm,
       coalesce(any_value(p.peak_key), '')                        AS peak_key,
       coalesce(any_value(k.keys), 0)                             AS keys,
       coalesce(quantile_cont(r.latency_ms, 0.5) FILTER (WHERE r.outcome = 'ok'), 0)  AS p50_ms,
       coalesce(quantile_cont(r.latency_ms, 0.99) FILTER (WHERE r.outcome = 'ok'), 0) AS p99_ms
FROM records r
     LEFT JOIN peaks p USING (subscription_id)
     LEFT JOIN keys k USING (subscription_id)
     LEFT JOIN key_limits kl ON kl.subscription_id = p.subscription_id AND kl.counter_key = p.peak_key
WHERE r.subscription_id IS NOT NULL AND r.subscription_id <> ''
GROUP BY r.subscription_id
ORDER BY r.subscription_id;

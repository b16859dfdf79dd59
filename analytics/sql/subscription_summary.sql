-- Per-subscription summary of a run: counts by outcome (and of first
-- attempts and retries, refused or not: 429 or 403), served tokens, the
-- peak of served tokens in any sliding 60-second window (observed TPM)
-- against the limit, and latency percentiles of served requests (429s,
-- answered at once, would otherwise pull them to 0).
WITH served AS (
    SELECT subscription_id, ts, total_tokens,
           sum(total_tokens) OVER (
               PARTITION BY subscription_id ORDER BY ts
               RANGE BETWEEN INTERVAL '59.999999 seconds' PRECEDING AND CURRENT ROW) AS window_tokens
    FROM records
    WHERE outcome = 'ok'
), peaks AS (
    SELECT subscription_id, max(window_tokens) AS peak_tpm FROM served GROUP BY subscription_id
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
       max(r.limit_tpm)                                           AS limit_tpm,
       coalesce(quantile_cont(r.latency_ms, 0.5) FILTER (WHERE r.outcome = 'ok'), 0)  AS p50_ms,
       coalesce(quantile_cont(r.latency_ms, 0.99) FILTER (WHERE r.outcome = 'ok'), 0) AS p99_ms
FROM records r LEFT JOIN peaks p USING (subscription_id)
WHERE r.subscription_id IS NOT NULL AND r.subscription_id <> ''
GROUP BY r.subscription_id
ORDER BY r.subscription_id;

-- One row per consumer of fit_base: its first attempts (arrivals) and
-- their tokens, the subscription, product, team and model it uses most,
-- the share of streamed requests, and the evidence about its reaction to
-- 429s: first attempts refused with 429, retries, the longest run of
-- retries, and the median ratio of a retry's delay to the Retry-After it
-- was given; the largest TPM limit recorded and whether a limit was keyed
-- by something else than the subscription (an IP, a user).
WITH first AS (
    SELECT * FROM fit_base WHERE NOT is_retry
), chains AS (
    -- the longest run of retries: attempt numbers when the log has them,
    -- else the most repeats of one request signature
    SELECT consumer, coalesce(max(max_attempt) - 1, least(max(n) - 1, 10)) AS longest FROM (
        SELECT consumer, max(attempt) AS max_attempt, count(*) AS n
        FROM fit_base WHERE sig IS NOT NULL
        GROUP BY consumer, user_key, model_key, sig)
    GROUP BY consumer
), retries AS (
    SELECT consumer, count(*) AS retries,
        median(gap_prev * 1000.0 / nullif(prev_retry_after_ms, 0)) AS delay_ratio,
        median(gap_prev) AS median_delay_s
    FROM fit_base WHERE is_retry GROUP BY consumer
)
SELECT f.consumer,
    count(*)                                             AS requests,
    sum(f.total_tokens)                                  AS tokens,
    mode(f.subscription_id)                              AS subscription,
    mode(f.product)                                      AS product,
    mode(f.team)                                         AS team,
    mode(f.model)                                        AS model,
    coalesce(avg(CASE WHEN f.stream THEN 1.0 ELSE 0.0 END), 0) AS stream_share,
    count(*) FILTER (WHERE f.outcome IN ('throttled', 'backend_throttled')) AS throttled,
    coalesce(any_value(r.retries), 0)                    AS retries,
    coalesce(any_value(c.longest), 0)                    AS longest_chain,
    any_value(r.delay_ratio)                             AS delay_ratio,
    any_value(r.median_delay_s)                          AS median_delay_s,
    max(f.limit_tpm)                                     AS limit_tpm,
    coalesce(bool_or(f.other_key) FILTER (WHERE f.limit_tpm > 0), false) AS other_key
FROM first f
LEFT JOIN retries r USING (consumer)
LEFT JOIN chains c USING (consumer)
GROUP BY f.consumer
ORDER BY f.consumer;

-- The records a twin is fitted from, one row per request of the period
-- [$2, $3), with its consumer ($1: 'subscription', 'user', 'ip', 'team' or,
-- for a twin's own records, 'persona': a consumer's streaming persona is
-- the consumer) and whether it is a retry. Requests refused before any
-- limit (401, 403 forbidden, 400) are left out: they are not traffic a
-- limit shapes.
--
-- A retry is a record with attempt > 1 (the load generator numbers its
-- attempts); in logs without attempt numbers (API Management, LiteLLM), a
-- request that repeats one refused with 429 up to 120 s before: the same
-- consumer, model and user, and the same request signature (the request's
-- size in bytes where the log has it, dims.request_bytes, else its prompt
-- tokens). gap_prev is the delay since that refusal and prev_retry_after_ms
-- the Retry-After it carried.
CREATE OR REPLACE TEMP TABLE fit_base AS
WITH sel AS (
    SELECT row_number() OVER () AS rid, ts, epoch(ts) AS t,
        coalesce(nullif(CASE $1 WHEN 'user' THEN user_id WHEN 'ip' THEN client_ip WHEN 'team' THEN team
                                WHEN 'persona' THEN regexp_replace(persona, ' \(streamed\)$', '')
                                ELSE subscription_id END, ''), '(none)') AS consumer,
        coalesce(user_id, '') AS user_key, coalesce(model, '') AS model_key,
        nullif(coalesce(nullif(dims['request_bytes'], ''), CAST(prompt_tokens AS VARCHAR)), '0') AS sig,
        subscription_id, product, team, model, stream, prompt_tokens, completion_tokens, total_tokens,
        coalesce(tokens_estimated, false) AS tokens_estimated, outcome, attempt, retry_after_ms, limit_tpm,
        coalesce(counter_key, subscription_id) IS DISTINCT FROM subscription_id AS other_key
    FROM records
    WHERE ts >= $2 AND ts < $3
      AND coalesce(outcome, '') NOT IN ('unauthorized', 'forbidden', 'bad_request')
), refused AS (
    SELECT consumer, user_key, model_key, sig, t AS refused_t, retry_after_ms
    FROM sel WHERE outcome IN ('throttled', 'backend_throttled') AND sig IS NOT NULL
), matched AS (
    SELECT s.rid, max(r.refused_t) AS refused_t, arg_max(r.retry_after_ms, r.refused_t) AS retry_after_ms
    FROM sel s JOIN refused r
      ON s.consumer = r.consumer AND s.user_key = r.user_key AND s.model_key = r.model_key AND s.sig = r.sig
     AND r.refused_t < s.t AND s.t - r.refused_t <= 120
    GROUP BY s.rid
)
SELECT s.*,
    CASE WHEN s.attempt IS NOT NULL AND s.attempt > 0 THEN s.attempt > 1 ELSE m.rid IS NOT NULL END AS is_retry,
    s.t - m.refused_t AS gap_prev,
    m.retry_after_ms AS prev_retry_after_ms
FROM sel s LEFT JOIN matched m USING (rid);

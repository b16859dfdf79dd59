-- Map LiteLLM's spend log (table LiteLLM_SpendLogs, exported as CSV, or the
-- JSON of GET /spend/logs or /spend/logs/v2) onto records. {{typed}} is the
-- stage's columns cast to their types; metadata, proxy_server_request and
-- messages are JSON documents whether the export wrote them as objects or
-- as text. The subscription is the hashed virtual key (api_key); the team
-- is team_id; the model is the public model group.
--
-- Cached prompt tokens are wherever the provider's usage put them:
-- metadata.additional_usage_values (OpenAI's prompt_tokens_details.
-- cached_tokens, Anthropic's cache_read_input_tokens), else the same in
-- metadata.usage_object. A failed request carries its HTTP code in
-- metadata.error_information.error_code. A request refused with 429 is
-- demand: when it counted no tokens and the request was logged
-- (proxy_server_request or messages), its tokens are estimated from the
-- messages' size and max_tokens, flagged tokens_estimated.
INSERT INTO records
WITH typed AS (
    SELECT {{typed}} FROM stage
), src AS (
    SELECT t.*,
        TRY_CAST(json_extract_string(t.metadata, '$.error_information.error_code') AS INTEGER) AS err_code,
        json_extract_string(t.metadata, '$.error_information.error_class') AS err_class,
        coalesce(
            nullif(TRY_CAST(json_extract_string(t.metadata, '$.additional_usage_values.prompt_tokens_details.cached_tokens') AS BIGINT), 0),
            nullif(TRY_CAST(json_extract_string(t.metadata, '$.additional_usage_values.cache_read_input_tokens') AS BIGINT), 0),
            nullif(TRY_CAST(json_extract_string(t.metadata, '$.usage_object.prompt_tokens_details.cached_tokens') AS BIGINT), 0),
            nullif(TRY_CAST(json_extract_string(t.metadata, '$.usage_object.cache_read_input_tokens') AS BIGINT), 0),
            0) AS cached,
        coalesce(lower(t.status), 'success') = 'success' AS ok,
        length(CAST(coalesce(json_extract(t.proxy_server_request, '$.messages'),
                             CASE WHEN t.messages NOT IN ('{}', '[]') THEN t.messages END) AS VARCHAR)) AS msg_bytes,
        body_max_tokens(t.proxy_server_request) AS max_tokens
    FROM typed t
), classified AS (
    SELECT s.*,
        CASE WHEN s.ok THEN 200 ELSE coalesce(s.err_code, 500) END AS code,
        CASE WHEN s.ok THEN 'ok'
             WHEN s.err_code = 429 THEN 'throttled'
             WHEN s.err_code = 401 THEN 'unauthorized'
             WHEN s.err_code = 403 THEN 'forbidden'
             WHEN s.err_code = 408 OR s.err_class = 'Timeout' THEN 'timeout'
             WHEN s.err_code BETWEEN 400 AND 499 THEN 'bad_request'
             ELSE 'backend_error' END AS result
    FROM src s
), counted AS (
    SELECT c.*,
        c.result = 'throttled' AND coalesce(c.total_tokens, 0) = 0 AND coalesce(c.msg_bytes, 0) > 0 AS estimated
    FROM classified c
)
SELECT DISTINCT ON (s.request_id)
    1                                                   AS schema,
    s.startTime                                         AS ts,
    s.request_id,
    NULL                                                AS run_id,
    NULL                                                AS gateway_id,
    s.api_key                                           AS subscription_id,
    NULL                                                AS product,
    nullif(s.team_id, '')                               AS team,
    coalesce(nullif(s.end_user, ''), nullif(s."user", '')) AS user_id,
    nullif(s.requester_ip_address, '')                  AS client_ip,
    s.api_key                                           AS counter_key,
    s.call_type                                         AS api,
    coalesce(nullif(s.model_group, ''), s.model)        AS model,
    coalesce(nullif(s.api_base, ''), nullif(s.custom_llm_provider, '')) AS backend,
    NULL                                                AS backend_tier,
    CASE WHEN s.estimated THEN bytes_to_tokens(s.msg_bytes) ELSE coalesce(s.prompt_tokens, 0) END AS prompt_tokens,
    CASE WHEN s.estimated THEN coalesce(s.max_tokens, 0) ELSE coalesce(s.completion_tokens, 0) END AS completion_tokens,
    CASE WHEN s.estimated THEN bytes_to_tokens(s.msg_bytes) + coalesce(s.max_tokens, 0)
         ELSE coalesce(s.total_tokens, coalesce(s.prompt_tokens, 0) + coalesce(s.completion_tokens, 0)) END AS total_tokens,
    s.cached                                            AS cached_tokens,
    s.estimated                                         AS tokens_estimated,
    s.code                                              AS status,
    s.result                                            AS outcome,
    NULL AS limit_tpm, NULL AS remaining_tokens, NULL AS remaining_quota_tokens, NULL AS retry_after_ms,
    coalesce(s.request_duration_ms, epoch_ms(s.endTime) - epoch_ms(s.startTime)) AS latency_ms,
    NULL                                                AS backend_latency_ms,
    epoch_ms(s.completionStartTime) - epoch_ms(s.startTime) AS ttft_ms,
    NULL                                                AS stream,
    NULL AS scenario, NULL AS persona, NULL AS attempt,
    MAP {'source': 'litellm', 'spend': coalesce(CAST(s.spend AS VARCHAR), '')} AS dims,
    NULL                                                AS utilization_pct,
    NULL                                                AS backend_auth,
    NULL                                                AS operation,
    NULL                                                AS backend_attempts,
    NULL                                                AS cache_prompt_tokens,
    NULL                                                AS cache_completion_tokens,
    NULL                                                AS embedding_tokens,
    NULL                                                AS embedding_model
FROM counted s
ANTI JOIN records r ON r.request_id = s.request_id
WHERE s.request_id IS NOT NULL AND s.startTime IS NOT NULL;

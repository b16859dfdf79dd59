-- Map LiteLLM's spend log (table LiteLLM_SpendLogs, exported as CSV or as the
-- JSON of GET /spend/logs) onto records. The subscription is the hashed
-- virtual key (api_key); the team is team_id; the model is the public model
-- group. Failed requests carry their HTTP code in
-- metadata.error_information.error_code when LiteLLM recorded one.
INSERT INTO records
WITH src AS (
    SELECT s.*,
           TRY_CAST(json_extract_string(CAST(s.metadata AS JSON), '$.error_information.error_code') AS INTEGER) AS err_code,
           TRY_CAST(json_extract_string(CAST(s.metadata AS JSON), '$.additional_usage_values.prompt_tokens_details.cached_tokens') AS BIGINT) AS cached
    FROM stage s
)
SELECT DISTINCT ON (s.request_id)
    1                                                   AS schema,
    CAST(s.startTime AS TIMESTAMPTZ)                    AS ts,
    CAST(s.request_id AS VARCHAR)                       AS request_id,
    NULL                                                AS run_id,
    NULL                                                AS gateway_id,
    CAST(s.api_key AS VARCHAR)                          AS subscription_id,
    NULL                                                AS product,
    CAST(nullif(CAST(s.team_id AS VARCHAR), '') AS VARCHAR) AS team,
    CAST(coalesce(nullif(CAST(s.end_user AS VARCHAR), ''), nullif(CAST(s."user" AS VARCHAR), '')) AS VARCHAR) AS user_id,
    CAST(s.requester_ip_address AS VARCHAR)             AS client_ip,
    CAST(s.api_key AS VARCHAR)                          AS counter_key,
    CAST(s.call_type AS VARCHAR)                        AS api,
    CAST(coalesce(nullif(CAST(s.model_group AS VARCHAR), ''), s.model) AS VARCHAR) AS model,
    CAST(coalesce(nullif(CAST(s.api_base AS VARCHAR), ''), s.custom_llm_provider) AS VARCHAR) AS backend,
    NULL                                                AS backend_tier,
    coalesce(CAST(s.prompt_tokens AS BIGINT), 0)        AS prompt_tokens,
    coalesce(CAST(s.completion_tokens AS BIGINT), 0)    AS completion_tokens,
    coalesce(CAST(s.total_tokens AS BIGINT), 0)         AS total_tokens,
    coalesce(s.cached, 0)                               AS cached_tokens,
    false                                               AS tokens_estimated,
    CASE WHEN coalesce(lower(CAST(s.status AS VARCHAR)), 'success') = 'success' THEN 200
         ELSE coalesce(s.err_code, 500) END             AS status,
    CASE WHEN coalesce(lower(CAST(s.status AS VARCHAR)), 'success') = 'success' THEN 'ok'
         WHEN s.err_code = 429 THEN 'throttled'
         WHEN s.err_code = 401 THEN 'unauthorized'
         WHEN s.err_code = 403 THEN 'forbidden'
         WHEN s.err_code BETWEEN 400 AND 499 THEN 'bad_request'
         ELSE 'backend_error' END                       AS outcome,
    NULL AS limit_tpm, NULL AS remaining_tokens, NULL AS remaining_quota_tokens, NULL AS retry_after_ms,
    coalesce(CAST(s.request_duration_ms AS DOUBLE),
             epoch_ms(CAST(s.endTime AS TIMESTAMPTZ)) - epoch_ms(CAST(s.startTime AS TIMESTAMPTZ))) AS latency_ms,
    NULL                                                AS backend_latency_ms,
    epoch_ms(CAST(s.completionStartTime AS TIMESTAMPTZ)) - epoch_ms(CAST(s.startTime AS TIMESTAMPTZ)) AS ttft_ms,
    NULL                                                AS stream,
    NULL AS scenario, NULL AS persona, NULL AS attempt,
    MAP {'source': 'litellm', 'spend': coalesce(CAST(s.spend AS VARCHAR), '')} AS dims
FROM src s
ANTI JOIN records r ON r.request_id = CAST(s.request_id AS VARCHAR)
WHERE s.request_id IS NOT NULL AND s.startTime IS NOT NULL;

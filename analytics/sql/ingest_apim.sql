-- Map API Management's LLM log (ApiManagementGatewayLlmLog), joined in Log
-- Analytics to ApiManagementGatewayLogs on CorrelationId, onto records (see
-- docs/ingest.md for the KQL; the two tables may also be exported and
-- ingested separately, in any order). {{typed}} is the stage's columns
-- cast to their types.
--
-- One request can have several LLM log rows (SequenceNumber 0, 1, …: long
-- messages are split, and the request and its response are logged apart);
-- only one of them carries the token counts. A request is one record: the
-- first row's time, the counts of the row that carries them, the model of
-- any row. A request the gateway refused (429 from a token limit, 403 from
-- a quota) reached no backend: its backend is NULL and its tokens are the
-- demand it brought, estimated from the request's size (and max_tokens
-- when the body was logged), flagged tokens_estimated.
INSERT INTO records
WITH typed AS (
    SELECT {{typed}} FROM stage
), joined AS (
    -- the export's own gateway columns, else those of a gateway log
    -- ingested earlier (apim_gateway_logs)
    SELECT t.* REPLACE (
        coalesce(t.ApimSubscriptionId, g.ApimSubscriptionId) AS ApimSubscriptionId,
        coalesce(t.ProductId, g.ProductId) AS ProductId,
        coalesce(t.Team, g.Team) AS Team,
        coalesce(t.UserId, g.UserId) AS UserId,
        coalesce(t.CallerIpAddress, g.CallerIpAddress) AS CallerIpAddress,
        coalesce(t.ApiId, g.ApiId) AS ApiId,
        coalesce(t.BackendId, g.BackendId) AS BackendId,
        coalesce(t.BackendTier, g.BackendTier) AS BackendTier,
        coalesce(t.ResponseCode, g.ResponseCode) AS ResponseCode,
        coalesce(t.BackendResponseCode, g.BackendResponseCode) AS BackendResponseCode,
        coalesce(t.TotalTime, g.TotalTime) AS TotalTime,
        coalesce(t.BackendTime, g.BackendTime) AS BackendTime,
        coalesce(t.Url, g.Url) AS Url,
        coalesce(t.RequestSize, g.RequestSize) AS RequestSize),
        coalesce(body_max_tokens(t.RequestBody), g.MaxTokens) AS MaxTokens
    FROM typed t LEFT JOIN apim_gateway_logs g ON g.CorrelationId = t.CorrelationId
), req AS (
    SELECT CorrelationId,
        min(TimeGenerated)                          AS ts,
        any_value(nullif(Region, ''))               AS region,
        any_value(nullif(ApimSubscriptionId, ''))   AS subscription,
        any_value(nullif(ProductId, ''))            AS product,
        any_value(nullif(Team, ''))                 AS team,
        any_value(nullif(UserId, ''))               AS user_id,
        any_value(nullif(CallerIpAddress, ''))      AS client_ip,
        any_value(nullif(ApiId, ''))                AS api,
        any_value(nullif(BackendId, ''))            AS backend_id,
        any_value(nullif(lower(BackendTier), ''))   AS backend_tier,
        any_value(nullif(ModelName, ''))            AS model_name,
        coalesce(any_value(nullif(DeploymentName, '')),
                 any_value(nullif(regexp_extract(Url, '/deployments/([^/?]+)', 1), ''))) AS deployment,
        max(PromptTokens)                           AS prompt,
        max(CompletionTokens)                       AS completion,
        max(TotalTokens)                            AS total,
        bool_or(IsStreamCompletion)                 AS stream,
        any_value(ResponseCode)                     AS code,
        any_value(BackendResponseCode)              AS backend_code,
        any_value(TotalTime)                        AS total_time,
        any_value(BackendTime)                      AS backend_time,
        max(RequestSize)                            AS request_size,
        max(MaxTokens)                              AS max_tokens,
        count(nullif(ModelName, '')) + count(nullif(DeploymentName, '')) + count(PromptTokens) + count(TotalTokens) AS llm_values
    FROM joined
    WHERE CorrelationId IS NOT NULL AND TimeGenerated IS NOT NULL
    GROUP BY CorrelationId
), counted AS (
    SELECT r.*,
        apim_estimated(code, backend_code, coalesce(total, prompt), request_size) AS estimated,
        coalesce(prompt, 0) AS p, coalesce(completion, 0) AS c
    FROM req r
    -- a row without any LLM log value is a gateway request that was no
    -- LLM call, unless the gateway refused it (demand that never reached
    -- a backend) or it failed
    WHERE llm_values > 0 OR coalesce(code, 200) >= 400
)
SELECT
    1                                                   AS schema,
    s.ts,
    s.CorrelationId                                     AS request_id,
    NULL                                                AS run_id,
    s.region                                            AS gateway_id,
    s.subscription                                      AS subscription_id,
    s.product,
    coalesce(s.team, s.product, s.subscription)         AS team,
    s.user_id,
    s.client_ip,
    s.subscription                                      AS counter_key,
    s.api,
    coalesce(s.model_name, s.deployment)                AS model,
    coalesce(s.backend_id, CASE WHEN NOT apim_refused(s.code, s.backend_code) THEN s.deployment END) AS backend,
    s.backend_tier,
    CASE WHEN s.estimated THEN bytes_to_tokens(s.request_size) ELSE s.p END AS prompt_tokens,
    CASE WHEN s.estimated THEN coalesce(s.max_tokens, 0) ELSE s.c END AS completion_tokens,
    CASE WHEN s.estimated THEN bytes_to_tokens(s.request_size) + coalesce(s.max_tokens, 0)
         ELSE coalesce(s.total, s.p + s.c) END          AS total_tokens,
    0                                                   AS cached_tokens,
    s.estimated                                         AS tokens_estimated,
    coalesce(s.code, 200)                               AS status,
    apim_outcome(s.code, s.backend_code)                AS outcome,
    NULL AS limit_tpm, NULL AS remaining_tokens, NULL AS remaining_quota_tokens, NULL AS retry_after_ms,
    s.total_time                                        AS latency_ms,
    s.backend_time                                      AS backend_latency_ms,
    NULL                                                AS ttft_ms,
    s.stream,
    NULL AS scenario, NULL AS persona, NULL AS attempt,
    MAP {'source': 'apim', 'deployment': coalesce(s.deployment, ''),
         'request_bytes': coalesce(CAST(s.request_size AS VARCHAR), '')} AS dims,
    NULL                                                AS utilization_pct,
    NULL                                                AS backend_auth,
    NULL                                                AS operation,
    NULL                                                AS backend_attempts,
    NULL                                                AS cache_prompt_tokens,
    NULL                                                AS cache_completion_tokens,
    NULL                                                AS embedding_tokens,
    NULL                                                AS embedding_model
FROM counted s
ANTI JOIN records r ON r.request_id = s.CorrelationId;

-- Map API Management's LLM log (ApiManagementGatewayLlmLog), joined in Log
-- Analytics to ApiManagementGatewayLogs on CorrelationId, onto records.
-- One request can have several LLM log rows (SequenceNumber 0, 1, …: long
-- messages are split); the row with the lowest SequenceNumber carries the
-- request. See docs/ingest.md for the KQL that produces this export; the
-- two tables may also be exported and ingested separately (in any order).
INSERT INTO records
SELECT DISTINCT ON (s.CorrelationId)
    1                                                   AS schema,
    CAST(s.TimeGenerated AS TIMESTAMPTZ)                AS ts,
    CAST(s.CorrelationId AS VARCHAR)                    AS request_id,
    NULL                                                AS run_id,
    CAST(s.Region AS VARCHAR)                           AS gateway_id,
    CAST(s.ApimSubscriptionId AS VARCHAR)               AS subscription_id,
    CAST(s.ProductId AS VARCHAR)                        AS product,
    CAST(coalesce(nullif(CAST(s.Team AS VARCHAR), ''), s.ProductId, s.ApimSubscriptionId) AS VARCHAR) AS team,
    CAST(s.UserId AS VARCHAR)                           AS user_id,
    CAST(s.CallerIpAddress AS VARCHAR)                  AS client_ip,
    CAST(s.ApimSubscriptionId AS VARCHAR)               AS counter_key,
    CAST(s.ApiId AS VARCHAR)                            AS api,
    CAST(coalesce(nullif(CAST(s.ModelName AS VARCHAR), ''), s.DeploymentName) AS VARCHAR) AS model,
    CAST(coalesce(nullif(CAST(s.BackendId AS VARCHAR), ''), s.DeploymentName) AS VARCHAR) AS backend,
    CAST(nullif(lower(CAST(s.BackendTier AS VARCHAR)), '') AS VARCHAR) AS backend_tier,
    coalesce(CAST(s.PromptTokens AS BIGINT), 0)         AS prompt_tokens,
    coalesce(CAST(s.CompletionTokens AS BIGINT), 0)     AS completion_tokens,
    coalesce(CAST(s.TotalTokens AS BIGINT),
             coalesce(CAST(s.PromptTokens AS BIGINT), 0) + coalesce(CAST(s.CompletionTokens AS BIGINT), 0)) AS total_tokens,
    0                                                   AS cached_tokens,
    false                                               AS tokens_estimated,
    coalesce(CAST(s.ResponseCode AS INTEGER), 200)      AS status,
    CASE
        WHEN coalesce(CAST(s.ResponseCode AS INTEGER), 200) BETWEEN 200 AND 299 THEN 'ok'
        WHEN CAST(s.ResponseCode AS INTEGER) = 429 AND coalesce(CAST(s.BackendResponseCode AS INTEGER), 0) = 429 THEN 'backend_throttled'
        WHEN CAST(s.ResponseCode AS INTEGER) = 429 THEN 'throttled'
        WHEN CAST(s.ResponseCode AS INTEGER) = 401 THEN 'unauthorized'
        WHEN CAST(s.ResponseCode AS INTEGER) = 403 THEN 'quota_exceeded'
        WHEN CAST(s.ResponseCode AS INTEGER) BETWEEN 400 AND 499 THEN 'bad_request'
        ELSE 'backend_error'
    END                                                 AS outcome,
    NULL AS limit_tpm, NULL AS remaining_tokens, NULL AS remaining_quota_tokens, NULL AS retry_after_ms,
    CAST(s.TotalTime AS DOUBLE)                         AS latency_ms,
    CAST(s.BackendTime AS DOUBLE)                       AS backend_latency_ms,
    NULL                                                AS ttft_ms,
    CAST(s.IsStreamCompletion AS BOOLEAN)               AS stream,
    NULL AS scenario, NULL AS persona, NULL AS attempt,
    MAP {'source': 'apim', 'deployment': coalesce(CAST(s.DeploymentName AS VARCHAR), '')} AS dims
FROM (
    -- the export's own gateway columns, else those of a gateway log
    -- ingested earlier (apim_gateway_logs)
    SELECT st.* REPLACE (
        coalesce(CAST(st.ApimSubscriptionId AS VARCHAR), g.ApimSubscriptionId) AS ApimSubscriptionId,
        coalesce(CAST(st.ProductId AS VARCHAR), g.ProductId) AS ProductId,
        coalesce(CAST(st.Team AS VARCHAR), g.Team) AS Team,
        coalesce(CAST(st.UserId AS VARCHAR), g.UserId) AS UserId,
        coalesce(CAST(st.CallerIpAddress AS VARCHAR), g.CallerIpAddress) AS CallerIpAddress,
        coalesce(CAST(st.ApiId AS VARCHAR), g.ApiId) AS ApiId,
        coalesce(CAST(st.BackendId AS VARCHAR), g.BackendId) AS BackendId,
        coalesce(CAST(st.BackendTier AS VARCHAR), g.BackendTier) AS BackendTier,
        coalesce(CAST(st.ResponseCode AS INTEGER), g.ResponseCode) AS ResponseCode,
        coalesce(CAST(st.BackendResponseCode AS INTEGER), g.BackendResponseCode) AS BackendResponseCode,
        coalesce(CAST(st.TotalTime AS DOUBLE), g.TotalTime) AS TotalTime,
        coalesce(CAST(st.BackendTime AS DOUBLE), g.BackendTime) AS BackendTime)
    FROM stage st LEFT JOIN apim_gateway_logs g ON g.CorrelationId = CAST(st.CorrelationId AS VARCHAR)
) s
ANTI JOIN records r ON r.request_id = CAST(s.CorrelationId AS VARCHAR)
WHERE s.CorrelationId IS NOT NULL AND s.TimeGenerated IS NOT NULL
ORDER BY s.CorrelationId, coalesce(CAST(s.SequenceNumber AS INTEGER), 0);

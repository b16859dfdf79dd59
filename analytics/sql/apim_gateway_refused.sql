-- Records for the requests of a gateway-log-only APIM export (stage) that
-- the gateway refused (a token limit's 429, a quota's 403): demand that
-- reached no backend, so the LLM log may have no row for it. Their tokens
-- are estimated from the request's size and max_tokens, flagged; the model
-- is the deployment the URL names until an LLM log row says more.
-- {{typed}} is the stage's columns cast to their types.
INSERT INTO records
WITH typed AS (SELECT {{typed}} FROM stage),
refused AS (
    SELECT DISTINCT ON (s.CorrelationId) s.*,
        regexp_extract(s.Url, '/deployments/([^/?]+)', 1) AS deployment,
        body_max_tokens(s.RequestBody) AS max_tokens
    FROM typed s
    WHERE s.CorrelationId IS NOT NULL AND s.TimeGenerated IS NOT NULL
      AND apim_refused(s.ResponseCode, s.BackendResponseCode)
    ORDER BY s.CorrelationId, s.TimeGenerated
)
SELECT
    1, s.TimeGenerated, s.CorrelationId, NULL, s.Region,
    s.ApimSubscriptionId, s.ProductId, coalesce(nullif(s.Team, ''), s.ProductId, s.ApimSubscriptionId),
    s.UserId, s.CallerIpAddress, s.ApimSubscriptionId, s.ApiId,
    nullif(s.deployment, ''), nullif(s.BackendId, ''), nullif(lower(s.BackendTier), ''),
    coalesce(bytes_to_tokens(s.RequestSize), 0), coalesce(s.max_tokens, 0),
    coalesce(bytes_to_tokens(s.RequestSize), 0) + coalesce(s.max_tokens, 0), 0,
    coalesce(s.RequestSize, 0) > 0, s.ResponseCode, apim_outcome(s.ResponseCode, s.BackendResponseCode),
    NULL, NULL, NULL, NULL, s.TotalTime, s.BackendTime, NULL, NULL, NULL, NULL, NULL,
    MAP {'source': 'apim', 'deployment': coalesce(s.deployment, ''),
         'request_bytes': coalesce(CAST(s.RequestSize AS VARCHAR), '')}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM refused s
ANTI JOIN records r ON r.request_id = s.CorrelationId;

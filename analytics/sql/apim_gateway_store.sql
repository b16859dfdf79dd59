-- Keep the rows of a gateway-log-only APIM export (stage) for joining with
-- LLM log rows, one per CorrelationId. {{typed}} is the stage's columns
-- cast to their types.
INSERT INTO apim_gateway_logs (CorrelationId, ApimSubscriptionId, ProductId, Team, UserId, CallerIpAddress,
    ApiId, BackendId, BackendTier, ResponseCode, BackendResponseCode, TotalTime, BackendTime,
    Url, RequestSize, MaxTokens)
WITH typed AS (SELECT {{typed}} FROM stage)
SELECT DISTINCT ON (s.CorrelationId)
    s.CorrelationId, s.ApimSubscriptionId, s.ProductId, s.Team, s.UserId, s.CallerIpAddress,
    s.ApiId, s.BackendId, s.BackendTier, s.ResponseCode, s.BackendResponseCode, s.TotalTime, s.BackendTime,
    s.Url, s.RequestSize, body_max_tokens(s.RequestBody)
FROM typed s
ANTI JOIN apim_gateway_logs g ON g.CorrelationId = s.CorrelationId
WHERE s.CorrelationId IS NOT NULL;

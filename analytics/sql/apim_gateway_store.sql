-- Keep the rows of a gateway-log-only APIM export (stage) for joining with
-- LLM log rows, one per CorrelationId.
INSERT INTO apim_gateway_logs
SELECT DISTINCT ON (CAST(s.CorrelationId AS VARCHAR))
    CAST(s.CorrelationId AS VARCHAR), CAST(s.ApimSubscriptionId AS VARCHAR), CAST(s.ProductId AS VARCHAR),
    CAST(s.Team AS VARCHAR), CAST(s.UserId AS VARCHAR), CAST(s.CallerIpAddress AS VARCHAR), CAST(s.ApiId AS VARCHAR),
    CAST(s.BackendId AS VARCHAR), CAST(s.BackendTier AS VARCHAR), CAST(s.ResponseCode AS INTEGER),
    CAST(s.BackendResponseCode AS INTEGER), CAST(s.TotalTime AS DOUBLE), CAST(s.BackendTime AS DOUBLE)
FROM stage s
ANTI JOIN apim_gateway_logs g ON g.CorrelationId = CAST(s.CorrelationId AS VARCHAR)
WHERE s.CorrelationId IS NOT NULL;

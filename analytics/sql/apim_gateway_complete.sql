-- Complete APIM records ingested from an LLM log without the gateway log's
-- columns (no subscription yet) from apim_gateway_logs: who called, the
-- status the caller got, and timings.
UPDATE records SET
    subscription_id = g.ApimSubscriptionId,
    counter_key     = g.ApimSubscriptionId,
    product         = coalesce(records.product, g.ProductId),
    team            = coalesce(nullif(g.Team, ''), records.team, g.ProductId, g.ApimSubscriptionId),
    user_id         = coalesce(records.user_id, g.UserId),
    client_ip       = coalesce(records.client_ip, g.CallerIpAddress),
    api             = coalesce(records.api, g.ApiId),
    backend         = coalesce(nullif(g.BackendId, ''), records.backend),
    backend_tier    = coalesce(records.backend_tier, nullif(lower(g.BackendTier), '')),
    status          = coalesce(g.ResponseCode, records.status),
    outcome         = CASE
        WHEN g.ResponseCode IS NULL OR g.ResponseCode BETWEEN 200 AND 299 THEN records.outcome
        WHEN g.ResponseCode = 429 AND coalesce(g.BackendResponseCode, 0) = 429 THEN 'backend_throttled'
        WHEN g.ResponseCode = 429 THEN 'throttled'
        WHEN g.ResponseCode = 401 THEN 'unauthorized'
        WHEN g.ResponseCode = 403 THEN 'quota_exceeded'
        WHEN g.ResponseCode BETWEEN 400 AND 499 THEN 'bad_request'
        ELSE 'backend_error' END,
    latency_ms         = coalesce(records.latency_ms, g.TotalTime),
    backend_latency_ms = coalesce(records.backend_latency_ms, g.BackendTime)
FROM apim_gateway_logs g
WHERE records.request_id = g.CorrelationId
  AND records.subscription_id IS NULL
  AND records.dims['source'] = 'apim';

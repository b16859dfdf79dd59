-- Complete APIM records ingested from an LLM log without the gateway log's
-- columns (no subscription yet) from apim_gateway_logs: who called, the
-- status the caller got (and the outcome derived from it), and timings. A
-- request the gateway refused reached no backend: its backend is cleared
-- and, when the LLM log counted no tokens, its tokens are the estimated
-- demand (bytes_to_tokens(RequestSize) + max_tokens), flagged.
UPDATE records SET
    subscription_id = g.ApimSubscriptionId,
    counter_key     = g.ApimSubscriptionId,
    product         = coalesce(records.product, g.ProductId),
    team            = coalesce(nullif(g.Team, ''), records.team, g.ProductId, g.ApimSubscriptionId),
    user_id         = coalesce(records.user_id, g.UserId),
    client_ip       = coalesce(records.client_ip, g.CallerIpAddress),
    api             = coalesce(records.api, g.ApiId),
    backend         = CASE WHEN apim_refused(g.ResponseCode, g.BackendResponseCode) THEN nullif(g.BackendId, '')
                           ELSE coalesce(nullif(g.BackendId, ''), records.backend) END,
    backend_tier    = coalesce(records.backend_tier, nullif(lower(g.BackendTier), '')),
    status          = coalesce(g.ResponseCode, records.status),
    outcome         = CASE WHEN g.ResponseCode IS NULL THEN records.outcome
                           ELSE apim_outcome(g.ResponseCode, g.BackendResponseCode) END,
    prompt_tokens     = CASE WHEN apim_estimated(g.ResponseCode, g.BackendResponseCode, records.total_tokens, g.RequestSize) THEN bytes_to_tokens(g.RequestSize) ELSE records.prompt_tokens END,
    completion_tokens = CASE WHEN apim_estimated(g.ResponseCode, g.BackendResponseCode, records.total_tokens, g.RequestSize) THEN coalesce(g.MaxTokens, 0) ELSE records.completion_tokens END,
    total_tokens      = CASE WHEN apim_estimated(g.ResponseCode, g.BackendResponseCode, records.total_tokens, g.RequestSize) THEN bytes_to_tokens(g.RequestSize) + coalesce(g.MaxTokens, 0)
                             ELSE records.total_tokens END,
    tokens_estimated  = coalesce(records.tokens_estimated, false) OR apim_estimated(g.ResponseCode, g.BackendResponseCode, records.total_tokens, g.RequestSize),
    dims               = map_concat(records.dims, MAP {'request_bytes': coalesce(CAST(g.RequestSize AS VARCHAR), '')}),
    latency_ms         = coalesce(records.latency_ms, g.TotalTime),
    backend_latency_ms = coalesce(records.backend_latency_ms, g.BackendTime)
FROM apim_gateway_logs g
WHERE records.request_id = g.CorrelationId
  AND records.subscription_id IS NULL
  AND records.dims['source'] = 'apim';

-- Complete APIM records made from a gateway log's refused requests (no LLM
-- log row seen yet: stream is NULL) from the LLM log rows now staged: the
-- model, the deployment, whether it streamed, and counted tokens if any
-- (which replace the estimate). {{typed}} is the stage's columns cast to
-- their types.
UPDATE records SET
    model             = coalesce(l.model, records.model),
    stream            = l.stream,
    prompt_tokens     = CASE WHEN l.total > 0 THEN l.prompt ELSE records.prompt_tokens END,
    completion_tokens = CASE WHEN l.total > 0 THEN l.completion ELSE records.completion_tokens END,
    total_tokens      = CASE WHEN l.total > 0 THEN l.total ELSE records.total_tokens END,
    tokens_estimated  = CASE WHEN l.total > 0 THEN false ELSE records.tokens_estimated END,
    dims              = map_concat(records.dims, MAP {'deployment': coalesce(l.deployment, records.dims['deployment'], '')})
FROM (
    SELECT CorrelationId,
        coalesce(any_value(nullif(ModelName, '')), any_value(nullif(DeploymentName, ''))) AS model,
        any_value(nullif(DeploymentName, '')) AS deployment,
        coalesce(bool_or(IsStreamCompletion), false) AS stream,
        coalesce(max(PromptTokens), 0) AS prompt,
        coalesce(max(CompletionTokens), 0) AS completion,
        coalesce(max(TotalTokens), coalesce(max(PromptTokens), 0) + coalesce(max(CompletionTokens), 0)) AS total
    FROM (SELECT {{typed}} FROM stage)
    WHERE CorrelationId IS NOT NULL
    GROUP BY CorrelationId
) l
WHERE records.request_id = l.CorrelationId
  AND records.stream IS NULL
  AND records.dims['source'] = 'apim';

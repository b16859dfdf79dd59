-- Served usage in a period, per group (team by default), model, backend and
-- tier: the input of chargeback. Only requests answered 'ok' are billed (a 429 from the gateway
-- never reached a backend). Cached tokens are part of prompt_tokens; they are
-- split out here so input is charged as uncached + cached.
-- The semantic cache's embeddings calls (embedding_tokens, on cache hits and
-- misses alike) are billed to the caller's group as input tokens of the
-- embedding model, with no backend and no requests of their own: a cache_hit
-- costs only its embeddings call.
--   $1, $2 period [start, end)
--   $3, $4 the grouping (group_key's grp and dim_name); $5 the name of the
--   group of records without a value, e.g. '(no team)'
SELECT coalesce(nullif(group_key($3, $4, subscription_id, product, team, user_id, dims), ''), $5) AS team,
       coalesce(model, '')                                                 AS model,
       coalesce(backend, '')                                               AS backend,
       CASE WHEN lower(coalesce(backend_tier, '')) = 'ptu' THEN 'ptu' ELSE 'payg' END AS tier,
       count(*)                                                            AS requests,
       sum(greatest(coalesce(prompt_tokens, 0) - coalesce(cached_tokens, 0), 0)) AS uncached_input,
       sum(least(coalesce(cached_tokens, 0), coalesce(prompt_tokens, 0)))  AS cached_input,
       sum(coalesce(completion_tokens, 0))                                 AS output
FROM records
WHERE outcome = 'ok' AND ts >= $1 AND ts < $2
GROUP BY ALL
UNION ALL
SELECT coalesce(nullif(group_key($3, $4, subscription_id, product, team, user_id, dims), ''), $5),
       coalesce(embedding_model, ''), '', 'payg', 0, sum(embedding_tokens), 0, 0
FROM records
WHERE coalesce(embedding_tokens, 0) > 0 AND ts >= $1 AND ts < $2
GROUP BY ALL
ORDER BY ALL;

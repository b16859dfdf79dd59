-- The semantic cache per team, persona, model and embedding model: lookups
-- (requests whose prompt was embedded and looked up), hits (answered from
-- the cache), the tokens the hits were served from the cache (no model
-- processed them) and the embeddings calls' tokens.
SELECT coalesce(team, '')                                  AS team,
       coalesce(persona, '')                               AS persona,
       coalesce(model, '')                                 AS model,
       coalesce(embedding_model, '')                       AS embedding_model,
       count(*)                                            AS lookups,
       count(*) FILTER (WHERE outcome = 'cache_hit')       AS hits,
       -- hits after a token limit carry its limit and count against it
       count(*) FILTER (WHERE outcome = 'cache_hit' AND coalesce(limit_tpm, 0) > 0) AS counted_hits,
       sum(coalesce(cache_prompt_tokens, 0))               AS cache_prompt,
       sum(coalesce(cache_completion_tokens, 0))           AS cache_completion,
       sum(coalesce(embedding_tokens, 0))                  AS embedding_tokens
FROM records
WHERE embedding_model IS NOT NULL OR outcome = 'cache_hit'
GROUP BY ALL
ORDER BY ALL;

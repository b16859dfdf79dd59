-- Prompt and completion lengths of each consumer's served first attempts
-- (counted, not estimated) as $1 quantiles at the middle of equal-mass
-- slices: an empirical distribution drawn from uniformly.
SELECT consumer,
    quantile_disc(prompt_tokens, [(i + 0.5) / $1 FOR i IN range($1)]) AS prompt,
    quantile_disc(completion_tokens, [(i + 0.5) / $1 FOR i IN range($1)]) AS completion
FROM fit_base
WHERE NOT is_retry AND outcome = 'ok' AND NOT tokens_estimated
GROUP BY consumer
ORDER BY consumer;

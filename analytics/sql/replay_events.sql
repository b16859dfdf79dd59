-- The demand events of every consumer for replay through the token limit:
-- first attempts that reached the limit (is_demand), with their total
-- tokens (a throttled record carries the tokens it asked for), among the
-- rows with rowid in [$5, $6). The consumer is given by the hash of its key
-- (consumer_keys.sql lists the keys); rows come in table order, and the
-- caller orders each consumer's events by time.
--   $1 dimension (see dim_key), $2 model ('' = all), $3, $4 range [from, to) or NULL
SELECT hash(dim_key($1, counter_key, subscription_id, product, team, model)) AS h,
       epoch_us(ts) AS at_us,
       coalesce(total_tokens, 0) AS tokens
FROM records
WHERE rowid >= $5 AND rowid < $6
  AND is_demand(attempt, outcome)
  AND ($2 = '' OR model = $2)
  AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
  AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ);

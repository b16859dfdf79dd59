-- The demand events of every consumer for replay through the token limit:
-- first attempts that reached the limit (is_demand), among the rows with
-- rowid in [$5, $6). The consumer is given by the hash of its key
-- (consumer_keys.sql lists the keys), the caller by the hash of its
-- persona; rows come in table order, and the caller orders each
-- consumer's events by time. Per event: arrival (µs), latency (µs), total
-- tokens (a throttled record carries the tokens it asked for), the tokens
-- the gateway charges at completion (the usage of an answered request, a
-- refused one's request if it had been served, 0 for a failed one), prompt
-- tokens, and flags: 1 stream, 2 refused by a quota (403), 4 refused by a
-- token limit (429: its latency is not the answer's).
--   $1 dimension (see dim_key), $2 model ('' = all), $3, $4 range [from, to) or NULL
SELECT hash(dim_key($1, counter_key, subscription_id, product, team, model)) AS h,
       epoch_us(ts) AS at_us,
       CAST(least(greatest(coalesce(latency_ms, 0), 0) * 1000, 2000000000) AS INTEGER) AS lat_us,
       CAST(least(coalesce(total_tokens, 0), 2000000000) AS INTEGER) AS tokens,
       CAST(CASE WHEN outcome IN ('ok', 'throttled') OR (coalesce(outcome, '') = '' AND status BETWEEN 200 AND 299) THEN least(coalesce(total_tokens, 0), 2000000000) ELSE 0 END AS INTEGER) AS charge,
       CAST(least(coalesce(prompt_tokens, 0), coalesce(total_tokens, 0), 2000000000) AS INTEGER) AS prompt,
       CAST((CASE WHEN coalesce(stream, false) THEN 1 ELSE 0 END)
          + (CASE WHEN outcome = 'quota_exceeded' THEN 2 WHEN outcome = 'throttled' THEN 4 ELSE 0 END) AS UTINYINT) AS flags,
       hash(coalesce(persona, '')) AS persona
FROM records
WHERE rowid >= $5 AND rowid < $6
  AND is_demand(attempt, outcome)
  AND ($2 = '' OR model = $2)
  AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
  AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ);

-- The demand events of every consumer for replay through the token limit:
-- first attempts that reached the limit (is_demand), among the rows with
-- rowid in [$5, $6). The consumer is given by the hash of its key
-- (consumer_keys.sql lists the keys); rows come in table order, and the
-- caller orders each consumer's events by time. Four columns, packed to
-- keep the read cheap:
--   at_us   arrival, Unix microseconds
--   tp      total tokens << 32 | prompt tokens (a throttled record carries
--           the tokens it asked for; each clamped to 2^31 - 1)
--   lfc     latency (µs, clamped) << 24 | caller << 8 | flags; flags: 1
--           stream, 2 refused by a quota (403), 4 refused by a token limit
--           (429: its latency is not the answer's), 8 answered with an
--           error (charged nothing). The caller is the position of the
--           persona's hash in a list of hashes that Go writes in place of
--           the callers comment below (literal numbers; 0 = the default caller).
--   $1 dimension (see dim_key), $2 model ('' = all), $3, $4 range [from, to) or NULL
SELECT hash(dim_key($1, counter_key, subscription_id, product, team, model)) AS h,
       epoch_us(ts) AS at_us,
       (least(greatest(coalesce(total_tokens, 0), 0), 2147483647)::BIGINT << 32)
         | least(greatest(coalesce(prompt_tokens, 0), 0), greatest(coalesce(total_tokens, 0), 0), 2147483647)::BIGINT AS tp,
       (least(greatest(coalesce(latency_ms, 0), 0) * 1000, 2147483647)::BIGINT << 24)
         | (/*callers*/::BIGINT << 8)
         | CASE WHEN coalesce(stream, false) THEN 1 ELSE 0 END
         | CASE WHEN outcome = 'quota_exceeded' THEN 2 WHEN outcome = 'throttled' THEN 4 ELSE 0 END
         | CASE WHEN outcome = 'ok' OR outcome = 'throttled' OR (coalesce(outcome, '') = '' AND status BETWEEN 200 AND 299) THEN 0 ELSE 8 END AS lfc
FROM records
WHERE rowid >= $5 AND rowid < $6
  AND is_demand(attempt, outcome)
  AND ($2 = '' OR model = $2)
  AND ($3::TIMESTAMPTZ IS NULL OR ts >= $3::TIMESTAMPTZ)
  AND ($4::TIMESTAMPTZ IS NULL OR ts < $4::TIMESTAMPTZ);

-- Insert the records of one JSONL file ($1) that are not already present
-- (dedupe on request_id), reading with an explicit schema.
INSERT INTO records
SELECT j.*
FROM read_json($1,
    format = 'newline_delimited',
    ignore_errors = true,
    columns = {
        schema: 'INTEGER', ts: 'TIMESTAMPTZ', request_id: 'VARCHAR', run_id: 'VARCHAR',
        gateway_id: 'VARCHAR', subscription_id: 'VARCHAR', product: 'VARCHAR', team: 'VARCHAR',
        user_id: 'VARCHAR', client_ip: 'VARCHAR', counter_key: 'VARCHAR', api: 'VARCHAR',
        model: 'VARCHAR', backend: 'VARCHAR', backend_tier: 'VARCHAR',
        prompt_tokens: 'BIGINT', completion_tokens: 'BIGINT', total_tokens: 'BIGINT',
        cached_tokens: 'BIGINT', tokens_estimated: 'BOOLEAN', status: 'INTEGER', outcome: 'VARCHAR',
        limit_tpm: 'BIGINT', remaining_tokens: 'BIGINT', remaining_quota_tokens: 'BIGINT',
        retry_after_ms: 'BIGINT', latency_ms: 'DOUBLE', backend_latency_ms: 'DOUBLE', ttft_ms: 'DOUBLE',
        stream: 'BOOLEAN', scenario: 'VARCHAR', persona: 'VARCHAR', attempt: 'INTEGER',
        dims: 'MAP(VARCHAR, VARCHAR)'
    }) AS j
WHERE j.request_id IS NOT NULL AND j.ts IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM records r WHERE r.request_id = j.request_id)
QUALIFY row_number() OVER (PARTITION BY j.request_id ORDER BY j.ts) = 1;

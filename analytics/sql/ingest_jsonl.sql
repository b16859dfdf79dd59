-- Insert the records of aiload JSONL files ($1: a path or glob) that are not
-- already present. Every schema version is read with one explicit schema:
-- fields a version lacks are NULL, fields a reader does not know are ignored.
-- Dedupe on request_id against the table (anti join); duplicates within the
-- input are removed afterwards by dedupe_new.sql, which is cheaper than a
-- DISTINCT ON over every column when (as usual) there are none.
INSERT INTO records
SELECT j.*
FROM read_json($1,
    format = 'newline_delimited',
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
        dims: 'MAP(VARCHAR, VARCHAR)', utilization_pct: 'DOUBLE',
        backend_auth: 'VARCHAR', operation: 'VARCHAR',
        backend_attempts: 'STRUCT(backend VARCHAR, status INTEGER, latency_ms DOUBLE)[]',
        cache_prompt_tokens: 'BIGINT', cache_completion_tokens: 'BIGINT',
        embedding_tokens: 'BIGINT', embedding_model: 'VARCHAR'
    }) AS j
ANTI JOIN records r ON r.request_id = j.request_id
WHERE j.request_id IS NOT NULL AND j.ts IS NOT NULL;

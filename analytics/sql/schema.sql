-- Analytics works in UTC whatever the machine's time zone: timestamps
-- without a zone (LiteLLM's Postgres export) are read as UTC.
SET GLOBAL TimeZone = 'UTC';

-- The records table: one row per token-metric record (schema 1).
CREATE TABLE IF NOT EXISTS records (
    schema                 INTEGER,
    ts                     TIMESTAMPTZ NOT NULL,
    request_id             VARCHAR NOT NULL,
    run_id                 VARCHAR,
    gateway_id             VARCHAR,
    subscription_id        VARCHAR,
    product                VARCHAR,
    team                   VARCHAR,
    user_id                VARCHAR,
    client_ip              VARCHAR,
    counter_key            VARCHAR,
    api                    VARCHAR,
    model                  VARCHAR,
    backend                VARCHAR,
    backend_tier           VARCHAR,
    prompt_tokens          BIGINT,
    completion_tokens      BIGINT,
    total_tokens           BIGINT,
    cached_tokens          BIGINT,
    tokens_estimated       BOOLEAN,
    status                 INTEGER,
    outcome                VARCHAR,
    limit_tpm              BIGINT,
    remaining_tokens       BIGINT,
    remaining_quota_tokens BIGINT,
    retry_after_ms         BIGINT,
    latency_ms             DOUBLE,
    backend_latency_ms     DOUBLE,
    ttft_ms                DOUBLE,
    stream                 BOOLEAN,
    scenario               VARCHAR,
    persona                VARCHAR,
    attempt                INTEGER,
    dims                   MAP(VARCHAR, VARCHAR)
);

-- Columns of records added after its first version: the utilization a
-- provisioned backend reported with the answer, in percent (NULL when it
-- reported none, and in records written before it was kept).
ALTER TABLE records ADD COLUMN IF NOT EXISTS utilization_pct DOUBLE;
-- How the gateway authenticated to the backend (api_key, bearer,
-- managed_identity, client_credentials); NULL in older records.
ALTER TABLE records ADD COLUMN IF NOT EXISTS backend_auth VARCHAR;
-- The API operation: chat, responses, completions or embeddings; NULL in
-- older records (chat completions).
ALTER TABLE records ADD COLUMN IF NOT EXISTS operation VARCHAR;
-- Every backend attempt of the request, in order (the last one relayed):
-- spill-over from a PTU's 429 to pay-as-you-go shows as two; NULL when no
-- backend was called and in older records.
ALTER TABLE records ADD COLUMN IF NOT EXISTS backend_attempts STRUCT(backend VARCHAR, status INTEGER, latency_ms DOUBLE)[];
-- The semantic cache: on a cache_hit, the usage of the cached answer served
-- (no model processed it); on every lookup, the embeddings call's tokens and
-- model. NULL when absent and in older records.
ALTER TABLE records ADD COLUMN IF NOT EXISTS cache_prompt_tokens BIGINT;
ALTER TABLE records ADD COLUMN IF NOT EXISTS cache_completion_tokens BIGINT;
ALTER TABLE records ADD COLUMN IF NOT EXISTS embedding_tokens BIGINT;
ALTER TABLE records ADD COLUMN IF NOT EXISTS embedding_model VARCHAR;

-- The value of a record's dimension, as demand series and recommendations
-- key them: 'counter_key' (the subscription when no counter key was
-- recorded), 'subscription', 'product', 'team' or 'model'; '' when unset.
CREATE OR REPLACE MACRO dim_key(dim, counter_key, subscription_id, product, team, model) AS
    coalesce(CASE dim
        WHEN 'counter_key'  THEN coalesce(nullif(counter_key, ''), subscription_id)
        WHEN 'subscription' THEN subscription_id
        WHEN 'product'      THEN product
        WHEN 'team'         THEN team
        WHEN 'model'        THEN model
    END, '');

-- The value of the column a bill is split by (analytics.Grouping): grp is
-- 'team', 'subscription', 'product', 'user' or 'dims' (then the dimension
-- dim_name, e.g. 'sub.cost_center'); '' when unset.
CREATE OR REPLACE MACRO group_key(grp, dim_name, subscription_id, product, team, user_id, dims) AS
    coalesce(CASE grp
        WHEN 'team'         THEN team
        WHEN 'subscription' THEN subscription_id
        WHEN 'product'      THEN product
        WHEN 'user'         THEN user_id
        WHEN 'dims'         THEN dims[dim_name]
    END, '');

-- Whether a record is demand on a token limit: a first attempt (attempt
-- NULL, 0 or 1) that was not rejected before the limit (401/403/400).
CREATE OR REPLACE MACRO is_demand(attempt, outcome) AS
    coalesce(attempt, 1) <= 1 AND coalesce(outcome, '') NOT IN ('unauthorized', 'forbidden', 'bad_request');

-- API Management gateway log rows (ApiManagementGatewayLogs) exported on
-- their own, kept to complete the LLM log's records (joined on
-- CorrelationId) whichever file is ingested first.
CREATE TABLE IF NOT EXISTS apim_gateway_logs (
    CorrelationId       VARCHAR PRIMARY KEY,
    ApimSubscriptionId  VARCHAR,
    ProductId           VARCHAR,
    Team                VARCHAR,
    UserId              VARCHAR,
    CallerIpAddress     VARCHAR,
    ApiId               VARCHAR,
    BackendId           VARCHAR,
    BackendTier         VARCHAR,
    ResponseCode        INTEGER,
    BackendResponseCode INTEGER,
    TotalTime           DOUBLE,
    BackendTime         DOUBLE
);

-- Columns of apim_gateway_logs added after its first version: the request
-- URL (it names the deployment), its size in bytes and the max_tokens of a
-- logged request body, from which a request the gateway refused is
-- estimated.
ALTER TABLE apim_gateway_logs ADD COLUMN IF NOT EXISTS Url VARCHAR;
ALTER TABLE apim_gateway_logs ADD COLUMN IF NOT EXISTS RequestSize BIGINT;
ALTER TABLE apim_gateway_logs ADD COLUMN IF NOT EXISTS MaxTokens BIGINT;

-- The outcome of an API Management request from the status the caller got
-- and the backend's: 429 from the backend is backend_throttled, from the
-- gateway's token limit throttled; 403 is a token quota.
CREATE OR REPLACE MACRO apim_outcome(code, backend_code) AS CASE
    WHEN code IS NULL OR code BETWEEN 200 AND 299 THEN 'ok'
    WHEN code = 429 AND coalesce(backend_code, 0) = 429 THEN 'backend_throttled'
    WHEN code = 429 THEN 'throttled'
    WHEN code = 401 THEN 'unauthorized'
    WHEN code = 403 THEN 'quota_exceeded'
    WHEN code BETWEEN 400 AND 499 THEN 'bad_request'
    ELSE 'backend_error' END;

-- Whether API Management refused a request before any backend saw it (a
-- token limit's 429 or a quota's 403).
CREATE OR REPLACE MACRO apim_refused(code, backend_code) AS
    apim_outcome(code, backend_code) IN ('throttled', 'quota_exceeded');

-- The tokens a refused request asked for, estimated from its size: about
-- four bytes of request per prompt token.
CREATE OR REPLACE MACRO bytes_to_tokens(n) AS CAST(ceil(n / 4.0) AS BIGINT);

-- The max_tokens (or max_completion_tokens) of a JSON request body, NULL
-- when the body is not logged or names none.
CREATE OR REPLACE MACRO body_max_tokens(body) AS TRY_CAST(coalesce(
    json_extract_string(TRY_CAST(body AS JSON), '$.max_tokens'),
    json_extract_string(TRY_CAST(body AS JSON), '$.max_completion_tokens')) AS BIGINT);

-- Whether an APIM request's tokens are estimated: refused by the gateway,
-- no tokens counted, and its size known.
CREATE OR REPLACE MACRO apim_estimated(code, backend_code, tokens, size) AS
    apim_refused(code, backend_code) AND coalesce(tokens, 0) = 0 AND coalesce(size, 0) > 0;

-- A JSON document from an export's column, whatever shape the reader gave
-- it: an object or array (STRUCT, MAP, LIST, JSON) as it is, a text
-- holding JSON (CSV, or a field serialised as a string) parsed; NULL when
-- the text is not JSON.
CREATE OR REPLACE MACRO json_doc(x) AS CASE
    WHEN json_type(to_json(x)) = 'VARCHAR' THEN json(TRY_CAST(to_json(x)->>'$' AS JSON))
    ELSE to_json(x) END;

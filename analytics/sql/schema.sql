-- Analytics works in UTC whatever the machine's time zone: timestamps
-- without a zone (LiteLLM's Postgres export) are read as UTC.
SET GLOBAL TimeZone = 'UTC';

-- The records table: one row per token-metric record (schema 1).
-- The string columns that hold a few distinct values per row group (names
-- of runs, gateways, teams, models, outcomes, ...) are dictionary-encoded
-- without trying other methods: DuckDB otherwise also analyses FSST for
-- every string column of every row group it writes, about 15% of the CPU
-- time of an ingest, only to choose the dictionary. request_id, unique per
-- record, is FSST-encoded without building a dictionary of every id first
-- (another 5%). user_id and client_ip, few-valued or unique depending on the
-- traffic, keep the automatic choice. Each falls back to no compression
-- when its method does not pay.
CREATE TABLE IF NOT EXISTS records (
    schema                 INTEGER,
    ts                     TIMESTAMPTZ NOT NULL,
    request_id             VARCHAR NOT NULL USING COMPRESSION fsst,
    run_id                 VARCHAR USING COMPRESSION dictionary,
    gateway_id             VARCHAR USING COMPRESSION dictionary,
    subscription_id        VARCHAR USING COMPRESSION dictionary,
    product                VARCHAR USING COMPRESSION dictionary,
    team                   VARCHAR USING COMPRESSION dictionary,
    user_id                VARCHAR,
    client_ip              VARCHAR,
    counter_key            VARCHAR USING COMPRESSION dictionary,
    api                    VARCHAR USING COMPRESSION dictionary,
    model                  VARCHAR USING COMPRESSION dictionary,
    backend                VARCHAR USING COMPRESSION dictionary,
    backend_tier           VARCHAR USING COMPRESSION dictionary,
    prompt_tokens          BIGINT,
    completion_tokens      BIGINT,
    total_tokens           BIGINT,
    cached_tokens          BIGINT,
    tokens_estimated       BOOLEAN,
    status                 INTEGER,
    outcome                VARCHAR USING COMPRESSION dictionary,
    limit_tpm              BIGINT,
    remaining_tokens       BIGINT,
    remaining_quota_tokens BIGINT,
    retry_after_ms         BIGINT,
    latency_ms             DOUBLE,
    backend_latency_ms     DOUBLE,
    ttft_ms                DOUBLE,
    stream                 BOOLEAN,
    scenario               VARCHAR USING COMPRESSION dictionary,
    persona                VARCHAR USING COMPRESSION dictionary,
    attempt                INTEGER,
    dims                   MAP(VARCHAR, VARCHAR)
);

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

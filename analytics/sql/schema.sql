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
